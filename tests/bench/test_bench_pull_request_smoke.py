"""Smoke run of bench/bench_pull_request.py with a tiny tree so the benchmark cannot rot."""

from __future__ import annotations

import importlib.util
import re

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.bench
def test_bench_pull_request_smoke(capsys):
    spec = importlib.util.spec_from_file_location("bench_pull_request", REPO_ROOT / "bench" / "bench_pull_request.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    row = module.main(["--files", "60", "--changed", "3", "--repeat", "2"])
    assert row["git_s"] > 0 and row["provider_s"] > 0
    # Only the difference goes over the wire: a few KiB for 3 changed files, both ways.
    assert 0 < row["provider_bytes"] < 20_000 and 0 < row["git_bytes"] < 20_000
    out = capsys.readouterr().out
    assert "ratio" in out and "pack pushed" in out
    assert len(re.findall(r"median \d+\.\d+ s, spread \d+\.\d+-\d+\.\d+ s \(2 rounds\)", out)) == 2, out
    assert "x (ratio of medians; per-round " in out
