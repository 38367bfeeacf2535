"""The HishamOS-definition parse benchmark runs end to end at a tiny size; no timing asserted."""

from __future__ import annotations

import pytest

from bench import bench_hishamos_parse


@pytest.mark.bench
def test_bench_hishamos_parse_runs_at_tiny_size(capsys):
    results = bench_hishamos_parse.main(["--workflows", "2", "--rounds", "1", "--runs", "1"])
    out = capsys.readouterr().out
    assert "cold  : HishamOS format / own format" in out and "cached: HishamOS format / own format" in out
    assert out.count("median ") == 4 and out.count(" s (1 rounds)") == 4, out  # each variant: median and spread
    assert out.count("x (ratio of medians; per-round ") == 2, out
    # workflows of 10 and 11 steps: the same tasks in both formats, plus resolve_agents for HishamOS
    assert results["own cold"]["sizes"] == results["own cached"]["sizes"] == [(2, 21, 0)]
    assert results["hishamos cold"]["sizes"] == results["hishamos cached"]["sizes"] == [(2, 23, 0)]
