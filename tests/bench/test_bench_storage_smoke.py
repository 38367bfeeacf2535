"""Smoke run of bench/bench_storage.py on a small project so the benchmark cannot rot."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.bench
def test_bench_storage_smoke(capsys):
    spec = importlib.util.spec_from_file_location("bench_storage", REPO_ROOT / "bench" / "bench_storage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    row = module.main(["--files", "60"])
    assert row["files"] == 60 and row["ours"] > 0 and row["plain"] > 0 and row["local"] >= 0
    out = capsys.readouterr().out
    assert "ratio (s3fs / provider)" in out and "storage adds" in out
