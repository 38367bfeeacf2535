"""Git export against a real git smart-HTTP server (nginx + git-http-backend) on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone

import pytest

from airflow_provider_hisham.export import GitNotFoundError, PushError, SourceDirError
from airflow_provider_hisham.export.errors import InvalidValueError, RemoteURLError
from airflow_provider_hisham.export.git import (
    GitCredentials,
    check_branch,
    commit_tree,
    discard_git_dir,
    git_dir_for,
    push,
    remote_heads,
    state_root,
)
from airflow_provider_hisham.export.urls import connection_origin, parse_remote
from tests.servers.repo_fixtures import *  # noqa: F403 - fixtures
from tests.servers.repo_fixtures import TOKEN

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _git(src, *args):
    """Plain git on the repository export keeps for ``src`` (it lives outside ``src``)."""
    return subprocess.run(["git", f"--git-dir={git_dir_for(src)}", *args], cwd=src, capture_output=True, text=True,
                          check=True).stdout.strip()


def server_credentials(server, token=TOKEN) -> GitCredentials:
    """Credentials of a connection whose host is ``server``."""
    return GitCredentials("x-access-token", token, connection_origin(server.url, conn_id="git_test"),
                          "connection 'git_test'")


def test_commit_is_deterministic_and_reruns_are_noops(make_project):
    a = make_project(8, "a")
    b = make_project(8, "b")
    sha_a = commit_tree(a, message="m", author_name="Bot", author_email="bot@x", date=WHEN)
    assert commit_tree(a, message="m", author_name="Bot", author_email="bot@x", date=WHEN) == sha_a
    # Same content elsewhere, same sha; the commit has no parent and the configured author.
    assert commit_tree(b, message="m", author_name="Bot", author_email="bot@x", date=WHEN) == sha_a
    assert _git(a, "log", "--format=%P|%an <%ae>|%at|%cn", "-1") == f"|Bot <bot@x>|{int(WHEN.timestamp())}|Bot"
    assert _git(a, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert int(_git(a, "ls-tree", "-r", "--name-only", "HEAD").count("\n")) + 1 == 10
    assert not (a / ".git").exists() and not git_dir_for(a).is_relative_to(a)
    assert oct(state_root().stat().st_mode & 0o777) == "0o700"
    # A changed file changes the sha.
    (a / "README.md").write_text("changed\n")
    assert commit_tree(a, message="m", author_name="Bot", author_email="bot@x", date=WHEN) != sha_a


def test_default_date_comes_from_content_and_branch_is_configurable(make_project):
    src = make_project(3)
    sha1 = commit_tree(src, branch="trunk")
    sha2 = commit_tree(src, branch="trunk")
    assert sha1 == sha2
    assert _git(src, "symbolic-ref", "HEAD") == "refs/heads/trunk"


def test_missing_git_is_reported_clearly(make_project, monkeypatch):
    src = make_project(1)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("GIT_PYTHON_GIT_EXECUTABLE", raising=False)
    with pytest.raises(GitNotFoundError, match="git is not installed or not on PATH"):
        commit_tree(src)


def test_bad_source_dir(tmp_path):
    with pytest.raises(SourceDirError, match="does not exist"):
        commit_tree(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceDirError, match="is empty"):
        commit_tree(tmp_path / "empty")


@pytest.mark.parametrize("url", [f"https://x:{TOKEN}@example.com/a.git", f"https://{TOKEN}@example.com/a.git"])
def test_url_with_credentials_is_rejected(url):
    with pytest.raises(RemoteURLError, match="git_url for host 'example.com' contains a user name or password") as info:
        parse_remote(url)
    assert TOKEN not in str(info.value)


def test_accepted_remotes_and_origins():
    remote = parse_remote("https://Git.Example.com/team/x.git")
    assert (remote.protocol, str(remote.origin)) == ("https", "https://git.example.com:443")
    assert str(parse_remote("http://127.0.0.1:8080/x.git").origin) == "http://127.0.0.1:8080"
    assert parse_remote("/srv/git/x.git", allow_file=True).protocol == "file"
    assert str(connection_origin("git.example.com", conn_id="c")) == "https://git.example.com:443"
    assert str(connection_origin("127.0.0.1", conn_id="c", schema="http", port=81)) == "http://127.0.0.1:81"
    with pytest.raises(InvalidValueError, match="connection 'c' has no host"):
        connection_origin(None, conn_id="c")


@pytest.mark.parametrize("name", ["-x", "a..b", "a b", "x.lock", "a/", "@", "HEAD", "a~1", "a:b", ""])
def test_bad_branch_names(name):
    with pytest.raises(InvalidValueError, match="^branches "):
        check_branch(name, "branches")


def test_worker_git_environment_and_global_config_are_ignored(make_project, tmp_path, monkeypatch):
    """A hostile ~/.gitconfig, GIT_CONFIG_PARAMETERS or GIT_DIR of the worker does not steer export's git."""
    marker = tmp_path / "ran"
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(f"[core]\n\tfsmonitor = touch {marker}\n\thooksPath = {tmp_path}\n")
    other = tmp_path / "other.git"
    subprocess.run(["git", "init", "-q", "--bare", str(other)], check=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_DIR", str(other))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", f"'core.fsmonitor'='touch {marker}'")
    src = make_project(2)
    sha = commit_tree(src, date=WHEN)
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_CONFIG_PARAMETERS")
    assert _git(src, "rev-parse", "HEAD") == sha
    assert not marker.exists()
    assert subprocess.run(["git", f"--git-dir={other}", "rev-parse", "-q", "--verify", "HEAD"],
                          capture_output=True).returncode != 0  # nothing written there
    discard_git_dir(src)
    assert not git_dir_for(src).exists()


def test_remote_heads_needs_no_source(git_server):
    git_server.create_bare("team/heads-only")
    assert remote_heads(git_server.repo_url("team/heads-only"), server_credentials(git_server)) == {}
    assert os.listdir(state_root())  # the scratch repository lives in the private state folder


def test_push_with_token_header_then_noop(git_server, make_project):
    src = make_project(20)
    git_server.create_bare("team/push-ok")
    url = git_server.repo_url("team/push-ok")
    sha = commit_tree(src, date=WHEN)
    creds = server_credentials(git_server)
    assert push(src, url, sha, ["main", "develop"], creds) is True
    assert git_server.head("team/push-ok") == sha
    assert git_server.head("team/push-ok", "develop") == sha
    assert remote_heads(url, creds, source_dir=src) == {"main": sha, "develop": sha}
    assert push(src, url, sha, ["main"], creds) is False  # already there: nothing pushed
    assert not any(TOKEN.encode() in p.read_bytes() for p in git_dir_for(src).rglob("*") if p.is_file())


def test_wrong_token_fails_fast_without_leaking(git_server, make_project):
    src = make_project(2)
    git_server.create_bare("team/push-denied")
    sha = commit_tree(src, date=WHEN)
    wrong = "ghp_wrong0token0value0000000000"
    waits: list[float] = []
    with pytest.raises(PushError) as info:
        push(src, git_server.repo_url("team/push-denied"), sha, ["main"], server_credentials(git_server, wrong),
             retries=3, backoff=5, sleep=waits.append)
    assert waits == []  # auth failures are not retried
    assert info.value.status == 128
    assert wrong not in str(info.value)
    assert git_server.head("team/push-denied") is None


def test_failed_push_is_retried_with_backoff(git_server, make_project, caplog):
    src = make_project(4)
    git_server.create_bare("team/push-retry")
    sha = commit_tree(src, date=WHEN)
    git_server.stop_backend()  # nginx now answers 502
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # no real wait: the backend comes back during the second backoff
        waits.append(seconds)
        if len(waits) == 2:
            git_server.start_backend()

    with caplog.at_level("WARNING", logger="airflow_provider_hisham.export.git"):
        assert push(src, git_server.repo_url("team/push-retry"), sha, ["main"],
                    server_credentials(git_server), retries=4, backoff=0.5, sleep=sleep) is True
    assert waits == [0.5, 1.0]  # backoff * 2**n
    retried = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert [m.split(", retrying")[0].split("(")[1] for m in retried] == ["attempt 1 of 5)", "attempt 2 of 5)"]
    assert TOKEN not in caplog.text
    assert git_server.head("team/push-retry") == sha


def test_transient_failures_past_the_retries_raise_push_error(git_server, make_project):
    src = make_project(2)
    git_server.create_bare("team/push-down")
    sha = commit_tree(src, date=WHEN)
    git_server.stop_backend()
    waits: list[float] = []
    try:
        with pytest.raises(PushError) as info:
            push(src, git_server.repo_url("team/push-down"), sha, ["main"], server_credentials(git_server),
                 retries=2, backoff=0.25, sleep=waits.append)
    finally:
        git_server.start_backend()
    assert waits == [0.25, 0.5]  # 3 attempts, 2 waits
    assert "502" in info.value.stderr
    assert TOKEN not in str(info.value)
    log = (git_server.run / "access.log").read_text()
    assert " 502 " in log
