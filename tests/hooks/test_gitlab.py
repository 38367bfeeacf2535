"""GitlabRepositoryHook (python-gitlab) against the GitLab stand-in."""

from __future__ import annotations

import json

import gitlab
import pytest

from airflow_provider_hisham.export.errors import NameTakenError
from airflow_provider_hisham.hooks.gitlab import GitlabRepositoryHook
from airflow_provider_hisham.secrets import encrypt_secret
from tests.servers.repo_fixtures import *  # noqa: F403 - fixtures
from tests.servers.repo_fixtures import TOKEN
from tests.export.fixtures import github_conn, gitlab_conn  # noqa: F401, E402 - with git_host


@pytest.fixture
def hook(gitlab_conn):
    return GitlabRepositoryHook(gitlab_conn)


def test_connection(hook):
    assert hook.test_connection() == (True, "Connected to GitLab as gl-user")


def test_create_get_conflict_and_branch(hook, gitlab_api, make_project):
    from airflow_provider_hisham.export.git import commit_tree, push

    assert hook.get_repository("gl-demo") is None
    project = hook.create_repository("gl-demo", description="d [m]")
    assert project.created and project.web_url.endswith("/gl-user/gl-demo")
    body = gitlab_api.state.requests[-1][3]
    assert body == {"name": "gl-demo", "path": "gl-demo", "visibility": "private",
                    "initialize_with_readme": False, "description": "d [m]"}
    assert hook.get_repository("gl-demo").id == project.id
    with pytest.raises(NameTakenError):
        hook.create_repository("gl-demo")
    src = make_project(2)
    sha = commit_tree(src)
    push(src, project.clone_url, sha, ["main"], hook.push_credentials())
    assert hook.create_branch(project.id, "develop", sha) is True
    assert hook.create_branch(project.id, "develop", sha) is False
    assert gitlab_api.state.git.head("gl-user/gl-demo", "develop") == sha


def test_group_namespace(hook, gitlab_api):
    project = hook.create_repository("grp-demo", "hisham-group", private=False)
    assert project.web_url.endswith("/hisham-group/grp-demo")
    assert gitlab_api.state.requests[-1][3]["namespace_id"] == 42
    assert hook.get_repository("grp-demo", "hisham-group").id == project.id


def test_429_and_5xx_are_retried(hook, gitlab_api, forge_retry_waits):
    # python-gitlab offers no sleep hook: forge_retry_waits gives its utils module a recording clock.
    waits = forge_retry_waits
    gitlab_api.state.fail_next("POST", "/api/v4/projects", "429")
    gitlab_api.state.fail_next("POST", "/api/v4/projects", "5xx")
    assert hook.create_repository("gl-retry").created
    assert waits == [1, 2 ** 1 * 0.1]  # Retry-After: 1 honoured, then python-gitlab's backoff for the 502
    assert [s for m, p, s, _ in gitlab_api.state.requests if p == "/api/v4/projects"][-3:] == [429, 502, 201]


def test_bad_token_and_oauth(gitlab_api, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_GL_BAD", json.dumps({"conn_type": "gitlab", "host": gitlab_api.url,
                                                          "password": "glpat-wrong"}))
    ok, message = GitlabRepositoryHook("gl_bad").test_connection()
    assert not ok and "401" in message
    with pytest.raises(gitlab.exceptions.GitlabAuthenticationError):
        GitlabRepositoryHook("gl_bad").create_repository("never")
    monkeypatch.setenv("AIRFLOW_CONN_GL_OAUTH", json.dumps({"conn_type": "gitlab", "host": gitlab_api.url,
                                                            "password": TOKEN, "extra": {"token_type": "oauth"}}))
    assert GitlabRepositoryHook("gl_oauth").test_connection()[0]


def test_an_undecrypted_fernet_token_is_refused(gitlab_api, monkeypatch):
    from cryptography.fernet import Fernet

    monkeypatch.setenv("AIRFLOW_CONN_GL_ENC", json.dumps({"conn_type": "gitlab", "host": gitlab_api.url,
                                                          "password": encrypt_secret(TOKEN, Fernet.generate_key().decode())}))
    with pytest.raises(ValueError, match="connection 'gl_enc': field 'password' is an encrypted fernet: value"):
        GitlabRepositoryHook("gl_enc").get_conn()


def test_push_credentials_are_bound_to_the_gitlab_host(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_GITLAB_ORIGIN", json.dumps(
        {"conn_type": "gitlab", "host": "https://gitlab.example.com/prefix", "password": TOKEN}))
    assert str(GitlabRepositoryHook("gitlab_origin").push_credentials().origin) == "https://gitlab.example.com:443"
    monkeypatch.setenv("AIRFLOW_CONN_GITLAB_ORIGIN", json.dumps(
        {"conn_type": "gitlab", "host": "https://gitlab.example.com", "password": TOKEN,
         "extra": {"git_host": "http://git.internal:8080"}}))
    assert str(GitlabRepositoryHook("gitlab_origin").push_credentials().origin) == "http://git.internal:8080"


@pytest.mark.parametrize("value, verify", [("off", False), ("yes", True), (False, False)])
def test_verify_ssl_uses_the_one_boolean_parser(monkeypatch, value, verify):
    monkeypatch.setenv("AIRFLOW_CONN_GL_VERIFY", json.dumps({"conn_type": "gitlab", "host": "https://gitlab.example.com",
                                                             "password": TOKEN, "extra": {"verify_ssl": value}}))
    assert GitlabRepositoryHook("gl_verify").get_conn().ssl_verify is verify


def test_an_unknown_verify_ssl_is_refused(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_GL_VERIFY", json.dumps({"conn_type": "gitlab", "host": "https://gitlab.example.com",
                                                             "password": TOKEN, "extra": {"verify_ssl": "offf"}}))
    with pytest.raises(ValueError, match="GitLab connection 'gl_verify': field 'verify_ssl': expected a boolean"):
        GitlabRepositoryHook("gl_verify").get_conn()
