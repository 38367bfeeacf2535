"""Smoke run of bench/bench_agent_steps.py with tiny sizes, so the benchmark cannot rot."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.bench
def test_bench_agent_steps_runs_both_sides_and_reports_a_ratio(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "AIRFLOW_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "bench/bench_agent_steps.py", "--n", "10", "--rounds", "2", "--warmup", "2",
                           "--chunk", "5"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    # every step of both sides really ran an agent on the stand-in; each operator step logged its answer
    assert "agent executions recorded: 44 (expected 44); operator log lines: 22" in out, out
    assert len(re.findall(r"^round \d+: ", out, re.M)) == 2
    assert len(re.findall(r"median \d+\.\d+ s, spread \d+\.\d+-\d+\.\d+ s \(2 rounds\)", out)) == 2, out
    assert re.search(r"operator/plain = \d+\.\d+x \(ratio of medians; per-round ", out), out
    ratio = re.search(r"ratio operator/plain = (\d+\.\d+) \(target <= 1\.15\)", out)
    assert ratio and float(ratio.group(1)) > 0, out
    assert re.search(r"credential masking on the operator side: \d+\.\d+ s", out), out


@pytest.mark.bench
def test_bench_agent_steps_reference_side_runs_airflows_http_hook_on_the_same_server(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "AIRFLOW_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "bench/bench_agent_steps.py", "--n", "6", "--rounds", "2", "--warmup", "2",
                           "--chunk", "3", "--airflow-http"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    # three sides, each step an agent execution the stand-in recorded; the operator's log lines only
    assert "agent executions recorded: 42 (expected 42); operator log lines: 14" in out, out
    assert len(re.findall(r"^round \d+: plain .*, operator .*, airflow_http .*, ratio ", out, re.M)) == 2, out
    assert re.search(r"ratio airflow_http/plain = \d+\.\d+ \(reference: Airflow's own floor, no target\)", out), out
    assert re.search(r"operator/airflow_http = \d+\.\d+x \(ratio of medians; per-round ", out), out
