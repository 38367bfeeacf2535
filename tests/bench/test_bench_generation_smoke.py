"""The generation benchmark still runs (tiny sizes); its figures come from running it by hand."""

from __future__ import annotations

import pytest

from bench import bench_generation


@pytest.mark.bench
def test_bench_runs_on_a_tiny_template():
    results = bench_generation.main(["--files", "30", "--repeat", "1", "--big", "60"])
    for key in ("ours", "cookiecutter", "copier", "ratio_cookiecutter", "ratio_copier", "big_seconds", "memory_ratio"):
        assert results[key] > 0, key


def test_bench_template_flavours_have_the_same_files(tmp_path):
    names = {}
    for flavor in ("native", "cookiecutter", "copier"):
        root = bench_generation.make_template(str(tmp_path / flavor), 20, flavor)
        files = sorted(p.relative_to(root) for p in __import__("pathlib").Path(root).rglob("*.py"))
        names[flavor] = [str(p).replace("{{cookiecutter.project_slug}}/", "").replace("cookiecutter.", "") for p in files]
    assert names["native"] == names["cookiecutter"] == names["copier"]
    assert len(names["native"]) == 20
