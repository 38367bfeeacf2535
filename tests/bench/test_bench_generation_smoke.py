"""The generation benchmark still runs (tiny sizes); its figures come from running it by hand."""

from __future__ import annotations

import re

import pytest

from bench import bench_generation


@pytest.mark.bench
def test_bench_runs_on_a_tiny_template(capsys):
    results = bench_generation.main(["--files", "30", "--repeat", "2", "--big", "60"])
    for key in ("ours", "cookiecutter", "copier", "ratio_cookiecutter", "ratio_copier", "big_seconds", "memory_ratio",
                "ratio_big_floor"):
        assert results[key] > 0, key
    assert all(len(values) == 2 for values in results["rounds"].values())  # --repeat still names the rounds
    out = capsys.readouterr().out
    # each tool's time (4), the 60-file run and its bare-loop floor: median and spread of the rounds
    assert len(re.findall(r"median \d+\.\d+ s, spread \d+\.\d+-\d+\.\d+ s \(2 rounds\)", out)) == 6, out
    assert out.count("x (ratio of medians; per-round ") == 4, out


def test_bench_template_flavours_have_the_same_files(tmp_path):
    names = {}
    for flavor in ("native", "cookiecutter", "copier"):
        root = bench_generation.make_template(str(tmp_path / flavor), 20, flavor)
        files = sorted(p.relative_to(root) for p in __import__("pathlib").Path(root).rglob("*.py"))
        names[flavor] = [str(p).replace("{{cookiecutter.project_slug}}/", "").replace("cookiecutter.", "") for p in files]
    assert names["native"] == names["cookiecutter"] == names["copier"]
    assert len(names["native"]) == 20
