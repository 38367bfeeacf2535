"""The parse benchmark runs end to end at a tiny size (so it cannot rot); no timing asserted."""

from __future__ import annotations

import re

import pytest

from bench import bench_dag_parse


@pytest.mark.bench
def test_bench_dag_parse_runs_at_tiny_size(capsys):
    results = bench_dag_parse.main(["--workflows", "2", "--runs", "2", "--rounds", "2"])
    out = capsys.readouterr().out
    assert "ours / hand-written" in out and "dag-factory / ours" in out
    # every figure: the median and spread of the rounds; comparisons: ratios of medians
    assert len(re.findall(r"(first|again) median \d+\.\d+ s, spread \d+\.\d+-\d+\.\d+ s \(2 rounds\)", out)) == 8, out
    assert out.count("x (ratio of medians; per-round ") == 6, out
    assert all(len(r["rounds"]["first"]) == 2 for r in results.values())
    for name in ("ours (cold)", "ours", "hand", "dag-factory"):
        # each variant parsed the same 2 DAGs of 21 tasks (20 steps + the branch task), no errors
        assert results[name]["sizes"] == [(2, 42, 0)], name
