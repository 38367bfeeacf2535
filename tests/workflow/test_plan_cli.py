"""The plan command: a workflow's tasks, upstreams and configs without Airflow (in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "dags" / "workflows" / "story_to_repository.yaml"
PROJECT = "0f0e0d0c-0b0a-4909-8807-060504030201"


def plan(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "airflow_provider_hisham.workflow.plan_cli", *args],
                          capture_output=True, text=True, timeout=120, env=env, cwd=REPO_ROOT)


def test_the_plan_lists_tasks_in_order_with_upstreams_and_configs():
    done = plan(str(EXAMPLE), "--conf", json.dumps({"hishamos_project": PROJECT, "dry_run": True}))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["dag_id"] == "hisham_story_to_repository" and out["dry_run"] is True
    assert out["params"]["project_slug"] == "order-history-export" and out["params"]["hishamos_project"] == PROJECT
    assert [(t["task_id"], t["type"], t["upstream"]) for t in out["tasks"]] == [
        ("create_story", "api_call", []), ("generate", "file_generation", ["create_story"]),
        ("export", "repo_creation", ["generate"]), ("archive", "repo_creation", ["export"]),
    ]
    generate = out["tasks"][1]["config"]
    assert generate["project_id"] == "order-history-export"  # a whole {{ params.x }} shows its value
    assert "{{ steps.create_story.output.number }}" in generate["structure"]["README.md"]  # run-time: as written


def test_without_the_conf_a_run_would_need_dry_run_is_false_and_a_missing_param_is_named():
    missing = plan(str(EXAMPLE))
    assert missing.returncode == 2 and "param 'hishamos_project' has no default" in missing.stderr
    done = plan(str(EXAMPLE), "--conf", json.dumps({"hishamos_project": PROJECT}))
    assert done.returncode == 0 and json.loads(done.stdout)["dry_run"] is False


def test_an_invalid_config_or_conf_is_refused_naming_it(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("dag_id: bad\nsteps:\n  - id: a\n    type: mail\n")
    done = plan(str(bad))
    assert done.returncode == 2 and "unknown step type 'mail'" in done.stderr and "bad.yaml" in done.stderr
    for conf, message in (("[1]", "expected a JSON object"), ("{", "not JSON"),
                          (json.dumps({"hishamos_project": PROJECT, "dry_run": "yes"}), "param 'dry_run'")):
        done = plan(str(EXAMPLE), "--conf", conf)
        assert done.returncode == 2 and message in done.stderr, (conf, done.stderr)


def test_the_plan_imports_no_airflow():
    code = ("import sys, contextlib, io\nfrom airflow_provider_hisham.workflow import plan_cli\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert plan_cli.main([{str(EXAMPLE)!r}, '--conf', '{{\"hishamos_project\": \"{PROJECT}\"}}']) == 0\n"
            "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
