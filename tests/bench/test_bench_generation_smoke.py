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


@pytest.mark.bench
def test_busy_spins_a_child_for_the_rounds_and_ends_it(capsys, monkeypatch):
    started = []
    real_popen = bench_generation.subprocess.Popen

    def popen(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(bench_generation.subprocess, "Popen", popen)
    results = bench_generation.main(["--files", "20", "--rounds", "2", "--big", "40", "--peers", "cookiecutter", "--busy"])
    assert results["busy"] is True
    spinners = [p for p in started if p.args[-1] == bench_generation.SPIN]  # subprocess.run uses Popen too
    assert len(spinners) == 1
    assert spinners[0].poll() is not None  # killed and reaped when the bench ended
    out = capsys.readouterr().out
    assert "the other core busy" in out
    assert len(re.findall(r"round \d: ours \d+\.\d+ s, ours_cookiecutter_mode \d+\.\d+ s, cookiecutter \d+\.\d+ s", out)) == 2, out
    assert "round 1 (provider first)" in out and "round 2 (bare loop first)" in out, out
