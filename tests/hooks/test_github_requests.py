"""Pull requests and repository settings through GithubRepositoryHook, against the GitHub stand-in
(every request and response checked against @octokit/openapi's description) and real pushes."""

from __future__ import annotations

import pytest
from github import GithubException

from airflow_provider_hisham.export.git import commit_tree, push
from airflow_provider_hisham.export.pull_request import RequestSpec, commit_on_base, publish_request
from airflow_provider_hisham.export.settings import apply_after_push, parse_settings
from airflow_provider_hisham.hooks.github import GithubRepositoryHook
from tests.servers.repo_fixtures import *  # noqa: F403 - fixtures
from tests.export.fixtures import github_conn, gitlab_conn  # noqa: F401, E402 - with git_host (after *)


@pytest.fixture
def hook(github_conn):
    return GithubRepositoryHook(github_conn, backoff_factor=0.1, max_rate_limit_wait=10, sleep=[].append)  # no real waits


def _repo_with_main(hook, name, make_project):
    repo = hook.create_repository(name)
    src = make_project(3, f"{name}-base")
    push(src, repo.clone_url, commit_tree(src), ["main"], hook.push_credentials(), field="clone_url")
    return repo


def _branch(hook, repo, make_project, branch="hisham/run-1", seed="new"):
    src = make_project(4, f"{repo.name}-{branch.replace('/', '-')}-{seed}", seed=seed)
    return commit_on_base(src, repo.clone_url, base_branch="main", head_branch=branch, message="Generated",
                          credentials=hook.push_credentials(), field="clone_url")


def _no_violations(github_api):
    assert github_api.state.checker.violations == []


def test_open_update_and_never_a_second_pull_request(hook, github_api, make_project):
    repo = _repo_with_main(hook, "pr-demo", make_project)
    commit = _branch(hook, repo, make_project)
    spec = RequestSpec("Story #12: export orders", "Story: http://hishamos/stories/12", draft=True,
                       reviewers=("octocat",), labels=("generated", "hishamos"))
    first = publish_request(hook, repo.id, commit, spec)
    assert first.status == "opened" and first.request_number == 1 and "/pull/1" in first.request_url
    pull = github_api.state.pulls[repo.id][0]
    assert pull["draft"] is True and pull["head"]["ref"] == "hisham/run-1" and pull["base"]["ref"] == "main"
    assert [u["login"] for u in pull["requested_reviewers"]] == ["octocat"]
    assert [lab["name"] for lab in pull["labels"]] == ["generated", "hishamos"]
    # A re-run with a new body updates the same pull request; reviewers and labels are not re-sent.
    posts = len([b for b in github_api.state.bodies if b[1].endswith("/labels")])
    second = publish_request(hook, repo.id, commit, RequestSpec("Story #12: export orders", "new body"))
    assert second.status == "updated" and second.request_number == 1 and len(github_api.state.pulls[repo.id]) == 1
    assert pull["body"] == "new body"
    assert len([b for b in github_api.state.bodies if b[1].endswith("/labels")]) == posts
    # Labels go as {"labels": [...]}, the form the description declares.
    assert ("POST", f"/repos/{repo.id}/issues/1/labels", {"labels": ["generated", "hishamos"]}) in github_api.state.bodies
    _no_violations(github_api)


def test_merged_or_closed_pull_request_is_reported(hook, github_api, make_project):
    repo = _repo_with_main(hook, "pr-merged", make_project)
    commit = _branch(hook, repo, make_project)
    opened = publish_request(hook, repo.id, commit, RequestSpec("t"))
    github_api.state.set_pull_state(repo.id, opened.request_number, "merged")
    again = publish_request(hook, repo.id, commit, RequestSpec("t"))
    assert again.status == "merged" and again.request_url == opened.request_url
    assert len(github_api.state.pulls[repo.id]) == 1
    commit2 = _branch(hook, repo, make_project, "hisham/run-2")
    opened2 = publish_request(hook, repo.id, commit2, RequestSpec("t"))
    github_api.state.set_pull_state(repo.id, opened2.request_number, "closed")
    assert publish_request(hook, repo.id, commit2, RequestSpec("t")).status == "closed"
    _no_violations(github_api)


def test_response_lost_after_github_created_the_pull_request(hook, github_api, make_project):
    repo = _repo_with_main(hook, "pr-lost", make_project)
    commit = _branch(hook, repo, make_project)
    github_api.state.fail_next("POST", f"/repos/{repo.id}/pulls", "drop_after")
    with pytest.raises(Exception):  # noqa: B017 - the connection drops; PyGithub does not resend a POST
        publish_request(hook, repo.id, commit, RequestSpec("t"))
    assert len(github_api.state.pulls[repo.id]) == 1  # GitHub did create it
    retried = publish_request(hook, repo.id, commit, RequestSpec("t"))
    assert retried.status == "updated" and retried.request_number == github_api.state.pulls[repo.id][0]["number"]
    assert len(github_api.state.pulls[repo.id]) == 1
    _no_violations(github_api)


def test_settings_at_creation_then_only_when_absent(hook, github_api, make_project):
    settings = parse_settings({"visibility": "public", "delete_branch_on_merge": True, "topics": ["hishamos", "ai"],
                               "protect_branches": ["main"], "required_reviews": 2,
                               "required_status_checks": ["ci/test"], "strict_status_checks": True})
    repo = hook.create_repository("settings-demo", description="d", settings=settings)
    body = next(b for m, p, b in github_api.state.bodies if p == "/user/repos" and b["name"] == "settings-demo")
    assert body["private"] is False and body["delete_branch_on_merge"] is True
    src = make_project(2, "settings-src")
    push(src, repo.clone_url, commit_tree(src), ["main"], hook.push_credentials(), field="clone_url")
    applied = apply_after_push(hook, repo.id, settings, just_created=True)
    assert applied == ["topics", "protection:main"]
    assert github_api.state.topics[repo.id] == ["hishamos", "ai"]
    rule = github_api.state.protections[(repo.id, "main")]
    assert rule["required_pull_request_reviews"] == {"required_approving_review_count": 2}
    assert rule["required_status_checks"] == {"strict": True, "contexts": ["ci/test"]}
    # A person changes topics and protection by hand; a retry changes nothing of it.
    hook.set_topics(repo.id, ["hand-made"])
    hook.set_protection(repo.id, "main", 1, [], False)
    assert apply_after_push(hook, repo.id, settings, just_created=False) == []
    assert github_api.state.topics[repo.id] == ["hand-made"]
    assert github_api.state.protections[(repo.id, "main")]["required_pull_request_reviews"] == {
        "required_approving_review_count": 1}
    _no_violations(github_api)


def test_protection_of_a_missing_branch_is_an_error(hook, github_api):
    repo = hook.create_repository("settings-empty")
    with pytest.raises(GithubException) as info:
        hook.set_protection(repo.id, "main", 1, [], False)
    assert info.value.status == 404
    assert hook.get_topics(repo.id) == []
    _no_violations(github_api)
