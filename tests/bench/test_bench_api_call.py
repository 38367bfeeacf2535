"""Smoke run of bench/bench_api_call.py with tiny sizes, so the benchmark cannot rot."""

from __future__ import annotations

import os
import re
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
    assert "ratio hook/plain = " in out and len(re.findall(r"^round \d+: ", out, re.M)) == 2
    # each side: median and spread of the rounds; the figure: the ratio of the medians
    assert len(re.findall(r"median \d+\.\d+ s, spread \d+\.\d+-\d+\.\d+ s \(2 rounds\)", out)) == 2, out
    assert re.search(r"hook/plain = \d+\.\d+x \(ratio of medians; per-round ", out), out
