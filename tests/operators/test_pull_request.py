"""HishamOSPullRequestOperator in real Airflow (``dag.test()``) against the GitHub/GitLab stand-ins and the real
git smart-HTTP server: one request per head branch across retries and re-runs."""

from __future__ import annotations

import pytest

from airflow_provider_hisham.export.git import commit_tree, push
from tests.conftest import run_dag, xcom
from tests.operators.test_repo_creation import _ti
from tests.servers.repo_fixtures import *  # noqa: F403 - fixtures
from tests.servers.repo_fixtures import TOKEN
from tests.export.fixtures import github_conn, gitlab_conn  # noqa: F401, E402 - with git_host (after *)

# Push retries record their waits instead of sleeping them (the operators' default backoff).
pytestmark = pytest.mark.usefixtures("push_retry_waits")


def _dag(dag_id: str, op_kwargs: str, *, retries: int = 0) -> str:
    return f"""
from datetime import datetime, timedelta
from airflow.sdk import DAG
from airflow_provider_hisham.operators.pull_request import HishamOSPullRequestOperator

with DAG("{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         default_args={{"retries": {retries}, "retry_delay": timedelta(seconds=0)}}) as dag:
    HishamOSPullRequestOperator(task_id="propose", {op_kwargs})
"""


def _existing(hook, name, make_project):
    repo = hook.create_repository(name)
    base = make_project(3, f"{name}-base")
    push(base, repo.clone_url, commit_tree(base), ["main"], hook.push_credentials(), field="clone_url")
    return repo


def test_github_pull_request_then_a_rerun_updates_it(github_conn, github_api, make_project, capfd, caplog,
                                                    push_retry_waits):
    import json

    from airflow_provider_hisham.export.git import state_root

    from airflow_provider_hisham.hooks.github import GithubRepositoryHook

    repo = _existing(GithubRepositoryHook(github_conn), "op-pr", make_project)
    src = make_project(6, "op-pr-gen", seed="gen")
    kwargs = (f"source_dir={str(src)!r}, repository_name='op-pr', github_conn_id={github_conn!r}, "
              "story_id=42, story_url='http://hishamos.example/stories/42', draft=True, reviewers=['octocat'], "
              "labels='generated,hishamos', head_branch='hisham/story-42'")
    run = run_dag(_dag("pr_op", kwargs))
    assert run.state == "success"
    result = xcom(run, "propose")
    assert result["status"] == "opened" and result["url"] == result["request_url"] == f"{repo.web_url}/pull/1"
    pull = github_api.state.pulls[repo.id][0]
    assert pull["title"] == "HishamOS story 42: pr_op" and "http://hishamos.example/stories/42" in pull["body"]
    assert pull["draft"] is True and [lab["name"] for lab in pull["labels"]] == ["generated", "hishamos"]
    assert github_api.state.git.head(repo.id, "hisham/story-42") == result["commit_sha"]
    # The task again on the same head branch (a re-run; the default message names the run, so the
    # commit is rebuilt): the branch is replaced, the same pull request is updated.
    again = run_dag(_dag("pr_op", kwargs))
    second = xcom(again, "propose")
    assert second["status"] == "updated" and second["request_number"] == 1 and second["pushed"]
    assert github_api.state.git.head(repo.id, "hisham/story-42") == second["commit_sha"]
    assert len(github_api.state.pulls[repo.id]) == 1
    assert xcom(again, "propose", key="_link_RepositoryLink") == result["request_url"]
    # Merged meanwhile: reported, not reopened, no second one.
    github_api.state.set_pull_state(repo.id, 1, "merged")
    third = xcom(run_dag(_dag("pr_op", kwargs)), "propose")
    assert third["status"] == "merged" and len(github_api.state.pulls[repo.id]) == 1
    assert github_api.state.checker.violations == []
    # The token is in no log line, result, or file of the export's git state.
    captured = capfd.readouterr()
    assert TOKEN not in captured.out + captured.err + caplog.text
    assert TOKEN not in json.dumps([result, second, third])
    assert not any(TOKEN.encode() in p.read_bytes() for p in state_root().rglob("*") if p.is_file())
    assert push_retry_waits == []  # the push went through at once (a retry would be recorded here, not slept)


def test_retry_after_the_request_was_opened_opens_no_second_one(github_conn, github_api, make_project,
                                                                push_retry_waits):
    from airflow_provider_hisham.hooks.github import GithubRepositoryHook

    repo = _existing(GithubRepositoryHook(github_conn), "op-retry", make_project)
    src = make_project(4, "op-retry-gen", seed="gen")
    # The first try opens the pull request, then adding labels fails: the task fails and retries.
    github_api.state.fail_next("POST", f"/repos/{repo.id}/issues/", "unauthorized")
    run = run_dag(_dag("pr_retry", f"source_dir={str(src)!r}, repository_name='op-retry', "
                                   f"github_conn_id={github_conn!r}, labels=['x']", retries=1))
    assert run.state == "success" and _ti(run, "propose").try_number == 2
    assert xcom(run, "propose")["status"] == "updated"
    assert xcom(run, "propose")["pushed"] is False  # same run, same commit: already on the branch
    assert len(github_api.state.pulls[repo.id]) == 1
    assert xcom(run, "propose")["head_branch"].startswith("hisham/pr_retry/")
    assert push_retry_waits == []  # the push went through at once (a retry would be recorded here, not slept)


def test_gitlab_merge_request_into_a_subdirectory(gitlab_conn, gitlab_api, make_project, push_retry_waits):
    from airflow_provider_hisham.hooks.gitlab import GitlabRepositoryHook

    project = _existing(GitlabRepositoryHook(gitlab_conn), "op-mono", make_project)
    src = make_project(2, "op-mono-gen", seed="gen")
    run = run_dag(_dag("mr_op", f"source_dir={str(src)!r}, target='gitlab', repository_name='op-mono', "
                                f"gitlab_conn_id={gitlab_conn!r}, subdir='services/new', title='Add service', "
                                "reviewers=['reviewer-two']"))
    result = xcom(run, "propose")
    assert result["status"] == "opened" and result["url"].endswith("/-/merge_requests/1")
    assert all(f.startswith("services/new/") for f in result["changed_files"])
    mr = gitlab_api.state.merge_requests[project.id][0]
    assert mr["title"] == "Add service" and [r["username"] for r in mr["reviewers"]] == ["reviewer-two"]
    assert push_retry_waits == []  # the push went through at once (a retry would be recorded here, not slept)


def test_unchanged_tree_and_generic_remote(git_server, make_project, monkeypatch):
    import json

    git_server.create_bare("plain/repo")
    base = make_project(3, "plain-base")
    monkeypatch.setenv("AIRFLOW_CONN_GIT_PLAIN", json.dumps({"conn_type": "generic", "host": git_server.url,
                                                              "login": "x-access-token", "password": TOKEN}))
    url = git_server.repo_url("plain/repo")
    from tests.export.test_git import server_credentials

    push(base, url, commit_tree(base), ["main"], server_credentials(git_server))
    same = xcom(run_dag(_dag("pr_plain", f"source_dir={str(base)!r}, target='git', git_url={url!r}, "
                                         "git_conn_id='git_plain'")), "propose")
    assert same["status"] == "unchanged" and same["commit_sha"] is None and "no request" in same["message"]
    changed = make_project(4, "plain-gen", seed="new")
    result = xcom(run_dag(_dag("pr_plain", f"source_dir={str(changed)!r}, target='git', git_url={url!r}, "
                                           "git_conn_id='git_plain'")), "propose")
    assert result["status"] == "pushed" and "no request API" in result["message"]
    assert git_server.head("plain/repo", result["head_branch"]) == result["commit_sha"]


def test_missing_repository_is_a_clear_error(github_conn, github_api, make_project, capfd):
    src = make_project(1, "nowhere")
    run = run_dag(_dag("pr_missing", f"source_dir={str(src)!r}, repository_name='does-not-exist', "
                                     f"github_conn_id={github_conn!r}"))
    assert run.state == "failed"
    out = capfd.readouterr()
    assert "does not exist on github" in out.out + out.err


def test_example_dag_puts_the_approval_between_generation_and_the_pull_request(tmp_path):
    import shutil

    from airflow_provider_hisham.workflow import load_dags
    from tests.conftest import REPO_ROOT

    shutil.copy(REPO_ROOT / "dags" / "workflows" / "review_then_pull_request.yaml", tmp_path)
    result = load_dags(tmp_path, {}, cache_dir=False)
    assert not result.errors
    dag = result.dags["hisham_review_then_pull_request"]
    propose = dag.get_task("propose")
    assert type(propose).__name__ == "HishamOSPullRequestOperator"
    assert dag.get_task("review").task_id in propose.upstream_task_ids
    assert "generate" in dag.get_task("review").upstream_task_ids
    assert propose.draft is True and propose.labels == ["generated", "hishamos"]


def test_dry_run_reads_only_and_says_what_would_happen(github_conn, github_api, make_project):
    from airflow_provider_hisham.hooks.github import GithubRepositoryHook

    repo = _existing(GithubRepositoryHook(github_conn), "op-dry", make_project)
    src = make_project(3, "op-dry-gen", seed="gen")
    before = len(github_api.state.bodies)
    kwargs = (f"source_dir={str(src)!r}, repository_name='op-dry', github_conn_id={github_conn!r}, "
              "head_branch='hisham/dry', labels=['x'], body='b', commit_message='Generated'")
    plan = xcom(run_dag(_dag("pr_dry", kwargs + ", dry_run=True")), "propose")
    assert plan["dry_run"] is True and plan["status"] == "would_open" and plan["pushed"] is True
    assert plan["changed_count"] > 0 and "would push" in plan["message"] and "would open" in plan["message"]
    # No side effect: no branch, no pull request, no write request at all.
    assert github_api.state.git.head(repo.id, "hisham/dry") is None
    assert repo.id not in github_api.state.pulls or github_api.state.pulls[repo.id] == []
    assert len(github_api.state.bodies) == before
    real = xcom(run_dag(_dag("pr_dry", kwargs)), "propose")
    assert real["status"] == "opened" and real["commit_sha"] == plan["commit_sha"]
    again = xcom(run_dag(_dag("pr_dry", kwargs + ", dry_run=True")), "propose")
    assert again["status"] == "would_update" and again["pushed"] is False and "already holds" in again["message"]
