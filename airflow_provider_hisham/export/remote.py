"""Pick or create the remote repository for an export, honouring ``on_conflict``, idempotently.

The hosting service (GitHub, GitLab) is reached through two callables, so this logic is shared
and testable without any HTTP: ``get(name)`` returns the repository or None, ``create(name)``
creates it or raises ``NameTakenError``; :func:`~airflow_provider_hisham.create_once.create_once`
orders the two. A repository counts as *ours* when its description carries this export's marker
or its default branch already holds our commit: a retried task then reuses it instead of
failing or creating ``name-2``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Callable, Iterator

from airflow_provider_hisham.create_once import create_once
from airflow_provider_hisham.export.errors import (
    ExportError,
    InvalidValueError,
    NameTakenError,
    RepositoryExistsError,
)

log = logging.getLogger(__name__)

ON_CONFLICT = ("fail", "reuse", "suffix")
MAX_SUFFIX = 100
# What GitHub and GitLab both accept as a repository/project path: it becomes part of API paths
# and clone URLs, so nothing that could climb (``..``), start an option or need escaping.
_REPO_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
_NAMESPACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}(/[A-Za-z0-9_][A-Za-z0-9._-]{0,99}){0,19}")


def check_repository_name(name: object, namespace: object = None) -> str:
    """Refuse a repository name or namespace (org/group path) GitHub/GitLab would not take as is."""
    if not isinstance(name, str) or not _REPO_NAME.fullmatch(name) or ".." in name or name.endswith((".git", ".")):
        raise InvalidValueError("repository_name", f"{str(name)[:100]!r} is not a repository name: letters, digits, "
                                                   "'.', '_', '-' (at most 100, not starting with '.' or '-')")
    if namespace is not None and (not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace)
                                  or ".." in namespace):
        raise InvalidValueError("namespace", f"{str(namespace)[:100]!r} is not an organisation or group path")
    return name


@dataclass(frozen=True)
class RemoteRepository:
    """A repository on a hosting service, as far as export needs it."""

    name: str
    web_url: str
    clone_url: str
    default_branch: str | None = None
    description: str | None = None
    id: str | int | None = None
    created: bool = False  # True only from the create call that made it (a lookup gives False)


def _candidates(name: str, on_conflict: str) -> Iterator[str]:
    yield name
    if on_conflict == "suffix":
        for n in range(2, MAX_SUFFIX + 1):
            yield f"{name}-{n}"


def ensure_repository(
    name: str,
    on_conflict: str,
    *,
    get: Callable[[str], RemoteRepository | None],
    create: Callable[[str], RemoteRepository],
    heads: Callable[[RemoteRepository], dict[str, str]],
    commit_sha: str,
    branch: str,
    marker: str,
) -> RemoteRepository:
    """Return the repository to push into, creating it when needed (see module docstring)."""
    if on_conflict not in ON_CONFLICT:
        raise ExportError(f"on_conflict must be one of {', '.join(ON_CONFLICT)}, got {on_conflict!r}")
    for candidate in _candidates(name, on_conflict):
        # Remote state first: a retry finds its own repository. "Name taken" may be our own create
        # whose answer was lost (the client library re-sent it): then the lookup finds it.
        existing = create_once(lambda: get(candidate), lambda: create(candidate),  # noqa: B023 - called here
                               ambiguous=NameTakenError)
        if existing.created:
            return existing
        remote = heads(existing)
        ours = marker in (existing.description or "") or remote.get(branch) == commit_sha
        if ours:
            log.info("repository %s already belongs to this export; reusing it", existing.web_url)
            return existing
        if on_conflict == "reuse" and not remote:
            log.info("repository %s exists and is empty; pushing into it", existing.web_url)
            return existing
        if on_conflict == "suffix":
            log.info("repository name %r is taken; trying the next suffix", candidate)
            continue
        detail = "it already has other commits" if remote else "on_conflict='fail'"
        raise RepositoryExistsError(
            f"repository {candidate!r} already exists ({existing.web_url}) and cannot be used: {detail}; "
            "choose another repository_name or on_conflict='suffix'"
        )
    raise RepositoryExistsError(f"no free name for repository {name!r} up to suffix -{MAX_SUFFIX}")
