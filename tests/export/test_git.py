"""Git export against a real git smart-HTTP server (nginx + git-http-backend) on 127.0.0.1."""

from __future__ import annotations

import subprocess
import threading
from datetime import datetime, timezone

import pytest

from airflow_provider_hisham.export import GitNotFoundError, PushError, SourceDirError
from airflow_provider_hisham.export.errors import ExportError
from airflow_provider_hisham.export.git import GitCredentials, check_url, commit_tree, push, remote_heads
from tests.servers.repo_fixtures import *  # noqa: F403 - fixtures
from tests.servers.repo_fixtures import TOKEN

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


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


def test_url_with_password_is_rejected():
    with pytest.raises(ExportError, match="contains a password") as info:
        check_url(f"https://x:{TOKEN}@example.com/a.git")
    assert TOKEN not in str(info.value)


def test_push_with_token_header_then_noop(git_server, make_project):
    src = make_project(20)
    git_server.create_bare("team/push-ok")
    url = git_server.repo_url("team/push-ok")
    sha = commit_tree(src, date=WHEN)
    creds = GitCredentials("x-access-token", TOKEN)
    assert push(src, url, sha, ["main", "develop"], creds) is True
    assert git_server.head("team/push-ok") == sha
    assert git_server.head("team/push-ok", "develop") == sha
    assert remote_heads(url, creds) == {"main": sha, "develop": sha}
    assert push(src, url, sha, ["main"], creds) is False  # already there: nothing pushed
    assert TOKEN not in (src / ".git" / "config").read_text()


def test_wrong_token_fails_fast_without_leaking(git_server, make_project):
    src = make_project(2)
    git_server.create_bare("team/push-denied")
    sha = commit_tree(src, date=WHEN)
    wrong = "ghp_wrong0token0value0000000000"
    with pytest.raises(PushError) as info:
        push(src, git_server.repo_url("team/push-denied"), sha, ["main"], GitCredentials("x-access-token", wrong),
             retries=3, backoff=5)  # a retry would take >= 5 s: auth failures must not be retried
    assert info.value.status == 128
    assert wrong not in str(info.value)
    assert git_server.head("team/push-denied") is None


def test_failed_push_is_retried_with_backoff(git_server, make_project):
    src = make_project(4)
    git_server.create_bare("team/push-retry")
    sha = commit_tree(src, date=WHEN)
    git_server.stop_backend()  # nginx now answers 502
    timer = threading.Timer(1.0, git_server.start_backend)
    timer.start()
    try:
        assert push(src, git_server.repo_url("team/push-retry"), sha, ["main"],
                    GitCredentials("x-access-token", TOKEN), retries=4, backoff=0.5) is True
    finally:
        timer.join()
    assert git_server.head("team/push-retry") == sha
    log = (git_server.run / "access.log").read_text()
    assert " 502 " in log
