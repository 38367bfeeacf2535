"""Request mode's git work against the real git smart-HTTP server: commit on the fetched base, push
only the new objects, idempotent retries, no-op trees, subdirectories; the request rules with a
recording forge."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_hisham.export.errors import InvalidValueError
from airflow_provider_hisham.export.pull_request import (
    BaseBranchMissingError,
    ChangeRequest,
    RequestSpec,
    branch_for_run,
    check_spec,
    check_subdir,
    commit_on_base,
    publish_request,
)
from tests.export.test_git import server_credentials
from tests.servers.repo_fixtures import *  # noqa: F403 - fixtures
from tests.servers.repo_fixtures import write_project

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def seed_repository(server, path: str, tmp: Path, files: dict[str, str], branch: str = "main",
                    copy_from: Path | None = None) -> str:
    """A served repository whose ``branch`` holds ``files`` or a copy of ``copy_from`` (plain git)."""
    bare = server.create_bare(path)
    work = tmp / f"seed-{path.replace('/', '-')}"
    if copy_from:
        shutil.copytree(copy_from, work)
    work.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    env = {"GIT_AUTHOR_NAME": "p", "GIT_AUTHOR_EMAIL": "p@x", "GIT_COMMITTER_NAME": "p", "GIT_COMMITTER_EMAIL": "p@x",
           "HOME": str(tmp), "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q", "-b", branch], ["add", "-A"], ["commit", "-q", "-m", "base"],
                 ["push", "-q", str(bare), f"HEAD:refs/heads/{branch}"]):
        subprocess.run(["git", *args], cwd=work, env=env, check=True, capture_output=True)
    return server.head(path, branch)


def _show(server, path: str, rev: str, *args: str) -> str:
    return subprocess.run(["git", "-C", str(server.root / f"{path}.git"), *args, rev], capture_output=True,
                          text=True, check=True).stdout


def test_commit_on_base_pushes_a_child_of_the_base_and_retries_are_noops(git_server, make_project, tmp_path):
    base = seed_repository(git_server, "pr/one", tmp_path, {"README.md": "# old\n", "keep.txt": "x\n"})
    src = make_project(4, "gen")
    url, creds = git_server.repo_url("pr/one"), server_credentials(git_server)
    kwargs = dict(base_branch="main", head_branch="hisham/run-1", message="Generated", date=WHEN, credentials=creds)
    first = commit_on_base(src, url, **kwargs)
    assert first.pushed and first.base_sha == base and git_server.head("pr/one", "hisham/run-1") == first.head_sha
    assert _show(git_server, "pr/one", first.head_sha, "log", "--format=%P", "-1").strip() == base
    # The whole tree is the generated one (keep.txt is gone), and the change list says so.
    assert "keep.txt" in first.changed_files and "run.sh" in first.changed_files
    assert "keep.txt" not in _show(git_server, "pr/one", first.head_sha, "ls-tree", "-r", "--name-only")
    # A retry rebuilds the same sha and pushes nothing; the base is still main's.
    again = commit_on_base(src, url, **kwargs)
    assert again.head_sha == first.head_sha and not again.pushed
    assert git_server.head("pr/one", "main") == base


def test_moved_base_rebuilds_the_branch_on_top_of_it(git_server, make_project, tmp_path):
    seed_repository(git_server, "pr/moved", tmp_path, {"a.txt": "1\n"})
    src = make_project(3, "gen")
    url, creds = git_server.repo_url("pr/moved"), server_credentials(git_server)
    kwargs = dict(base_branch="main", head_branch="hisham/r", message="m", date=WHEN, credentials=creds)
    first = commit_on_base(src, url, **kwargs)
    # Someone merges something into main; the re-run commits on the new base and replaces the branch.
    moved = seed_repository(git_server, "pr/moved-other", tmp_path, {"b.txt": "2\n"})
    subprocess.run(["git", "-C", str(git_server.root / "pr/moved.git"), "fetch", "-q",
                    str(git_server.root / "pr/moved-other.git"), "+main:main"], check=True)
    second = commit_on_base(src, url, **kwargs)
    assert second.base_sha == moved and second.head_sha != first.head_sha and second.pushed
    assert git_server.head("pr/moved", "hisham/r") == second.head_sha


def test_subdir_replaces_only_that_folder(git_server, make_project, tmp_path):
    seed_repository(git_server, "pr/mono", tmp_path, {"other/app.py": "A\n", "services/api/old.py": "O\n",
                                                      "README.md": "mono\n"})
    src = make_project(2, "gen")
    result = commit_on_base(src, git_server.repo_url("pr/mono"), base_branch="main", head_branch="hisham/m",
                            subdir="services/api", message="m", date=WHEN, credentials=server_credentials(git_server))
    files = _show(git_server, "pr/mono", result.head_sha, "ls-tree", "-r", "--name-only").split()
    assert "other/app.py" in files and "README.md" in files and "services/api/old.py" not in files
    assert "services/api/run.sh" in files and "services/api/pkg0/module_0.py" in files
    assert all(f.startswith("services/api/") for f in result.changed_files)


def test_tree_equal_to_base_makes_no_commit_and_no_request(git_server, tmp_path):
    src = write_project(tmp_path / "same", 2)
    seed = seed_repository(git_server, "pr/same", tmp_path, {}, copy_from=src)
    result = commit_on_base(src, git_server.repo_url("pr/same"), base_branch="main", head_branch="hisham/s",
                            message="m", credentials=server_credentials(git_server))
    assert result.unchanged and not result.pushed and result.base_sha == seed
    assert git_server.head("pr/same", "hisham/s") is None
    report = publish_request(Recorder(), "o/r", result, RequestSpec("t"))
    assert report.status == "unchanged" and "no request" in report.message and report.request_url is None


def test_missing_base_and_bad_values_are_refused_before_any_push(git_server, make_project):
    git_server.create_bare("pr/empty")
    src = make_project(1, "gen")
    with pytest.raises(BaseBranchMissingError, match="base_branch 'main' does not exist"):
        commit_on_base(src, git_server.repo_url("pr/empty"), base_branch="main", head_branch="h", message="m",
                       credentials=server_credentials(git_server))
    for bad in ("../x", "/abs", "a/.git/b", "a/../b", "-x/\x00"):
        with pytest.raises(InvalidValueError, match="subdir"):
            check_subdir(bad)
    with pytest.raises(InvalidValueError, match="head_branch"):
        commit_on_base(src, git_server.repo_url("pr/empty"), base_branch="main", head_branch="main", message="m")
    with pytest.raises(InvalidValueError, match="title"):
        check_spec(RequestSpec("two\nlines"))
    assert check_subdir("services/api/") == "services/api" and check_subdir(".") == ""


def test_branch_for_run_is_a_valid_stable_name():
    name = branch_for_run("my_dag", "manual__2026-12-02T00:00:00+00:00")
    assert name == "hisham/my_dag/manual__2026-12-02T00-00-00-00-00"
    assert branch_for_run("d", "x..y.lock") == "hisham/d/x-y-lock"


class Recorder:
    """A forge keeping requests in memory (the hooks' own tests use the API stand-ins)."""

    def __init__(self, state: str | None = None):
        self.requests: list[ChangeRequest] = []
        self.calls: list[str] = []
        if state:
            self.requests.append(ChangeRequest(7, "http://forge/pr/7", state, "h", "main"))

    def find_request(self, repository, head_branch):
        self.calls.append("find")
        return next((r for r in reversed(self.requests) if r.head_branch == head_branch), None)

    def open_request(self, repository, head_branch, base_branch, spec):
        self.calls.append("open")
        self.requests.append(ChangeRequest(len(self.requests) + 1, f"http://forge/pr/{len(self.requests) + 1}",
                                           "open", head_branch, base_branch, spec.title, spec.draft))
        return self.requests[-1]

    def update_request(self, repository, request, spec):
        self.calls.append("update")
        return request


@pytest.mark.parametrize("state", ["merged", "closed"])
def test_merged_or_closed_request_is_reported_not_reopened(state):
    from airflow_provider_hisham.export.pull_request import BranchCommit

    forge = Recorder(state)
    report = publish_request(forge, "o/r", BranchCommit("main", "a" * 40, "h", "b" * 40, True), RequestSpec("t"))
    assert report.status == state and forge.calls == ["find"] and len(forge.requests) == 1
    assert "not reopened" in report.message and report.request_number == 7


def test_open_then_update_never_a_second_request():
    from airflow_provider_hisham.export.pull_request import BranchCommit

    forge = Recorder()
    commit = BranchCommit("main", "a" * 40, "h", "b" * 40, True)
    assert publish_request(forge, "o/r", commit, RequestSpec("t")).status == "opened"
    assert publish_request(forge, "o/r", commit, RequestSpec("t")).status == "updated"
    assert len(forge.requests) == 1
    generic = publish_request(None, "url", commit, RequestSpec("t"))
    assert generic.status == "pushed" and "no request API" in generic.message
