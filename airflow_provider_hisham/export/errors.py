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


class RepositoryExistsError(ExportError):
    """A repository with the requested name exists and ``on_conflict`` forbids using it."""


class NameTakenError(ExportError):
    """Raised by a hosting service's ``create`` callable when the name is already used."""
