"""Dry runs of factory-built DAGs: the ``dry_run`` Param in both config formats, and every step type
reporting instead of acting (``dag.test()`` against the HishamOS stand-in and the git server)."""

from __future__ import annotations

import json

import pytest
from airflow.utils.state import DagRunState

from airflow_provider_hisham.workflow import build_dag
from airflow_provider_hisham.workflow.errors import WorkflowConfigError
from airflow_provider_hisham.workflow.hishamos_definition import compile_source
from airflow_provider_hisham.workflow.source import parse_text
from tests.conftest import run_dag, xcom
from tests.servers.repo_fixtures import TOKEN, git_server  # noqa: F401  (fixture)
from tests.workflow.hishamos_stub import stub_registry

ECHO = [{"id": "a", "type": "api_call", "config": {"action": "list_stories"}}]


def test_every_factory_built_dag_has_a_boolean_dry_run_param():
    dag = build_dag({"dag_id": "dr_param", "params": {"who": {"type": "string", "default": "x"}}, "steps": ECHO})
    assert dag.params.dump() == {"who": "x", "dry_run": False}
    assert dag.params.get_param("dry_run").schema["type"] == "boolean"


def test_a_user_declared_boolean_dry_run_is_kept_and_another_meaning_refused():
    dag = build_dag({"dag_id": "dr_own", "params": {"dry_run": {"type": "boolean", "default": True,
                                                                "description": "mine"}}, "steps": ECHO})
    assert dag.params.dump()["dry_run"] is True
    assert dag.params.get_param("dry_run").description == "mine"
    with pytest.raises(WorkflowConfigError, match="param 'dry_run' is the dry-run switch"):
        build_dag({"dag_id": "dr_bad", "params": {"dry_run": {"type": "string", "default": "no"}}, "steps": ECHO})


def test_hishamos_definitions_get_it_too_and_a_reference_to_it_is_boolean():
    from airflow_provider_hisham.workflow.dag_builder import build_dag_from_plan

    text = ("name: Dry Flow\nversion: '1.0'\nsteps:\n  - id: a\n    agent: Coding Agent\n    max_retries: 0\n"
            "    inputs:\n      flag: '{{input.dry_run}}'\n")
    registry = stub_registry()
    plan = compile_source(parse_text(text, "wf.yaml"), registry)
    assert plan.params["dry_run"]["type"] == "boolean"
    dag = build_dag_from_plan(plan, registry)
    assert dag.params.dump()["dry_run"] is False
    plain = compile_source(parse_text(text.replace("{{input.dry_run}}", "x"), "wf2.yaml"), registry)
    assert "dry_run" not in plain.params and build_dag_from_plan(plain, registry).params.dump() == {"dry_run": False}


# --- every step type under dag.test(), against the real stand-ins ----------------------------------

def _workflow(dag_id: str, *, approval: bool) -> dict:
    """api_call (a write and a read), agent, a parallel block of file_generation lanes (one recorded
    in HishamOS) with combine_projects, approval, repo_creation to the git server and as a ZIP (both
    recorded), pull_request to the git server."""
    steps: list = [
        {"id": "story", "type": "api_call", "config": {"action": "create_story", "data": {
            "project": "{{ params.project }}", "title": "Dry {{ params.slug }}", "description": "d",
            "acceptance_criteria": "a"}}},
        {"id": "stories", "type": "api_call", "config": {"action": "list_stories",
                                                          "data": {"project": "{{ params.project }}"}}},
        {"id": "ask", "type": "agent", "config": {"agent": "Senior Software Engineer",
                                                   "prompt": "Write a module for {{ params.slug }}"}},
        {"parallel": {"id": "lanes", "steps": [
            {"id": "code", "type": "file_generation", "config": {
                "project_id": "{{ params.slug }}-code", "structure": {"src/app.py": "x = 1\n"},
                "hishamos_conn_id": "hishamos_default", "hishamos_project_id": "{{ params.project }}"}},
            {"id": "docs", "type": "file_generation", "config": {
                "project_id": "{{ params.slug }}-docs", "structure": {"README.md": "# {{ params.slug }}\n"}}},
        ], "combine": {"id": "combine", "type": "combine_projects",
                       "config": {"project_id": "{{ params.slug }}", "sources": "{{ steps.lanes.output }}"}}}},
    ]
    if approval:
        steps.append({"id": "review", "type": "approval", "config": {
            "project": "{{ steps.combine.output }}", "target": "git", "branch": "main", "story": "{{ params.slug }}"}})
    steps += [
        {"id": "export", "type": "repo_creation", "config": {
            "source_dir": "{{ steps.combine.output.output_dir }}", "target": "git", "git_url": "{{ params.git_url }}",
            "git_conn_id": "git_default", "commit_message": "Generate {{ params.slug }}",
            "hishamos_conn_id": "hishamos_default", "generated_project_id": "{{ steps.code.output.generated_project_id }}"}},
        {"id": "archive", "type": "repo_creation", "config": {
            "source_dir": "{{ steps.combine.output.output_dir }}", "target": "zip",
            "hishamos_conn_id": "hishamos_default", "generated_project_id": "{{ steps.code.output.generated_project_id }}"}},
        {"id": "request", "type": "pull_request", "config": {
            "source_dir": "{{ steps.combine.output.output_dir }}", "target": "git", "git_url": "{{ params.git_url }}",
            "git_conn_id": "git_default", "title": "Update {{ params.slug }}"}},
    ]
    return {"dag_id": dag_id, "params": {"project": {"type": "string"}, "git_url": {"type": "string"},
                                         "slug": {"type": "string"}}, "steps": steps}


def _run(dag_id: str, conf: dict, *, approval: bool):
    return run_dag(f"from airflow_provider_hisham.workflow import build_dag\n"
                   f"dag = build_dag({_workflow(dag_id, approval=approval)!r})\n", conf=conf, name=dag_id)


def _side_effects(hishamos, git_server, repo: str) -> dict:
    state = hishamos.state
    return {"stories": len(state.stories), "executions": len(state.executions),
            "generated_projects": len(state.generated_projects), "exports": len(state.repository_exports),
            "head": git_server.head(repo), "refs": sorted(p.name for p in (git_server.root / f"{repo}.git" / "refs" / "heads").iterdir())}


def _writes(hishamos) -> list:
    """Requests to HishamOS other than reads and logins (a login is how a read is authenticated)."""
    return [(r.method, r.path) for r in hishamos.state.requests if r.method != "GET" and not r.path.startswith("/api/v1/auth/")]


@pytest.fixture
def stand_ins(hishamos, hishamos_conn, git_server, monkeypatch):
    hishamos_conn("password")
    monkeypatch.setenv("AIRFLOW_CONN_GIT_DEFAULT", json.dumps(
        {"conn_type": "generic", "host": git_server.url, "login": "x-access-token", "password": TOKEN}))
    return hishamos


def test_a_dry_run_of_every_step_type_has_no_side_effect_and_reports_what_would_happen(stand_ins, git_server,
                                                                                     airflow_home):
    hishamos, root = stand_ins, airflow_home / "generated-projects"
    git_server.create_bare("dry/every-step")
    before = _side_effects(hishamos, git_server, "dry/every-step")
    writes_before = _writes(hishamos)
    conf = {"dry_run": True, "project": hishamos.state.demo_project_id, "slug": "dry-every-step",
            "git_url": git_server.repo_url("dry/every-step")}
    dr = _run("dry_every_step", conf, approval=True)
    assert dr.state == DagRunState.SUCCESS, {ti.task_id: ti.state for ti in dr.get_task_instances()}
    out = {t: xcom(dr, t) for t in ("story", "stories", "ask", "code", "docs", "combine", "review", "export",
                                   "archive", "request")}
    assert all(out[t]["dry_run"] is True for t in out if t != "stories")
    # api_call: the write is reported (secrets redacted), the read was made
    assert out["story"]["would"] == "call" and out["story"]["action"] == "create_story"
    assert out["story"]["data"]["title"] == "Dry dry-every-step"
    assert isinstance(out["stories"], list)
    # agent: resolved through a read, not executed
    assert out["ask"]["agent_resolved"] is True and out["ask"]["agent"] == "coding-agent"
    assert out["ask"]["prompt_chars"] == len("Write a module for dry-every-step")
    # file_generation: what would be written, nowhere under the root; combine: the lanes
    assert out["code"]["files"] == ["src/app.py"] and out["code"]["total_bytes"] == len("x = 1")  # Jinja drops the last \\n
    assert len(out["code"]["sha256"]) == 64 and out["code"]["output_dir"] == str(root / "dry-every-step-code")
    assert out["combine"]["total_files"] == 2 and out["combine"]["files"] == ["README.md", "src/app.py"]
    # approval: reported and approved without asking
    assert out["review"]["approved"] is True and out["review"]["total_files"] == 2
    assert out["review"]["files"] == ["README.md", "src/app.py"]
    # repo_creation: target, name, branch, commit message, archive name
    assert out["export"]["would"] == "push" and out["export"]["git_url"] == conf["git_url"]
    assert out["export"]["default_branch"] == "main" and out["export"]["commit_message"] == "Generate dry-every-step"
    assert out["archive"]["archive_name"] == "dry-every-step.zip" and out["archive"]["would"] == "write archive"
    assert out["request"]["would"] == "open or update a request" and out["request"]["title"] == "Update dry-every-step"
    # ...and none of it happened
    assert _side_effects(hishamos, git_server, "dry/every-step") == before
    assert _writes(hishamos) == writes_before
    assert not [p for p in root.glob("dry-every-step*")] if root.exists() else True
    assert TOKEN not in json.dumps(out)


def test_the_same_workflow_without_dry_run_does_it_all(stand_ins, git_server, airflow_home):
    """The normal run (without the approval gate, which would wait for a person under dag.test())."""
    hishamos, root = stand_ins, airflow_home / "generated-projects"
    git_server.create_bare("dry/real-run")
    before = _side_effects(hishamos, git_server, "dry/real-run")
    conf = {"project": hishamos.state.demo_project_id, "slug": "real-every-step",
            "git_url": git_server.repo_url("dry/real-run")}
    dr = _run("real_every_step", conf, approval=False)
    assert dr.state == DagRunState.SUCCESS, {ti.task_id: ti.state for ti in dr.get_task_instances()}
    after = _side_effects(hishamos, git_server, "dry/real-run")
    assert after["stories"] == before["stories"] + 1 and after["executions"] == before["executions"] + 1
    assert after["generated_projects"] == before["generated_projects"] + 1 and after["exports"] == before["exports"] + 1
    assert after["head"] == xcom(dr, "export")["commit_sha"] is not None
    assert (root / "real-every-step" / "src" / "app.py").is_file() and (root / "real-every-step.zip").is_file()
    assert "dry_run" not in xcom(dr, "export") and xcom(dr, "request")["dry_run"] is False


def test_a_raw_write_is_reported_with_credentials_redacted(stand_ins):
    hishamos = stand_ins
    before = _writes(hishamos)
    from airflow.sdk.exceptions import ParamValidationError

    source = ("from airflow_provider_hisham.workflow import build_dag\n"
              f"dag = build_dag({{'dag_id': 'dry_raw', 'steps': [{{'id': 'raw', 'type': 'api_call', 'config': {{"
              f"'method': 'POST', 'endpoint': '/api/v1/projects/', 'data': {{'name': 'x', 'api_key': {TOKEN!r}}}}}}}]}})\n")
    with pytest.raises(ParamValidationError, match="dry_run"):  # the Param is a boolean: no guessing at "true"
        run_dag(source, conf={"dry_run": "true"}, name="dry_raw")
    dr = run_dag(source, conf={"dry_run": True}, name="dry_raw")
    assert dr.state == DagRunState.SUCCESS
    out = xcom(dr, "raw")
    assert out["method"] == "POST" and out["endpoint"] == "/api/v1/projects/" and out["body"]["name"] == "x"
    assert TOKEN not in json.dumps(out) and _writes(hishamos) == before


def test_retention_in_a_dry_run_removes_no_archive(tmp_path):
    import os
    import time

    old = tmp_path / "old-project.zip"
    old.write_bytes(b"PK")
    month_ago = time.time() - 30 * 86400
    os.utime(old, (month_ago, month_ago))
    source = f"""
from datetime import datetime
from airflow.sdk import DAG
from airflow_provider_hisham.operators.retention import HishamOSRetentionOperator

with DAG("dry_retention", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         params={{"dry_run": False}}) as dag:
    HishamOSRetentionOperator(task_id="retention", retention_days=7, archive_dirs=[{str(tmp_path)!r}])
"""
    dr = run_dag(source, conf={"dry_run": True}, name="dry_retention")
    assert dr.state == DagRunState.SUCCESS
    report = xcom(dr, "retention")
    assert report["dry_run"] is True and report["archives_removed"] == [str(old)] and old.is_file()
