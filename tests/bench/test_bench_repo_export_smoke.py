"""Smoke run of bench/bench_repo_export.py with tiny sizes so the benchmark cannot rot."""

from __future__ import annotations

import importlib.util
import re

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.bench
def test_bench_repo_export_smoke(capsys):
    spec = importlib.util.spec_from_file_location("bench_repo_export", REPO_ROOT / "bench" / "bench_repo_export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.main(["--sizes", "15,40", "--repeat", "1"])
    assert [r[0] for r in rows] == [15, 40]
    assert all(git_s > 0 and ours > 0 for _, git_s, ours in rows)
    out = capsys.readouterr().out
    assert "ratio" in out and out.count("x\n") >= 2
    # each size: both sides' median and spread over the rounds, and the ratio of the medians
    assert len(re.findall(r"median \d+\.\d+ s, spread \d+\.\d+-\d+\.\d+ s \(1 rounds\)", out)) == 4, out
    assert out.count("x (ratio of medians; per-round ") == 2, out
