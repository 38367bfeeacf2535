"""RepositoryHost: the GitHub and GitLab hooks both are one, checked at runtime."""

from __future__ import annotations

from airflow_provider_hisham.export.host import RepositoryHost
from tests.servers.repo_fixtures import *  # noqa: F403 - fixtures


def test_the_github_and_gitlab_hooks_are_repository_hosts(github_conn, gitlab_conn):
    from airflow_provider_hisham.hooks.github import GithubRepositoryHook
    from airflow_provider_hisham.hooks.gitlab import GitlabRepositoryHook

    github, gitlab = GithubRepositoryHook(github_conn), GitlabRepositoryHook(gitlab_conn)
    assert isinstance(github, RepositoryHost) and isinstance(gitlab, RepositoryHost)
    # GitLab takes topics in its create request; GitHub gets them after the first push.
    assert (github.topics_at_creation, gitlab.topics_at_creation) == (False, True)


def test_an_object_lacking_a_host_call_is_not_one():
    class NoRequests:
        topics_at_creation = False

        def get_repository(self, name, namespace=None): ...
        def create_repository(self, name, namespace=None, **kwargs): ...
        def create_branch(self, repository, branch, sha): ...
        def push_credentials(self): ...

    assert not isinstance(NoRequests(), RepositoryHost)  # no settings or request calls
