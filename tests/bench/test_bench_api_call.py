"""Smoke run of bench/bench_api_call.py with tiny sizes, so the benchmark cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.bench
def test_bench_api_call_runs_and_reports_a_ratio(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "AIRFLOW_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "bench/bench_api_call.py", "--n", "20", "--rounds", "2", "--warmup", "5",
                           "--chunk", "10"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "stories created: 90 (expected 90); hook log lines: 45" in out
    assert "ratio hook/plain = " in out and out.count("round ") == 2
