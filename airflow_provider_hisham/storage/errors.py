"""Errors of the object-storage hand-off; messages name the object, never a credential."""

from __future__ import annotations


class StorageError(Exception):
    """Base class: a project or archive could not be published, fetched or removed."""


class StorageConfigError(StorageError):
    """``[hisham] storage_url`` / a storage reference is malformed or outside the configured location."""


class StorageUnavailableError(StorageError):
    """The storage did not answer or refused a request (network, permissions, missing bucket)."""


class NotPublishedError(StorageError):
    """The version has no ``published.json``: it was never published, its publish did not finish,
    or retention removed it. Nothing of it is read."""


class IntegrityError(StorageError):
    """An object's digest or content differs from what its manifest says (a corrupted object)."""
