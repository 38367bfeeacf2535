"""Generated projects and archives on object storage (issue 14), and their retention.

Plain Python on an fsspec file system: ``operators`` build the file system through Airflow's
``ObjectStoragePath`` (:mod:`.objectstorage`, the only module here that imports Airflow) and hand
it to :class:`~.store.Store`. The default store is the local generated-projects root itself, where
publishing copies nothing.
"""

from airflow_provider_hisham.storage.errors import (
    IntegrityError,
    NotPublishedError,
    StorageConfigError,
    StorageError,
    StorageUnavailableError,
)
from airflow_provider_hisham.storage.store import Lease, ProjectRef, Store, Version

__all__ = [
    "IntegrityError", "Lease", "NotPublishedError", "ProjectRef", "StorageConfigError", "StorageError",
    "StorageUnavailableError", "Store", "Version",
]
