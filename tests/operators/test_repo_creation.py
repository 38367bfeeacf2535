"""HishamOSRepoCreationOperator in real Airflow (``dag.test()``) against a real git server and the
GitHub/GitLab stand-ins."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, run_dag, xcom
from tests.servers.fixtures import both_tiers
from tests.servers.repo_fixtures import *  # noqa: F403 - fixtures
from tests.servers.repo_fixtures import TOKEN
from tests.export.fixtures import github_conn, gitlab_conn  # noqa: F401, E402 - with git_host

# Push retries record their waits instead of sleeping them (the operators' default backoff).
pytestmark = pytest.mark.usefixtures("push_retry_waits")


def _dag(dag_id: str, op_kwargs: str, *, retries: int = 0) -> str:
    return f"""
from datetime import datetime, timedelta
from airflow.sdk import DAG
from airflow_provider_hisham.operators.repo_creation import HishamOSRepoCreationOperator

with DAG("{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         default_args={{"retries": {retries}, "retry_delay": timedelta(seconds=0)}}) as dag:
    HishamOSRepoCreationOperator(task_id="export", {op_kwargs})
"""


def _output(capfd, caplog) -> str:
    """Task log text: dag.test() prints it or sends it to logging, depending on earlier set-up."""
    captured = capfd.readouterr()
    return captured.out + captured.err + caplog.text


def _ti(dag_run, task_id="export"):
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.query(TaskInstance).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id,
                                                     task_id=task_id).one()


def test_github_export_pushes_and_links(github_conn, github_api, make_project, push_retry_waits):
    src = make_project(12, "gh-project")
    run = run_dag(_dag("gh_export", f"source_dir={str(src)!r}, target='github', github_conn_id={github_conn!r}, "
                                    "branches=['develop']"))
    assert run.state == "success"
    result = xcom(run, "export")
    sha = github_api.state.git.head("octo-user/gh-project")
    assert result == {"url": f"{github_api.url}/octo-user/gh-project", "default_branch": "main",
                      "commit_sha": sha, "archive_path": None}
    assert github_api.state.git.head("octo-user/gh-project", "develop") == sha
    # The extra link is stored by Airflow at task end from RepositoryLink.get_link.
    assert xcom(run, "export", key="_link_RepositoryLink") == result["url"]
    assert push_retry_waits == []  # the push went through at once (a retry would be recorded here, not slept)


def _scan_for_token(run, src: Path, airflow_home: Path, captured: str) -> dict[str, bool]:
    """Every place the brief names: .git/config, task logs, XCom, rendered fields, output."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from airflow_provider_hisham.export.git import state_root

    found = {".git in the folder": (src / ".git").exists()}
    found["export's git state"] = any(TOKEN.encode() in p.read_bytes() for p in state_root().rglob("*") if p.is_file())
    # dag.test() writes the task log to the console (captured); log files, if any, are scanned too.
    logs = [p for p in (airflow_home / "logs").rglob("*") if p.is_file() and run.dag_id in str(p)]
    found["task log files"] = any(TOKEN in p.read_text(errors="replace") for p in logs)
    found["task log (console)"] = TOKEN in captured
    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id)).all()
        found["xcom"] = any(TOKEN in json.dumps(XComModel.deserialize_value(r), default=str) for r in rows)
        rendered = session.query(RenderedTaskInstanceFields).filter_by(dag_id=run.dag_id, run_id=run.run_id).all()
        assert rendered and rows, "dag.test() stored no rendered fields or XCom to scan"
        assert str(src) in json.dumps(rendered[0].rendered_fields)
        found["rendered fields"] = any(TOKEN in json.dumps(r.rendered_fields, default=str) for r in rendered)
    return found


def test_token_never_leaks_after_real_pushes(github_conn, git_server, make_project, airflow_home, capfd, caplog,
                                             monkeypatch, tmp_path):
    # A git-target connection (encrypted values are decrypted by the secrets backend: tests/test_secrets_backend.py).
    monkeypatch.setenv("AIRFLOW_CONN_GIT_SERVER", json.dumps(
        {"conn_type": "generic", "host": git_server.url, "login": "x-access-token", "password": TOKEN}))
    git_server.create_bare("plain/leak-check")
    src = make_project(6, "leak-check")
    run = run_dag(_dag("leak_git", f"source_dir={str(src)!r}, target='git', git_conn_id='git_server', "
                                   f"git_url={git_server.repo_url('plain/leak-check')!r}, branches=['release']"))
    assert run.state == "success"
    assert git_server.head("plain/leak-check") == xcom(run, "export")["commit_sha"]
    gh_src = make_project(6, "leak-check-gh")
    gh_run = run_dag(_dag("leak_gh", f"source_dir={str(gh_src)!r}, target='github', github_conn_id={github_conn!r}"))
    assert gh_run.state == "success"
    # An archive of the pushed folder and a failing push.
    zip_run = run_dag(_dag("leak_zip", f"source_dir={str(src)!r}, target='zip', archive_dir={str(tmp_path)!r}"))
    archive = Path(xcom(zip_run, "export")["archive_path"])
    monkeypatch.setenv("AIRFLOW_CONN_GIT_WRONG", json.dumps(
        {"conn_type": "generic", "host": git_server.url, "login": "x-access-token", "password": TOKEN[::-1]}))
    git_server.create_bare("plain/leak-denied")
    bad = run_dag(_dag("leak_denied", f"source_dir={str(make_project(2))!r}, target='git', git_conn_id='git_wrong', "
                                      f"git_url={git_server.repo_url('plain/leak-denied')!r}, push_retries=0"))
    assert bad.state == "failed"
    captured = capfd.readouterr()
    output = captured.out + captured.err + caplog.text  # the task log goes to either, depending on set-up
    assert "committed" in output and "repo_creation result" in output  # the task logs were captured
    assert "PushError" in output and "exit status 128" in output  # the clear failure was reported
    assert TOKEN[::-1] not in output
    for r, folder in ((run, src), (gh_run, gh_src)):
        assert _scan_for_token(r, folder, airflow_home, output) == dict.fromkeys(
            [".git in the folder", "export's git state", "task log files", "task log (console)", "xcom", "rendered fields"], False)
    with zipfile.ZipFile(archive) as zf:
        assert not any(TOKEN.encode() in zf.read(n) for n in zf.namelist())
        assert not any(n.startswith(".git") for n in zf.namelist())


def test_task_retry_reuses_the_repository_it_created(github_conn, github_api, make_project):
    """First try creates + pushes, then fails creating a branch (401); the retry creates nothing new."""
    src = make_project(5, "retry-me")
    github_api.state.fail_next("POST", "/repos/octo-user/retry-me/git/refs", "unauthorized")
    run = run_dag(_dag("gh_retry", f"source_dir={str(src)!r}, target='github', github_conn_id={github_conn!r}, "
                                   "branches=['develop']", retries=1))
    assert run.state == "success"
    assert _ti(run).try_number == 2
    result = xcom(run, "export")
    assert result["url"] == f"{github_api.url}/octo-user/retry-me"
    assert github_api.state.created.count("octo-user/retry-me") == 1
    assert not any(name.startswith("octo-user/retry-me-") for name in github_api.state.created)
    creates = [s for m, p, s in github_api.state.requests if m == "POST" and p == "/user/repos"]
    refs = [s for m, p, s in github_api.state.requests if p == "/repos/octo-user/retry-me/git/refs"]
    assert refs == [401, 201]
    assert github_api.state.git.head("octo-user/retry-me") == result["commit_sha"]
    assert github_api.state.git.head("octo-user/retry-me", "develop") == result["commit_sha"]
    # A whole new run of the same task (new marker) with the same content still finds our commit.
    again = run_dag(_dag("gh_retry", f"source_dir={str(src)!r}, target='github', github_conn_id={github_conn!r}, "
                                     "branches=['develop']"))
    assert xcom(again, "export") == result
    assert len([s for m, p, s in github_api.state.requests if m == "POST" and p == "/user/repos"]) == len(creates)  # GET found it first
    assert github_api.state.created.count("octo-user/retry-me") == 1


@pytest.mark.parametrize("on_conflict, outcome", [("fail", None), ("reuse", "taken-{c}"), ("suffix", "taken-{c}-2")])
def test_on_conflict(github_conn, github_api, make_project, on_conflict, outcome, capfd, caplog):
    from airflow_provider_hisham.hooks.github import GithubRepositoryHook

    name = f"taken-{on_conflict}"
    GithubRepositoryHook(github_conn).create_repository(name, description="someone else's")  # empty, foreign
    src = make_project(3, f"conflict-{on_conflict}")
    run = run_dag(_dag(f"gh_conflict_{on_conflict}", f"source_dir={str(src)!r}, target='github', "
                       f"github_conn_id={github_conn!r}, repository_name={name!r}, on_conflict={on_conflict!r}"))
    if outcome is None:
        assert run.state == "failed"
        output = _output(capfd, caplog)
        assert f"repository '{name}' already exists" in output and TOKEN not in output
        assert github_api.state.git.head(f"octo-user/{name}") is None
        return
    assert run.state == "success"
    expected = outcome.format(c=on_conflict)
    assert xcom(run, "export")["url"] == f"{github_api.url}/octo-user/{expected}"
    assert github_api.state.git.head(f"octo-user/{expected}") == xcom(run, "export")["commit_sha"]


def test_reuse_refuses_a_repository_with_other_history(github_conn, github_api, make_project, capfd, caplog):
    from airflow_provider_hisham.export.git import commit_tree, push
    from airflow_provider_hisham.hooks.github import GithubRepositoryHook

    hook = GithubRepositoryHook(github_conn)
    repo = hook.create_repository("busy")
    other = make_project(1, "other", seed="other")
    push(other, repo.clone_url, commit_tree(other), ["main"], hook.push_credentials())
    run = run_dag(_dag("gh_busy", f"source_dir={str(make_project(2))!r}, target='github', "
                                  f"github_conn_id={github_conn!r}, repository_name='busy', on_conflict='reuse'"))
    assert run.state == "failed"
    assert "already has other commits" in _output(capfd, caplog)


def test_gitlab_target_with_templated_name(gitlab_conn, gitlab_api, make_project):
    src = make_project(4, "gl-src")
    run = run_dag(_dag("gl_export", f"source_dir={str(src)!r}, target='gitlab', gitlab_conn_id={gitlab_conn!r}, "
                                    "repository_name=\"{{ dag_run.conf['name'] }}\", namespace='hisham-group', "
                                    "branches=['develop']"), conf={"name": "from-conf"})
    assert run.state == "success"
    result = xcom(run, "export")
    sha = gitlab_api.state.git.head("hisham-group/from-conf")
    assert result == {"url": f"{gitlab_api.url}/hisham-group/from-conf", "default_branch": "main",
                      "commit_sha": sha, "archive_path": None}
    assert gitlab_api.state.git.head("hisham-group/from-conf", "develop") == sha


def test_gitlab_task_retry_creates_one_project(gitlab_conn, gitlab_api, make_project):
    src = make_project(3, "gl-retry-src")
    gitlab_api.state.fail_next("POST", "/api/v4/projects/", "unauthorized")  # the branch call after the push
    run = run_dag(_dag("gl_retry", f"source_dir={str(src)!r}, target='gitlab', gitlab_conn_id={gitlab_conn!r}, "
                                   "branches=['develop']", retries=1))
    assert run.state == "success" and _ti(run).try_number == 2
    result = xcom(run, "export")
    projects = [p for p in gitlab_api.state.projects.values() if p["path"].startswith("gl-retry-src")]
    assert [p["path_with_namespace"] for p in projects] == ["gl-user/gl-retry-src"]
    assert [s for m, p, s, body in gitlab_api.state.requests
            if m == "POST" and p == "/api/v4/projects" and body["name"] == "gl-retry-src"] == [201]
    assert gitlab_api.state.git.head("gl-user/gl-retry-src", "develop") == result["commit_sha"]
    assert projects[0]["default_branch"] == "main"


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_archive_targets_are_deterministic_and_single(make_project, tmp_path, fmt):
    src = make_project(9, f"arch-{fmt.replace('.', '')}")
    out = tmp_path / "exports"
    source = _dag(f"archive_{fmt.replace('.', '_')}", f"source_dir={str(src)!r}, target={fmt!r}, "
                                                      f"archive_dir={str(out)!r}, repository_name='bundle'")
    first = xcom(run_dag(source), "export")
    data = Path(first["archive_path"]).read_bytes()
    second = xcom(run_dag(source), "export")
    assert first == second == {"url": None, "default_branch": None, "commit_sha": None,
                               "archive_path": str(out / f"bundle.{fmt}")}
    assert Path(second["archive_path"]).read_bytes() == data
    assert [p.name for p in out.iterdir()] == [f"bundle.{fmt}"]
    if fmt == "tar.gz":
        with tarfile.open(second["archive_path"]) as tf:
            assert "README.md" in tf.getnames()


def test_bad_input_fails_with_clear_message(tmp_path, capfd, caplog):
    run = run_dag(_dag("bad_src", f"source_dir={str(tmp_path / 'missing')!r}, target='zip'"))
    assert run.state == "failed"
    assert f"source_dir '{tmp_path / 'missing'}' does not exist" in _output(capfd, caplog)
    with pytest.raises(ValueError, match="on_conflict must be"):
        from airflow_provider_hisham.operators.repo_creation import HishamOSRepoCreationOperator

        HishamOSRepoCreationOperator(task_id="x", source_dir="/tmp", on_conflict="overwrite")


def test_operator_module_import_is_light():
    code = ("import sys, airflow_provider_hisham, airflow_provider_hisham.operators.repo_creation, "
            "airflow_provider_hisham.links.repository\n"
            "heavy = [m for m in ('git', 'github', 'gitlab') if m in sys.modules]\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT,
                   env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"})


EXPORTS = "/api/v1/projects/repository-exports/"


def _ctx(task_id: str, try_number: int = 1, run_id: str = "manual__records"):
    """The context of one try of a task instance (a cleared task is the same instance, next try)."""
    from types import SimpleNamespace

    return {"ti": SimpleNamespace(dag_id="records", run_id=run_id, task_id=task_id, map_index=-1,
                                  try_number=try_number, max_tries=try_number + 1)}


def _generate_and_archive(conn_id, project, root, try_number, **archive_kwargs):
    from airflow_provider_hisham.operators.file_generation import HishamOSFileGenerationOperator
    from airflow_provider_hisham.operators.repo_creation import HishamOSRepoCreationOperator

    gen = HishamOSFileGenerationOperator(task_id="generate", project_id="recorded", output_root=str(root),
                                 structure={"README.md": "# recorded\n", "src/app.py": "x = 1\n"},
                                 hishamos_conn_id=conn_id, hishamos_project_id=project)
    summary = gen.execute(_ctx("generate", try_number))
    archive = HishamOSRepoCreationOperator(task_id="archive", source_dir=summary["output_dir"], target="zip",
                                   hishamos_conn_id=conn_id, generated_project_id=summary["generated_project_id"],
                                   **archive_kwargs)
    return summary, archive.execute(_ctx("archive", try_number))


@both_tiers
def test_cleared_tasks_find_their_records_one_generated_project_and_one_export(hishamos, hishamos_conn, tmp_path,
                                                                                hishamos_tier, capfd, caplog):
    """Generate + archive, then both tasks cleared and run again (their next try): exactly one
    GeneratedProject and (on a tier with projects.import_export) one RepositoryExport, found
    through the marker. On trial the archive is kept and returned, and no record is made."""
    conn_id = hishamos_conn("password")
    project = hishamos.state.demo_project_id
    first_summary, first = _generate_and_archive(conn_id, project, tmp_path, 1)
    second_summary, second = _generate_and_archive(conn_id, project, tmp_path, 2)
    (gp,) = hishamos.state.generated_projects.values()
    assert gp["status"] == "completed" and first_summary["generated_project_id"] == second_summary[
        "generated_project_id"] == gp["id"]
    archive = Path(second["archive_path"])
    assert archive.is_file() and first["archive_path"] == second["archive_path"]
    if hishamos_tier == "trial":
        assert hishamos.state.repository_exports == {}
        assert first["repository_export_id"] is second["repository_export_id"] is None
        assert len(hishamos.requests_to("POST", EXPORTS)) == 2  # once a try: never retried
        log = _output(capfd, caplog)
        assert log.count("RepositoryExport not recorded: feature projects.import_export is not available on "
                         "the trial tier") == 2
        return
    (record,) = hishamos.state.repository_exports.values()
    assert first["repository_export_id"] == second["repository_export_id"] == record["id"]
    config = record["config"]
    assert record["export_type"] == "zip" and record["repository_name"] == "recorded"
    assert config["airflow_idempotency_key"].startswith("af1-") and config["state"] == "completed"
    assert config["archive_path"] == str(archive) and config["archive_size"] == archive.stat().st_size
    assert config["archive_sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert config["made_by"] == {"dag_id": "records", "run_id": "manual__records", "task_id": "archive",
                                 "map_index": -1, "try_number": 1}
    assert len(hishamos.requests_to("POST", EXPORTS)) == 1


def test_strict_records_fail_a_trial_export_at_once_and_keep_the_archive(hishamos_trial, hishamos_conn, tmp_path,
                                                                          monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    conn_id = hishamos_conn("password")
    with pytest.raises(AirflowFailException, match="feature projects.import_export is not available on the trial "
                                                   "tier: upgrade"):
        _generate_and_archive(conn_id, hishamos_trial.state.demo_project_id, tmp_path, 1,
                              strict_hishamos_records=True)
    assert (tmp_path / "recorded.zip").is_file()
    monkeypatch.setenv("AIRFLOW__HISHAM__STRICT_HISHAMOS_RECORDS", "true")  # the [hisham] option
    with pytest.raises(AirflowFailException):
        _generate_and_archive(conn_id, hishamos_trial.state.demo_project_id, tmp_path, 2)
    assert len(hishamos_trial.requests_to("POST", EXPORTS)) == 2


@pytest.mark.parametrize("target", ["zip", "github"])
def test_export_whose_answer_was_lost_is_found_on_the_next_try(target, hishamos, hishamos_conn, github_conn,
                                                              github_api, make_project, tmp_path,
                                                              hishamos_retry_waits):
    """The export POST is committed but its answer lost, and the lookup after it fails too (500):
    try 1 fails. Try 2 (an Airflow retry) lists the exports (ours on page 2, after 26 others) and
    finds its own through the config marker: one record, holding the facts."""
    from airflow_provider_hisham.hooks.hishamos import HishamOSHook

    conn_id = hishamos_conn("password")
    api = HishamOSHook(hishamos_conn_id=conn_id)
    gp_id = api.create_generated_project(hishamos.state.demo_project_id, "/tmp/generated", status="generating")["id"]
    for i in range(26):
        api.create_repository_export(gp_id, target, repository_name=f"older-{i}")
    hishamos.inject("drop_after_commit", method="POST", path=EXPORTS)
    hishamos.inject("status", status=500, method="GET", path=EXPORTS, skip=2)  # try 1's lookups: before, after
    src = make_project(4, f"registered-{target}")
    dr = run_dag(_dag(f"register_{target}", f"source_dir={str(src)!r}, target={target!r}, "
                                            f"github_conn_id={github_conn!r}, archive_dir={str(tmp_path / 'out')!r}, "
                                            f"hishamos_conn_id={conn_id!r}, generated_project_id={gp_id!r}",
                      retries=1))
    assert dr.state == "success" and _ti(dr).try_number == 2
    # one wait: after the lost answer, before the retry's recovery lookup (whose 500 fails the try);
    # RetryPolicy's first backoff (half of base 0.5 s plus jitter), recorded instead of slept
    assert len(hishamos_retry_waits) == 1 and 0.25 <= hishamos_retry_waits[0] <= 0.5, hishamos_retry_waits
    result = xcom(dr, "export")
    records = [r for r in hishamos.state.repository_exports.values() if not r["repository_name"].startswith("older-")]
    assert len(records) == 1 and len(hishamos.state.repository_exports) == 27
    record = records[0]
    assert result["repository_export_id"] == record["id"] and record["repository_name"] == src.name
    if target == "zip":
        assert record["config"]["archive_path"] == result["archive_path"]
        assert record["config"]["archive_size"] == Path(result["archive_path"]).stat().st_size
    else:
        assert record["config"]["url"] == result["url"] and record["config"]["commit_sha"] == result["commit_sha"]
    assert TOKEN not in json.dumps(record)


def test_a_generic_git_target_records_nothing(hishamos, hishamos_conn, make_project, tmp_path, capfd, caplog):
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    conn_id = hishamos_conn("password")
    src = make_project(2, "plain-git")
    run = run_dag(_dag("git_unrecorded", f"source_dir={str(src)!r}, target='git', git_url={str(bare)!r}, allow_local_remote=True, "
                                         f"hishamos_conn_id={conn_id!r}, generated_project_id='x'"))
    assert run.state == "success" and xcom(run, "export")["repository_export_id"] is None
    assert hishamos.state.repository_exports == {} and not hishamos.requests_to("POST", EXPORTS)
    assert "HishamOS has no export type for target 'git'" in _output(capfd, caplog)


def test_git_target_local_bare_repository(make_project, tmp_path):
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    src = make_project(3, "local-bare")
    refused = run_dag(_dag("git_local_refused", f"source_dir={str(src)!r}, target='git', git_url={str(bare)!r}"))
    assert refused.state == "failed"  # a run's conf must not reach the worker's own repositories by default
    run = run_dag(_dag("git_local", f"source_dir={str(src)!r}, target='git', git_url={str(bare)!r}, "
                                    "allow_local_remote=True, default_branch='trunk', author_name='Ada', "
                                    "author_email='ada@example.com'"))
    assert run.state == "success"
    result = xcom(run, "export")
    log = subprocess.run(["git", "-C", str(bare), "log", "--format=%H %an <%ae>", "trunk"], capture_output=True,
                         text=True, check=True).stdout.split("\n")[0]
    assert log == f"{result['commit_sha']} Ada <ada@example.com>"
    assert result["default_branch"] == "trunk" and result["url"] == str(bare)


def test_conf_values_cannot_send_the_token_elsewhere_or_escape(git_server, make_project, tmp_path, capfd, caplog,
                                                                monkeypatch):
    """A run's conf (what a REST trigger sends) names another host, or an archive name that climbs:
    refused before anything is committed, sent or written, with both hosts / the field named."""
    import socket

    monkeypatch.setenv("AIRFLOW_CONN_GIT_CONF", json.dumps(
        {"conn_type": "generic", "host": git_server.url, "login": "x-access-token", "password": TOKEN}))
    listener = socket.socket()
    listener.bind(("127.0.0.2", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    other = f"http://127.0.0.2:{listener.getsockname()[1]}/stolen.git"
    src = make_project(2, "conf-attack")
    run = run_dag(_dag("conf_git_url", f"source_dir={str(src)!r}, target='git', git_conn_id='git_conf', "
                                       "git_url=\"{{ dag_run.conf['git_url'] }}\", push_retries=0"),
                  conf={"git_url": other})
    assert run.state == "failed"
    with pytest.raises(socket.timeout):
        listener.accept()  # the other host was never even contacted
    listener.close()
    output = _output(capfd, caplog)
    assert "ForeignHostError" in output and f"127.0.0.2:{other.split(':')[2].split('/')[0]}" in output
    assert f"which is not {git_server.url}, the host of connection 'git_conf'" in output
    assert TOKEN not in output
    out = tmp_path / "exports"
    zip_run = run_dag(_dag("conf_archive", f"source_dir={str(src)!r}, target='zip', archive_root={str(out)!r}, "
                                           "repository_name=\"{{ dag_run.conf['name'] }}\""),
                      conf={"name": "../../escaped"})
    assert zip_run.state == "failed"
    assert "repository_name cannot name an archive" in _output(capfd, caplog)
    assert not list(tmp_path.rglob("escaped*")) and not out.exists()


class FakeHost:
    """A third repository host with no ``if target == ...`` of its own in the operator: repositories
    are bare repositories of the real git server, everything else is recorded."""

    topics_at_creation = False

    def __init__(self, git_server):
        from airflow_provider_hisham.export.git import GitCredentials
        from airflow_provider_hisham.export.urls import connection_origin

        self.git, self.repos, self.calls, self.topics, self.protected = git_server, {}, [], {}, set()
        self.credentials = GitCredentials("git", TOKEN, connection_origin(git_server.url, conn_id="fake"), "fake host")

    def get_repository(self, name, namespace=None):
        return self.repos.get(name)

    def create_repository(self, name, namespace=None, *, private=True, description=None, settings=None):
        from airflow_provider_hisham.export.remote import RemoteRepository

        self.git.create_bare(f"fake/{name}")
        self.calls.append(("create", name))
        self.repos[name] = RemoteRepository(name, f"https://fake.example/{name}", self.git.repo_url(f"fake/{name}"),
                                            "main", description, id=f"fake/{name}")
        return RemoteRepository(**{**vars(self.repos[name]), "created": True})

    def create_branch(self, repository, branch, sha):
        subprocess.run(["git", "-C", str(self.git.root / f"{repository}.git"), "branch", branch, sha], check=True)
        self.calls.append(("branch", branch))
        return True

    def push_credentials(self):
        return self.credentials

    def get_topics(self, repository):
        return self.topics.get(repository, [])

    def set_topics(self, repository, topics):
        self.topics[repository] = topics
        self.calls.append(("topics", tuple(topics)))

    def get_default_branch(self, repository):
        return "main"

    def set_default_branch(self, repository, branch):
        self.calls.append(("default_branch", branch))

    def get_protection(self, repository, branch):
        return {"branch": branch} if (repository, branch) in self.protected else None

    def set_protection(self, repository, branch, required_reviews, required_checks, strict):
        self.protected.add((repository, branch))
        self.calls.append(("protect", branch))

    def find_request(self, repository, head_branch): ...
    def open_request(self, repository, head_branch, base_branch, spec): ...
    def update_request(self, repository, request, spec): ...


def test_a_host_registered_in_hosts_is_exported_to_through_the_interface_only(git_server, make_project, monkeypatch,
                                                                              push_retry_waits):
    from airflow_provider_hisham.export.host import RepositoryHost
    from airflow_provider_hisham.operators import repo_creation

    host = FakeHost(git_server)
    assert isinstance(host, RepositoryHost)
    monkeypatch.setitem(repo_creation.HOSTS, "fakehost", lambda op: host)
    src = make_project(3, "fake-export")
    op = repo_creation.HishamOSRepoCreationOperator(task_id="export", source_dir=str(src), target="fakehost",
                                                    branches=["develop"],
                                                    settings={"topics": ["demo"], "protect_branches": ["main"]})
    result = op.execute(_ctx("export"))
    assert result["url"] == "https://fake.example/fake-export"
    assert git_server.head("fake/fake-export") == result["commit_sha"]
    assert git_server.head("fake/fake-export", "develop") == result["commit_sha"]
    assert host.calls == [("create", "fake-export"), ("branch", "develop"), ("topics", ("demo",)),
                          ("protect", "main")]
    assert "[hisham-export:" in host.repos["fake-export"].description  # the retry marker travels with it
    # The next try finds the repository by its marker: nothing is created or configured again.
    host.calls.clear()
    monkeypatch.setattr(host, "create_branch", lambda repository, branch, sha: False)
    assert op.execute(_ctx("export", 2)) == result
    assert host.calls == []
    assert push_retry_waits == []  # the push went through at once (a retry would be recorded here, not slept)


def test_an_unknown_target_names_the_registered_hosts(monkeypatch, tmp_path):
    from airflow_provider_hisham.operators import repo_creation
    from airflow_provider_hisham.operators.pull_request import HishamOSPullRequestOperator

    monkeypatch.setitem(repo_creation.HOSTS, "fakehost", lambda op: None)
    op = repo_creation.HishamOSRepoCreationOperator(task_id="export", source_dir=str(tmp_path), target="svn")
    with pytest.raises(ValueError, match=r"one of github, gitlab, fakehost, git, zip, tar.gz, got 'svn'"):
        op.execute(_ctx("export"))
    pr = HishamOSPullRequestOperator(task_id="propose", source_dir=str(tmp_path), target="svn")
    with pytest.raises(ValueError, match=r"one of github, gitlab, fakehost, git, got 'svn'"):
        pr.execute(_ctx("propose"))


@pytest.mark.parametrize(("map_index", "expected"), [(-1, "hisham-export:c7edd9a7f00747b9"), (None, "hisham-export:6992b4a6c7535361")])
def test_the_repository_description_marker_keeps_the_value_earlier_releases_wrote(map_index, expected):
    """Repositories created before an upgrade carry this marker; the retry must still find them."""
    from types import SimpleNamespace

    from airflow_provider_hisham.operators.repo_creation import HishamOSRepoCreationOperator

    run_id = "manual__2024-01-01T00:00:00+00:00" if map_index == -1 else "run"
    ti = SimpleNamespace(dag_id="dag", run_id=run_id, task_id="export", map_index=map_index)
    assert HishamOSRepoCreationOperator._marker(None, {"ti": ti}) == expected


def test_the_operators_push_retries_wait_through_the_one_seam(git_server, make_project, push_retry_waits, monkeypatch):
    """An operator's transient push failures back off ``push_backoff * 2**n``, through
    ``export.git.wait_before_retry`` (what ``push_retry_waits`` records for every test here)."""
    from airflow_provider_hisham.export import git
    from airflow_provider_hisham.operators.repo_creation import HishamOSRepoCreationOperator

    monkeypatch.setenv("AIRFLOW_CONN_GIT_SERVER", json.dumps(
        {"conn_type": "generic", "host": git_server.url, "login": "x-access-token", "password": TOKEN}))
    path = "plain/op-push-retry"
    git_server.create_bare(path)
    git_server.stop_backend()  # nginx answers 502 until the second wait

    def wait(seconds: float) -> None:
        push_retry_waits.append(seconds)
        if len(push_retry_waits) == 2:
            git_server.start_backend()

    monkeypatch.setattr(git, "wait_before_retry", wait)
    op = HishamOSRepoCreationOperator(task_id="export", source_dir=str(make_project(3, "op-push-retry")), target="git",
                                      git_conn_id="git_server", git_url=git_server.repo_url(path), push_retries=4,
                                      push_backoff=2.0)
    try:
        result = op.execute(_ctx("export"))
    finally:
        git_server.start_backend()
    assert push_retry_waits == [2.0, 4.0]
    assert git_server.head(path) == result["commit_sha"]
