"""Errors raised by repository export; messages never contain credentials."""

from __future__ import annotations


class ExportError(Exception):
    """Base class for every repository export failure."""


class GitNotFoundError(ExportError):
    """The ``git`` executable is not installed or not on PATH."""


class GitCommandError(ExportError):
    """A git command failed; ``stderr`` is already scrubbed of credentials."""

    def __init__(self, command: str, status: int, stderr: str) -> None:
        self.command = command
        self.status = status
        self.stderr = stderr
        super().__init__(f"git {command} failed with exit status {status}: {stderr.strip()[-2000:]}")


class PushError(GitCommandError):
    """``git push`` failed after all retries (or with a non-retryable error such as 401)."""


class SourceDirError(ExportError):
    """The folder to export is missing, not a folder, or empty."""


class UnsafeTreeError(SourceDirError):
    """The folder holds something export refuses: a ``.git``, a special file, a link leading out."""

    def __init__(self, root: str, path: str, reason: str) -> None:
        self.root = root
        self.path = path
        super().__init__(f"source_dir {root!r}: {path!r} {reason}")


class InvalidValueError(ExportError, ValueError):
    """A value given to export (branch, author, repository name...) is refused; names the field."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        super().__init__(f"{field} {reason}")


class RemoteURLError(InvalidValueError):
    """A git remote URL is malformed, uses a refused scheme or carries credentials."""


class ForeignHostError(RemoteURLError):
    """A credential would go to a host other than its connection's; nothing was sent."""


class ArchivePathError(InvalidValueError):
    """An archive name or folder would leave the archive root."""


class RepositoryExistsError(ExportError):
    """A repository with the requested name exists and ``on_conflict`` forbids using it."""


class NameTakenError(ExportError):
    """Raised by a hosting service's ``create`` callable when the name is already used."""
