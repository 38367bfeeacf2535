"""Merge requests and project settings through GitlabRepositoryHook, against the GitLab stand-in (GitLab's
documented v4 routes and bodies) and real pushes to the git smart-HTTP server."""

from __future__ import annotations

import pytest

from airflow_provider_hisham.export.git import commit_tree, push
from airflow_provider_hisham.export.pull_request import RequestSpec, commit_on_base, publish_request
from airflow_provider_hisham.export.settings import apply_after_push, parse_settings
from airflow_provider_hisham.hooks.gitlab import GitlabRepositoryHook
from tests.servers.repo_fixtures import *  # noqa: F403 - fixtures
from tests.export.fixtures import github_conn, gitlab_conn  # noqa: F401, E402 - with git_host (after *)


@pytest.fixture
def hook(gitlab_conn):
    return GitlabRepositoryHook(gitlab_conn)


def _project_with_main(hook, name, make_project, settings=None):
    project = hook.create_repository(name, settings=settings)
    src = make_project(3, f"{name}-base")
    push(src, project.clone_url, commit_tree(src), ["main"], hook.push_credentials(), field="clone_url")
    return project


def _branch(hook, project, make_project, branch="hisham/run-1"):
    src = make_project(4, f"{project.name}-{branch.replace('/', '-')}", seed="new")
    return commit_on_base(src, project.clone_url, base_branch="main", head_branch=branch, message="Generated",
                          credentials=hook.push_credentials(), field="clone_url")


def test_open_update_draft_reviewers_labels(hook, gitlab_api, make_project):
    project = _project_with_main(hook, "mr-demo", make_project)
    commit = _branch(hook, project, make_project)
    spec = RequestSpec("Story #12", "Story: http://hishamos/stories/12", draft=True,
                       reviewers=("reviewer-one", "nobody-here"), labels=("generated",))
    first = publish_request(hook, project.id, commit, spec)
    assert first.status == "opened" and first.request_url.endswith("/-/merge_requests/1")
    mr = gitlab_api.state.merge_requests[project.id][0]
    assert mr["title"] == "Draft: Story #12" and mr["draft"] is True and mr["labels"] == ["generated"]
    assert [r["username"] for r in mr["reviewers"]] == ["reviewer-one"]  # unknown users are skipped
    second = publish_request(hook, project.id, commit, RequestSpec("Story #12", "new body", draft=True))
    assert second.status == "updated" and len(gitlab_api.state.merge_requests[project.id]) == 1
    assert mr["description"] == "new body" and mr["title"] == "Draft: Story #12"
    # Marked ready by a person: the update keeps it ready.
    mr.update(title="Story #12", draft=False, work_in_progress=False)
    publish_request(hook, project.id, commit, RequestSpec("Story #12", "b", draft=True))
    assert mr["title"] == "Story #12" and mr["draft"] is False


@pytest.mark.parametrize("state", ["merged", "closed"])
def test_merged_or_closed_merge_request_is_reported(hook, gitlab_api, make_project, state):
    project = _project_with_main(hook, f"mr-{state}", make_project)
    commit = _branch(hook, project, make_project)
    opened = publish_request(hook, project.id, commit, RequestSpec("t"))
    gitlab_api.state.set_mr_state(project.id, opened.request_number, state)
    again = publish_request(hook, project.id, commit, RequestSpec("t"))
    assert again.status == state and len(gitlab_api.state.merge_requests[project.id]) == 1


def test_response_lost_after_gitlab_created_the_merge_request(hook, gitlab_api, make_project):
    project = _project_with_main(hook, "mr-lost", make_project)
    commit = _branch(hook, project, make_project)
    gitlab_api.state.fail_next("POST", f"/api/v4/projects/{project.id}/merge_requests", "drop_after")
    with pytest.raises(Exception):  # noqa: B017 - python-gitlab does not resend a POST after a dropped connection
        publish_request(hook, project.id, commit, RequestSpec("t"))
    assert len(gitlab_api.state.merge_requests[project.id]) == 1
    assert publish_request(hook, project.id, commit, RequestSpec("t")).status == "updated"
    assert len(gitlab_api.state.merge_requests[project.id]) == 1


def test_settings_at_creation_and_protected_branches(hook, gitlab_api, make_project):
    settings = parse_settings({"visibility": "internal", "topics": ["hishamos"], "delete_branch_on_merge": True,
                               "default_branch": "main", "protect_branches": ["main"], "required_reviews": 1,
                               "required_status_checks": ["pipeline"]})
    project = _project_with_main(hook, "settings-gl", make_project, settings)
    body = next(b for m, p, s, b in gitlab_api.state.requests if m == "POST" and p == "/api/v4/projects"
                and b["name"] == "settings-gl")
    assert body["visibility"] == "internal" and body["topics"] == ["hishamos"]
    assert body["remove_source_branch_after_merge"] is True and body["only_allow_merge_if_pipeline_succeeds"] is True
    # GitLab protects a new project's default branch itself on the first push: the creating try
    # replaces that rule with ours.
    gitlab_api.state.protected[(project.id, "main")] = {"name": "main", "push_access_levels": [{"access_level": 40}]}
    applied = apply_after_push(hook, project.id, settings, just_created=True, topics_at_creation=True)
    assert applied == ["protection:main"]
    rule = gitlab_api.state.protected[(project.id, "main")]
    assert rule["push_access_levels"][0]["access_level"] == 0 and rule["merge_access_levels"][0]["access_level"] == 30
    # A person relaxes the rule; a retry leaves it alone.
    rule["push_access_levels"][0]["access_level"] = 40
    assert apply_after_push(hook, project.id, settings, just_created=False, topics_at_creation=True) == []
    assert gitlab_api.state.protected[(project.id, "main")]["push_access_levels"][0]["access_level"] == 40
    assert hook.get_protection(project.id, "other") is None
    hook.set_default_branch(project.id, "main")
    assert hook.get_default_branch(project.id) == "main"
