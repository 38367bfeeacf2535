"""The parse benchmark runs end to end at a tiny size (so it cannot rot); no timing asserted."""

from __future__ import annotations

import pytest

from bench import bench_dag_parse


@pytest.mark.bench
def test_bench_dag_parse_runs_at_tiny_size(capsys):
    results = bench_dag_parse.main(["--workflows", "2", "--runs", "2", "--rounds", "1"])
    out = capsys.readouterr().out
    assert "ours / hand-written" in out and "dag-factory / ours" in out
    for name in ("ours (cold)", "ours", "hand", "dag-factory"):
        # each variant parsed the same 2 DAGs of 21 tasks (20 steps + the branch task), no errors
        assert results[name]["sizes"] == [(2, 42, 0)], name
