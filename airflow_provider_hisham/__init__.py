"""Apache Airflow provider for HishamOS workflows.

Importing the package is cheap on purpose: DAG files import it at parse time, so nothing here
pulls python-gitlab or PyGithub.
"""

from __future__ import annotations

from airflow_provider_hisham.get_provider_info import get_provider_info

__all__ = ["__version__", "get_provider_info"]
__version__ = "0.1.0"
