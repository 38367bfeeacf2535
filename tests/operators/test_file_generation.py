"""FileGenerationOperator in real Airflow (``dag.test()``): XCom summary, templating, metrics, failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from airflow.utils.state import DagRunState, TaskInstanceState

from airflow_provider_hisham.operators import file_generation as fg
from tests.conftest import run_dag, xcom

HEADER = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_hisham.operators.file_generation import FileGenerationOperator
"""


class RecordingStats:
    calls: list[tuple] = []

    @classmethod
    def incr(cls, name, count=1, rate=1, *, tags=None):
        cls.calls.append(("incr", name, count))

    @classmethod
    def timing(cls, name, dt, *, tags=None):
        cls.calls.append(("timing", name, dt))


@pytest.fixture
def stats(monkeypatch):
    RecordingStats.calls = []
    monkeypatch.setattr(fg, "Stats", RecordingStats)
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
    FileGenerationOperator(
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

    FileGenerationOperator(task_id="generate", project_id="from-structure", structure=plan(), progress_every=1000)
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
    FileGenerationOperator(task_id="generate", project_id="evil", structure={"../safe/pwned.txt": "x"})
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
    FileGenerationOperator(task_id="generate", project_id="too-many", structure={"a": "1", "b": "2", "c": "3"})
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

    assert {"project_id", "template", "context", "structure"} <= set(fg.FileGenerationOperator.template_fields)
    code = (
        "import sys; import airflow_provider_hisham.operators.file_generation; "
        "print('LOADED', sorted(m for m in ('git', 'gitlab', 'github', 'cookiecutter', 'copier') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert "LOADED []" in out.stdout
