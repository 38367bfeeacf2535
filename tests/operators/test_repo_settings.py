"""HishamOSRepoCreationOperator's ``settings``: applied on creation, a retry leaves what a person changed."""

from __future__ import annotations

import pytest

from tests.conftest import run_dag, xcom
from tests.operators.test_repo_creation import _dag, _ti
from tests.servers.repo_fixtures import *  # noqa: F403 - fixtures
from tests.export.fixtures import github_conn, gitlab_conn  # noqa: F401, E402 - with git_host (after *)

SETTINGS = ("settings={'visibility': 'public', 'description': 'Orders export', 'topics': ['hishamos'], "
            "'delete_branch_on_merge': True, 'protect_branches': ['main'], 'required_reviews': 1, "
            "'required_status_checks': ['ci']}")

# Push retries record their waits instead of sleeping them (the operators' default backoff).
pytestmark = pytest.mark.usefixtures("push_retry_waits")


def test_github_settings_on_creation_and_a_retry_changes_nothing(github_conn, github_api, make_project,
                                                                  push_retry_waits):
    src = make_project(3, "with-settings")
    # The first try creates, pushes and applies; then creating the extra branch fails -> retry.
    github_api.state.fail_next("POST", "/repos/octo-user/with-settings/git/refs", "unauthorized")
    run = run_dag(_dag("gh_settings", f"source_dir={str(src)!r}, target='github', github_conn_id={github_conn!r}, "
                                      f"branches=['develop'], {SETTINGS}", retries=1))
    assert run.state == "success" and _ti(run).try_number == 2
    repo = github_api.state.repos["octo-user/with-settings"]
    assert repo["visibility"] == "public" and repo["delete_branch_on_merge"] is True
    assert repo["description"].startswith("Orders export [hisham-export:")
    assert github_api.state.topics["octo-user/with-settings"] == ["hishamos"]
    assert github_api.state.protections[("octo-user/with-settings", "main")]["required_status_checks"]["contexts"] == ["ci"]
    writes = [(m, p) for m, p, _ in github_api.state.bodies if "with-settings" in p]
    # Topics and protection were sent once: the retry found them present and left them alone.
    assert writes.count(("PUT", "/repos/octo-user/with-settings/topics")) == 1
    assert writes.count(("PUT", "/repos/octo-user/with-settings/branches/main/protection")) == 1
    assert xcom(run, "export")["url"].endswith("/octo-user/with-settings")
    assert github_api.state.checker.violations == []
    assert push_retry_waits == []  # the push went through at once (a retry would be recorded here, not slept)


def test_gitlab_settings_go_with_the_create_request(gitlab_conn, gitlab_api, make_project, push_retry_waits):
    src = make_project(2, "gl-settings")
    run = run_dag(_dag("gl_settings", f"source_dir={str(src)!r}, target='gitlab', gitlab_conn_id={gitlab_conn!r}, "
                                      f"{SETTINGS}"))
    assert run.state == "success"
    create = next(b for m, p, s, b in gitlab_api.state.requests if m == "POST" and p == "/api/v4/projects"
                  and b["name"] == "gl-settings")
    assert create["visibility"] == "public" and create["topics"] == ["hishamos"]
    assert create["remove_source_branch_after_merge"] is True
    project = next(p for p in gitlab_api.state.projects.values() if p["path"] == "gl-settings")
    assert gitlab_api.state.protected[(project["id"], "main")]["push_access_levels"][0]["access_level"] == 0
    assert push_retry_waits == []  # the push went through at once (a retry would be recorded here, not slept)
