"""GithubRepositoryHook against the GitHub stand-in (requests and responses checked against
GitHub's OpenAPI description from @octokit/openapi)."""

from __future__ import annotations

import json

import pytest
import requests
from cryptography.fernet import Fernet
from github import BadCredentialsException
from github.GithubException import RateLimitExceededExceedsMaxWait

from airflow_provider_hisham.export.errors import NameTakenError
from airflow_provider_hisham.hooks.github import GithubRepositoryHook
from airflow_provider_hisham.secrets import encrypt_secret
from tests.servers.repo_fixtures import *  # noqa: F403 - fixtures
from tests.servers.repo_fixtures import TOKEN
from tests.export.fixtures import github_conn, gitlab_conn  # noqa: F401, E402 - with git_host


@pytest.fixture
def waits() -> list[float]:
    """The hook's waits between retries, recorded instead of slept."""
    return []


@pytest.fixture
def hook(github_conn, waits):
    return GithubRepositoryHook(github_conn, backoff_factor=0.1, max_rate_limit_wait=10, sleep=waits.append)


def _count(api, method, path):
    return sum(1 for m, p, _ in api.state.requests if m == method and p == path)


def test_create_get_and_name_taken(hook, github_api):
    assert hook.get_repository("hook-demo") is None
    repo = hook.create_repository("hook-demo", description="demo [marker]")
    assert repo.created and repo.id == "octo-user/hook-demo" and repo.default_branch == "main"
    assert repo.clone_url == github_api.state.git.repo_url("octo-user/hook-demo")
    got = hook.get_repository("hook-demo")
    assert got.web_url == repo.web_url and got.description == "demo [marker]"
    with pytest.raises(NameTakenError, match="'hook-demo' already exists"):
        hook.create_repository("hook-demo")
    assert ("POST", "/user/repos", 422) in github_api.state.requests
    # What the hook met is GitHub's exact body for a duplicate name.
    raw = requests.post(f"{github_api.url}/user/repos", json={"name": "hook-demo"},
                        headers={"Authorization": f"token {TOKEN}"}, timeout=10)
    assert raw.status_code == 422
    assert raw.json()["message"] == "Repository creation failed."
    assert raw.json()["errors"] == [{"resource": "Repository", "code": "custom", "field": "name",
                                     "message": "name already exists on this account"}]


def test_org_repository_and_branch_ref(hook, github_api, make_project):
    from airflow_provider_hisham.export.git import commit_tree, push

    repo = hook.create_repository("org-demo", org="hisham-org", private=False)
    assert repo.id == "hisham-org/org-demo"
    assert hook.get_repository("org-demo", org="hisham-org").name == "org-demo"
    src = make_project(3)
    sha = commit_tree(src)
    push(src, repo.clone_url, sha, ["main"], hook.push_credentials())
    assert hook.create_branch(repo.id, "develop", sha) is True
    assert hook.create_branch(repo.id, "develop", sha) is False  # "Reference already exists"
    assert github_api.state.git.head("hisham-org/org-demo", "develop") == sha


@pytest.mark.parametrize("kind", ["primary", "primary429"])
def test_primary_rate_limit_waits_for_reset(hook, github_api, kind, waits):
    hook.create_repository(f"rl-{kind}")
    github_api.state.fail_next("GET", f"/repos/octo-user/rl-{kind}", kind)
    assert hook.get_repository(f"rl-{kind}") is not None
    # The stand-in sets x-ratelimit-reset to the next whole second (0-1 s away); the hook waits
    # until then plus 1 s, not the backoff (0.1 s) nor PyGithub's secondary-limit wait (60 s).
    assert len(waits) == 1 and 0.9 < waits[0] <= 2.0, waits
    statuses = [s for m, p, s in github_api.state.requests if p == f"/repos/octo-user/rl-{kind}"]
    assert statuses[-2:] == [403 if kind == "primary" else 429, 200]


def test_secondary_rate_limit_and_5xx_are_retried(hook, github_api, waits):
    github_api.state.fail_next("POST", "/user/repos", "secondary")
    github_api.state.fail_next("POST", "/user/repos", "secondary429")
    github_api.state.fail_next("POST", "/user/repos", "5xx", count=2)
    repo = hook.create_repository("rl-secondary")
    assert repo.created
    assert waits[:2] == [1, 1]  # the two retry-after: 1
    # the 502s: urllib3's backoff_factor * 2 ** (errors so far - 1), the rate limits counting as errors
    assert waits[2:] == pytest.approx([0.1 * 2 ** 2, 0.1 * 2 ** 3])
    assert [s for m, p, s in github_api.state.requests if p == "/user/repos"][-5:] == [403, 429, 502, 502, 201]


def test_network_error_is_retried(hook, github_api, waits):
    hook.create_repository("net-drop")
    github_api.state.fail_next("GET", "/repos/octo-user/net-drop", "drop")
    assert hook.get_repository("net-drop").name == "net-drop"
    assert [s for m, p, s in github_api.state.requests if p == "/repos/octo-user/net-drop"][-2:] == [0, 200]
    assert waits == []  # urllib3's backoff before the first retry is 0: resent at once


def test_rate_limit_wait_is_bounded(github_conn, github_api, waits):
    hook = GithubRepositoryHook(github_conn, max_rate_limit_wait=0.5, sleep=waits.append)
    github_api.state.fail_next("GET", "/repos/octo-user/bounded", "primary")
    with pytest.raises(RateLimitExceededExceedsMaxWait):
        hook.get_repository("bounded")
    assert waits == []  # gave up at once rather than wait past the bound


def test_bad_token_is_401(github_api, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_GITHUB_BAD", json.dumps(
        {"conn_type": "github", "host": github_api.url, "password": "ghp_not_the_token",
         "extra": {"seconds_between_requests": 0, "seconds_between_writes": 0}}))  # no PyGithub throttle waits
    hook = GithubRepositoryHook("github_bad")
    with pytest.raises(BadCredentialsException):
        hook.create_repository("never")
    ok, message = hook.test_connection()
    assert not ok and "Bad credentials" in message


def test_an_undecrypted_fernet_token_is_refused_before_anything_is_sent(github_api, monkeypatch):
    """Decryption is the secrets backend's job (tests/test_secrets_backend.py); a ``fernet:`` value
    that reaches the hook was not decrypted, and is refused with how to fix it."""
    key = Fernet.generate_key().decode()
    ciphertext = encrypt_secret(TOKEN, key)
    monkeypatch.setenv("AIRFLOW_CONN_GITHUB_ENC", json.dumps(
        {"conn_type": "github", "host": github_api.url, "password": ciphertext}))
    before = len(github_api.state.requests)
    with pytest.raises(ValueError, match="'password' is an encrypted fernet: value that was not decrypted; "
                                         "configure \\[secrets\\] backend") as info:
        GithubRepositoryHook("github_enc").get_conn()
    assert ciphertext not in str(info.value) and len(github_api.state.requests) == before


def test_traffic_matches_githubs_description(hook, github_api):
    hook.get_repository("nothing-here")
    assert github_api.state.checker.checked > 0
    assert github_api.state.checker.violations == []


@pytest.mark.parametrize("host, extra, origin", [
    (None, {}, "https://github.com:443"),
    ("https://api.github.com", {}, "https://github.com:443"),
    ("https://ghe.example.com/api/v3", {}, "https://ghe.example.com:443"),
    ("https://ghe.example.com/api/v3", {"git_host": "https://git.ghe.example.com:8443"},
     "https://git.ghe.example.com:8443"),
])
def test_push_credentials_are_bound_to_the_git_host(monkeypatch, host, extra, origin):
    monkeypatch.setenv("AIRFLOW_CONN_GITHUB_ORIGIN", json.dumps(
        {"conn_type": "github", "host": host, "password": TOKEN, "extra": extra}))
    assert str(GithubRepositoryHook("github_origin").git_origin()) == origin


def test_clone_url_on_another_host_gets_no_token(hook, make_project):
    from airflow_provider_hisham.export.errors import ForeignHostError
    from airflow_provider_hisham.export.git import commit_tree, push

    src = make_project(1)
    with pytest.raises(ForeignHostError, match=r"http://127\.0\.0\.2:80, which is not http://127\.0\.0\.1:\d+, "
                                               r"the host of connection 'github_test'") as info:
        push(src, "http://127.0.0.2/octo-user/x.git", commit_tree(src), ["main"], hook.push_credentials(),
             field="clone_url")
    assert "clone_url" in str(info.value) and TOKEN not in str(info.value)
