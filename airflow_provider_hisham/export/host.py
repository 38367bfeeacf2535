"""The one interface of a repository host with an API (GitHub, GitLab), in plain Python.

Why: the export operators pick a host's hook by ``target`` from one mapping and then call only
these methods, so a host is one hook class plus one mapping entry, never another
``if target == ...`` branch. A generic git remote and archives have no API: they are not hosts.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from airflow_provider_hisham.export.git import GitCredentials
from airflow_provider_hisham.export.pull_request import RequestForge
from airflow_provider_hisham.export.remote import RemoteRepository
from airflow_provider_hisham.export.settings import RepositorySettings, SettingsForge


@runtime_checkable
class RepositoryHost(SettingsForge, RequestForge, Protocol):
    """Repositories, branches, push credentials, after-push settings (``SettingsForge``) and
    pull/merge requests (``RequestForge``) of one hosting service.

    ``namespace`` is the host's owner of repositories (GitHub organisation, GitLab group path;
    None: the token's user). ``repository`` in the other calls is ``RemoteRepository.id``.
    """

    #: True when ``create_repository`` already sets ``settings.topics`` (so the after-push phase must not).
    topics_at_creation: bool

    def get_repository(self, name: str, namespace: str | None = None, /) -> RemoteRepository | None:
        """The repository, or None when it does not exist (``created`` False)."""
        ...

    def create_repository(self, name: str, namespace: str | None = None, /, *, private: bool = True,
                          description: str | None = None,
                          settings: RepositorySettings | None = None) -> RemoteRepository:
        """Create it (``created`` True), with the creation-time ``settings``; ``NameTakenError`` when
        the name is used."""
        ...

    def create_branch(self, repository: Any, branch: str, sha: str, /) -> bool:
        """Create ``branch`` at ``sha``; False when it already exists."""
        ...

    def push_credentials(self) -> GitCredentials:
        """The credentials for ``git push`` to this host's clone URLs, bound to its git origin."""
        ...
