"""HishamOSFileGenerationOperator in real Airflow (``dag.test()``): XCom summary, templating, metrics, failures."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from airflow.utils.state import DagRunState, TaskInstanceState

from airflow_provider_hisham.operators import file_generation as fg
from airflow_provider_hisham.operators import observed
from tests.conftest import run_dag, xcom
from tests.servers.fixtures import both_tiers

HEADER = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_hisham.operators.file_generation import HishamOSFileGenerationOperator
"""


class RecordingStats:
    calls: list[tuple] = []

    @classmethod
    def incr(cls, name, count=1, rate=1, *, tags=None):
        cls.calls.append(("incr", name, count))

    @classmethod
    def timing(cls, name, dt, tags=None):
        cls.calls.append(("timing", name, dt))


@pytest.fixture
def stats(monkeypatch):
    RecordingStats.calls = []
    monkeypatch.setattr(fg, "Stats", RecordingStats)
    monkeypatch.setattr(observed, "Stats", RecordingStats)  # the step's duration, successes, failures
    return RecordingStats


@pytest.fixture
def root(airflow_home) -> Path:
    return Path(os.environ["AIRFLOW__HISHAM__GENERATED_PROJECTS_ROOT"])


def _ti_state(dag_run, task_id):
    return next(ti.state for ti in dag_run.get_task_instances() if ti.task_id == task_id)


def test_template_generation_with_templated_fields(root, stats):
    dr = run_dag(
        HEADER
        + """
with DAG("fg_template", schedule=None, start_date=pendulum.datetime(2025, 1, 1)) as dag:
    HishamOSFileGenerationOperator(
        task_id="generate",
        project_id="{{ dag_run.conf['project_id'] }}",
        template="python-package",
        context={"project_name": "{{ dag_run.conf['name'] }}", "use_cli": "{{ dag_run.conf['cli'] }}"},
    )
""",
        conf={"project_id": "demo-pkg", "name": "Airflow Made", "cli": "false"},
    )
    assert dr.state == DagRunState.SUCCESS
    summary = xcom(dr, "generate")
    assert set(summary) >= {"project_id", "output_dir", "total_files", "total_bytes", "manifest_path", "sha256", "generated_project_id"}
    assert summary["project_id"] == "demo-pkg"
    assert summary["output_dir"] == str(root / "demo-pkg")
    assert summary["generated_project_id"] is None
    out = root / "demo-pkg"
    assert (out / "src" / "airflow_made" / "core.py").is_file()
    assert not (out / "src" / "airflow_made" / "cli.py").exists()
    manifest = json.loads(Path(summary["manifest_path"]).read_text())
    assert manifest["totals"]["files"] == summary["total_files"]
    names = [c[1] for c in stats.calls]
    assert "hisham.file_generation.duration" in names
    assert ("incr", "hisham.file_generation.files", summary["total_files"]) in stats.calls
    assert ("incr", "hisham.file_generation.bytes", summary["total_bytes"]) in stats.calls


def test_inline_structure_from_upstream_xcom_and_progress_log(root, stats, caplog, capfd):
    dr = run_dag(
        HEADER
        + """
from airflow.sdk import task

with DAG("fg_structure", schedule=None, start_date=pendulum.datetime(2025, 1, 1)) as dag:
    @task
    def plan():
        files = {f"src/mod{i:04d}.py": f"X = {i}\\n" for i in range(2500)}
        files["tests/"] = {}
        files["docs"] = {"index.md": "# Docs\\n"}
        return files

    HishamOSFileGenerationOperator(task_id="generate", project_id="from-structure", structure=plan(), progress_every=1000)
"""
    )
    assert dr.state == DagRunState.SUCCESS
    summary = xcom(dr, "generate")
    assert summary["total_files"] == 2501
    assert len(json.dumps(summary)) < 1024
    assert (root / "from-structure" / "src" / "mod2499.py").read_text() == "X = 2499\n"
    assert (root / "from-structure" / "tests").is_dir()
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert "Generated 1000 of 2501 files" in logged or "Generated 2000 of 2501 files" in logged, logged[-2000:]
    assert "Generated 2501 of 2501 files" in logged


def test_refused_generation_fails_the_task_and_counts_a_failure(root, stats):
    (root / "safe").mkdir(parents=True, exist_ok=True)
    dr = run_dag(
        HEADER
        + """
with DAG("fg_refused", schedule=None, start_date=pendulum.datetime(2025, 1, 1)) as dag:
    HishamOSFileGenerationOperator(task_id="generate", project_id="evil", structure={"../safe/pwned.txt": "x"})
"""
    )
    assert dr.state == DagRunState.FAILED
    assert _ti_state(dr, "generate") == TaskInstanceState.FAILED
    assert not (root / "safe" / "pwned.txt").exists()
    assert not (root / "evil").exists()
    assert ("incr", "hisham.file_generation.failures", 1) in stats.calls


def test_limits_come_from_the_hisham_config_section(root, stats, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HISHAM__MAX_FILES", "2")
    dr = run_dag(
        HEADER
        + """
with DAG("fg_limits", schedule=None, start_date=pendulum.datetime(2025, 1, 1)) as dag:
    HishamOSFileGenerationOperator(task_id="generate", project_id="too-many", structure={"a": "1", "b": "2", "c": "3"})
"""
    )
    assert dr.state == DagRunState.FAILED
    assert not (root / "too-many").exists()


def test_config_helpers(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW__HISHAM__GENERATED_PROJECTS_ROOT", "")
    assert fg.output_root_from_config() == os.path.join(os.environ["AIRFLOW_HOME"], "generated-projects")
    monkeypatch.setenv("AIRFLOW__HISHAM__MAX_FILE_BYTES", "123")
    assert fg.limits_from_config().max_file_bytes == 123
    monkeypatch.setenv("AIRFLOW__HISHAM__TEMPLATES_DIR", str(tmp_path))
    dirs = fg.templates_dirs_from_config()
    assert dirs[0] == str(tmp_path) and dirs[-1] == str(fg.PACKAGE_TEMPLATES)


def test_template_fields_and_no_heavy_imports_at_parse_time():
    import subprocess
    import sys

    assert {"project_id", "template", "context", "structure"} <= set(fg.HishamOSFileGenerationOperator.template_fields)
    code = (
        "import sys; import airflow_provider_hisham.operators.file_generation; "
        "print('LOADED', sorted(m for m in ('git', 'gitlab', 'github', 'cookiecutter', 'copier') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert "LOADED []" in out.stdout


HISHAMOS_DAG = HEADER + """
with DAG("fg_hishamos", schedule=None, start_date=pendulum.datetime(2025, 1, 1)) as dag:
    HishamOSFileGenerationOperator(
        task_id="generate",
        project_id="registered",
        template="fastapi-service",
        context={"service_name": "Orders API"},
        hishamos_conn_id="CONN_ID",
        hishamos_project_id="{{ dag_run.conf['hishamos_project'] }}",
    )
"""


GP = "/api/v1/projects/generated-projects/"
GP_ONE = GP + "[^/]+/"


def _gp_calls(hishamos):
    return [(r.method, r.status, (r.body or {}).get("status")) for r in hishamos.state.requests
            if r.path.startswith(GP) and r.method in ("POST", "PATCH")]


@both_tiers
@pytest.mark.parametrize("auth_mode", ["password", "jwt_secret"])
def test_registers_one_generated_project_record_in_hishamos(root, stats, hishamos, hishamos_conn, capfd, auth_mode,
                                                            hishamos_tier):
    conn_id = hishamos_conn(auth_mode, conn_id=f"hishamos_fg_{auth_mode}")
    project = hishamos.state.demo_project_id
    source = HISHAMOS_DAG.replace("CONN_ID", conn_id)
    dr = run_dag(source, conf={"hishamos_project": project})
    assert dr.state == DagRunState.SUCCESS
    summary = xcom(dr, "generate")
    record = hishamos.state.generated_projects[summary["generated_project_id"]]
    assert record["project"] == project and record["status"] == "completed" and record["error_message"] == ""
    path, _, key = record["output_directory"].partition("#")
    assert path == summary["output_dir"] == str(root / "registered") and key.startswith("af1-")
    # created "generating" before any file was written, then completed; no read-only field sent
    assert _gp_calls(hishamos) == [("POST", 201, "generating"), ("PATCH", 200, "completed")]
    assert not any({"total_files", "total_size", "completed_at"} & set(r.body or {})
                   for r in hishamos.state.requests if r.path.startswith(GP))
    # Another run is another generation: its own record.
    dr2 = run_dag(source, conf={"hishamos_project": project})
    assert xcom(dr2, "generate")["generated_project_id"] != summary["generated_project_id"]
    assert len(hishamos.state.generated_projects) == 2
    # Secrets of the connection never reach XCom or the task log.
    out, err = capfd.readouterr()
    secrets = [hishamos.state.jwt_secret, hishamos.state.user.password]
    for value in secrets:
        assert value not in json.dumps(summary) and value not in out + err


RETRY_DAG = HEADER + """
with DAG("fg_hishamos_retry", schedule=None, start_date=pendulum.datetime(2025, 1, 1)) as dag:
    HishamOSFileGenerationOperator(
        task_id="generate",
        project_id="retried",
        structure=STRUCTURE,
        retries=RETRIES,
        retry_delay=pendulum.duration(seconds=0),
        hishamos_conn_id="hishamos_fg_retry",
        hishamos_project_id="{{ dag_run.conf['hishamos_project'] }}",
    )
"""


def _retry_dag(structure=None, retries=1):
    return RETRY_DAG.replace("STRUCTURE", repr(structure or {"README.md": "# retried\n"})).replace(
        "RETRIES", str(retries))


@both_tiers
def test_task_retried_after_its_record_was_created_completes_that_record(root, stats, hishamos, hishamos_conn):
    """Try 1 creates the record and writes the files, then cannot mark it completed (HishamOS
    answers 500): the task fails and is retried. Try 2 finds the record by its marker and
    completes it: one record, never an invalid transition."""
    hishamos_conn("password", conn_id="hishamos_fg_retry")
    project = hishamos.state.demo_project_id
    hishamos.inject("status", status=500, method="PATCH", path=GP_ONE)
    dr = run_dag(_retry_dag(), conf={"hishamos_project": project})
    assert dr.state == DagRunState.SUCCESS
    assert [ti.try_number for ti in dr.get_task_instances()] == [2]
    (record,) = hishamos.state.generated_projects.values()
    assert record["status"] == "completed" and xcom(dr, "generate")["generated_project_id"] == record["id"]
    assert _gp_calls(hishamos) == [("POST", 201, "generating"), ("PATCH", 500, "completed"),
                                   ("PATCH", 200, "completed")]


def test_create_whose_response_was_lost_then_a_failed_try_leaves_one_record(root, stats, hishamos, hishamos_conn,
                                                                           hishamos_retry_waits):
    """The POST is committed but its answer lost, and the lookup after it fails too: try 1 fails.
    Try 2 finds the record the server committed."""
    hishamos_conn("password", conn_id="hishamos_fg_retry")
    project = hishamos.state.demo_project_id
    hishamos.inject("drop_after_commit", method="POST", path=GP)
    hishamos.inject("status", status=500, method="GET", path=GP, skip=1)
    dr = run_dag(_retry_dag(), conf={"hishamos_project": project})
    assert dr.state == DagRunState.SUCCESS
    (record,) = hishamos.state.generated_projects.values()
    assert record["status"] == "completed" and len(hishamos.requests_to("POST", GP)) == 1
    # one wait: after the lost answer, before the retry's recovery lookup (whose 500 fails the try);
    # RetryPolicy's first backoff (half of base 0.5 s plus jitter), recorded instead of slept
    assert len(hishamos_retry_waits) == 1 and 0.25 <= hishamos_retry_waits[0] <= 0.5, hishamos_retry_waits


def test_a_failed_generation_marks_its_record_failed_with_the_error(root, stats, hishamos, hishamos_conn):
    hishamos_conn("password", conn_id="hishamos_fg_retry")
    project = hishamos.state.demo_project_id
    dr = run_dag(_retry_dag({"../escape.txt": "x"}, retries=1), conf={"hishamos_project": project})
    assert dr.state == DagRunState.FAILED
    (record,) = hishamos.state.generated_projects.values()
    assert record["status"] == "failed" and "escape" in record["error_message"]
    # try 1 noted its error and kept "generating" (a retry was coming); the last try marked it failed
    assert _gp_calls(hishamos) == [("POST", 201, "generating"), ("PATCH", 200, None), ("PATCH", 200, "failed")]
    assert not (root / "escape.txt").exists()


def test_unknown_hishamos_project_fails_the_task_before_anything_is_written(root, stats, hishamos, hishamos_conn):
    conn_id = hishamos_conn("password", conn_id="hishamos_fg_missing")
    shutil.rmtree(root / "registered", ignore_errors=True)
    dr = run_dag(HISHAMOS_DAG.replace("CONN_ID", conn_id), conf={"hishamos_project": "00000000-0000-4000-8000-000000000000"})
    assert dr.state == DagRunState.FAILED
    assert hishamos.state.generated_projects == {}
    assert not (root / "registered" / "app" / "main.py").exists()
