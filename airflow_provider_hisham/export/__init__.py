"""Repository export in plain Python (no Airflow): git commit and push, archives, conflicts.

Heavy libraries are imported lazily so that importing this package stays cheap.
"""

from airflow_provider_hisham.export.errors import (
    ExportError,
    GitCommandError,
    GitNotFoundError,
    NameTakenError,
    PushError,
    RepositoryExistsError,
    SourceDirError,
)

__all__ = [
    "ExportError",
    "GitCommandError",
    "GitNotFoundError",
    "NameTakenError",
    "PushError",
    "RepositoryExistsError",
    "SourceDirError",
]
