"""Hostile inputs for request mode (issue 13): run-conf values that would climb out of the repository,
read as git options, send the token elsewhere, or smuggle a ``.git`` into the tree. Each runs in a
confined child against real git and the real smart-HTTP server; the refusal names its field, the
remote is untouched and the token appears nowhere in what the child reported."""

from __future__ import annotations

import pytest

from airflow_provider_hisham.export.errors import ForeignHostError, InvalidValueError, UnsafeTreeError
from airflow_provider_hisham.export.git import GitCredentials
from airflow_provider_hisham.export.pull_request import RequestSpec, check_spec, commit_on_base
from airflow_provider_hisham.export.settings import parse_settings
from airflow_provider_hisham.export.urls import connection_origin
from tests.export.test_pull_request import seed_repository
from tests.security.harness import Case, assert_no_secret, assert_refused, run_confined
from tests.servers.repo_fixtures import TOKEN, git_server, write_project  # noqa: F401 - fixture

CASES = [
    Case("subdir-parent", "pull_request", "subdir climbs out of the repository", {"subdir": "../../etc"}),
    Case("subdir-absolute", "pull_request", "absolute subdir", {"subdir": "/etc"}),
    Case("subdir-dotgit", "pull_request", "subdir writes into .git", {"subdir": "a/.git/hooks"}),
    Case("head-option", "pull_request", "head branch read as a git option", {"head_branch": "--upload-pack=touch x"}),
    Case("base-option", "pull_request", "base branch read as a git option", {"base_branch": "-oProxyCommand=x"}),
    Case("head-refspec", "pull_request", "head branch smuggles a refspec", {"head_branch": "x:refs/heads/main"}),
    Case("head-is-base", "pull_request", "pushing over the base branch", {"head_branch": "main"}),
    Case("foreign-url", "pull_request", "the token sent to another host", {"url": "http://127.0.0.2:9/r.git"}),
    Case("planted-git", "pull_request", "a .git folder in the generated tree", {"plant_git": True}),
]
FIELDS = {"subdir-parent": "subdir", "subdir-absolute": "subdir", "subdir-dotgit": "subdir",
          "head-option": "head_branch", "base-option": "base_branch", "head-refspec": "head_branch",
          "head-is-base": "head_branch"}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_pull_request_corpus(case: Case, git_server, tmp_path):  # noqa: F811 - fixture
    path = f"corpus/{case.id}"
    base = seed_repository(git_server, path, tmp_path, {"README.md": "base\n"})
    src = write_project(tmp_path / "gen", 2)
    if case.payload.get("plant_git"):
        (src / ".git").mkdir()
        (src / ".git" / "config").write_text("[core]\n\tfsmonitor = touch /tmp/pwned\n")
    creds = GitCredentials("x-access-token", TOKEN, connection_origin(git_server.url, conn_id="c"), "connection 'c'")
    kwargs = {"base_branch": "main", "head_branch": "hisham/x", "subdir": "", "message": "m", "credentials": creds}
    kwargs.update({k: v for k, v in case.payload.items() if k in kwargs})
    url = case.payload.get("url", git_server.repo_url(path))
    outcome = run_confined(commit_on_base, str(src), url, **kwargs)
    if case.id == "foreign-url":
        assert_refused(outcome, ForeignHostError, "nothing was sent")
    elif case.id == "planted-git":
        assert_refused(outcome, UnsafeTreeError, r"\.git")
    else:
        assert_refused(outcome, InvalidValueError, FIELDS[case.id])
    assert git_server.head(path) == base
    heads = (git_server.root / f"{path}.git" / "refs" / "heads")
    assert sorted(p.name for p in heads.iterdir()) == ["main"]
    assert_no_secret([TOKEN], outcome.message, outcome.traceback)


@pytest.mark.parametrize("spec", [RequestSpec("a\nb"), RequestSpec("t", "x" * 70_000), RequestSpec("t", reviewers=("a\nb",)),
                                  RequestSpec("t", labels=tuple(str(i) for i in range(60)))], ids=["title", "body", "reviewer", "labels"])
def test_request_text_is_bounded(spec):
    assert_refused(run_confined(check_spec, spec), InvalidValueError)


def test_settings_from_conf_are_checked():
    outcome = run_confined(parse_settings, {"topics": ["x" * 10_000] * 10_000})
    assert_refused(outcome, InvalidValueError, "settings.topics")
