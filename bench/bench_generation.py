"""Benchmark: the same N-file Jinja template rendered by this provider, cookiecutter and copier.

Run:  python bench/bench_generation.py [--files 1000] [--repeat 3] [--big 10000]

One template tree is written three times with the same files and logic, only the variable
spelling differs (``{{ x }}`` natively and for copier, ``{{ cookiecutter.x }}`` for cookiecutter).
The file mix is 30 % static files, 50 % files that only substitute variables and 20 % files with
``{% if %}`` / ``{% for %}`` logic; one file name in ten is templated. Every run is cold (a new
generator, a new output folder). Ratios are peer time / our time, printed in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

CONTEXT = {"project_name": "Bench Project", "project_slug": "bench_project", "author": "Ada", "version": "1.2.3", "use_logging": True}

STATIC = '''Static document {i}

This file is copied as it is. It has no template syntax, only text that a project keeps:
licences, data, fixtures, documentation.
'''
SIMPLE = '''"""Module {i} of {{{{ {p}project_name }}}} by {{{{ {p}author }}}}."""

VERSION = "{{{{ {p}version }}}}"
SLUG = "{{{{ {p}project_slug }}}}"
INDEX = {i}


def describe_{i}() -> str:
    return SLUG + "-" + str(INDEX)
'''
LOGIC = '''"""Module {i} of {{{{ {p}project_name }}}}."""
{{% if {p}use_logging %}}
import logging

log = logging.getLogger("{{{{ {p}project_slug }}}}.m{i}")
{{% endif %}}
{{% for name in ["alpha", "beta", "gamma"] %}}

def {{{{ name }}}}_{i}() -> str:
    return "{{{{ {p}project_name | lower }}}} {{{{ name }}}} {i}"
{{% endfor %}}
'''


def make_template(root: str, files: int, flavor: str) -> str:
    """Write the template in ``flavor`` (native | cookiecutter | copier) under ``root``."""
    p = "cookiecutter." if flavor == "cookiecutter" else ""
    os.makedirs(root)
    body = os.path.join(root, "{{cookiecutter.project_slug}}") if flavor == "cookiecutter" else root
    if flavor == "cookiecutter":
        with open(os.path.join(root, "cookiecutter.json"), "w") as fh:
            json.dump(CONTEXT, fh)
    elif flavor == "copier":
        with open(os.path.join(root, "copier.yml"), "w") as fh:
            fh.write("_templates_suffix: ''\n")
            for key, value in CONTEXT.items():
                fh.write(f"{key}: {json.dumps(value)}\n")
    else:
        with open(os.path.join(root, "template.yaml"), "w") as fh:
            fh.write("name: bench\nvariables:\n")
            for key, value in CONTEXT.items():
                fh.write(f"  {key}: {{default: {json.dumps(value)}}}\n")
    for i in range(files):
        folder = os.path.join(body, f"pkg{i // 10:04d}")
        os.makedirs(folder, exist_ok=True)
        kind = i % 10
        text = (STATIC if kind < 3 else SIMPLE if kind < 8 else LOGIC).format(i=i, p=p)
        name = f"m{i:05d}_{{{{ {p}project_slug }}}}.py" if kind == 5 else f"m{i:05d}.py"
        with open(os.path.join(folder, name), "w") as fh:
            fh.write(text)
    return root


def run_ours(template: str, out: str) -> None:
    from airflow_provider_hisham.generation import ProjectGenerator

    ProjectGenerator(out).generate("bench", template=template, context=CONTEXT)


def run_cookiecutter(template: str, out: str) -> None:
    from cookiecutter.main import cookiecutter

    cookiecutter(template, no_input=True, output_dir=out, accept_hooks=False)


def run_copier(template: str, out: str) -> None:
    from copier import run_copy

    run_copy(template, out, data=CONTEXT, defaults=True, quiet=True, unsafe=True, overwrite=True)


def _time(fn, template: str, work: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        out = tempfile.mkdtemp(dir=work)
        t0 = time.perf_counter()
        fn(template, out)
        best = min(best, time.perf_counter() - t0)
        shutil.rmtree(out)
    return best


def _peak_child(files: int, work: str) -> tuple[float, float]:
    """Generate ``files`` in a fresh interpreter; return (seconds, peak RSS MiB incl. the worker)."""
    code = (
        "import sys, time, resource, tempfile, os\n"
        f"sys.path.insert(0, {REPO!r})\n"
        "from bench.bench_generation import make_template, run_ours\n"
        f"t = make_template(os.path.join({work!r}, 'big{files}'), {files}, 'native')\n"
        "import airflow_provider_hisham.generation\n"
        "out = tempfile.mkdtemp(dir=" + repr(work) + ")\n"
        "t0 = time.perf_counter(); run_ours(t, out); dt = time.perf_counter() - t0\n"
        "own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(dt, max(own, kids) / 1024)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    seconds, peak = result.stdout.split()
    return float(seconds), float(peak)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big", type=int, default=10000, help="size of the large run (0 to skip)")
    parser.add_argument("--peers", default="cookiecutter,copier")
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="hisham-bench-")
    try:
        results: dict = {"files": args.files}
        flavors = {"ours": ("native", run_ours), "cookiecutter": ("cookiecutter", run_cookiecutter), "copier": ("copier", run_copier)}
        ours_cc = make_template(os.path.join(work, "t-cookiecutter"), args.files, "cookiecutter")
        for name in ["ours", *[p for p in args.peers.split(",") if p]]:
            flavor, fn = flavors[name]
            template = ours_cc if flavor == "cookiecutter" else make_template(os.path.join(work, f"t-{flavor}"), args.files, flavor)
            results[name] = _time(fn, template, work, args.repeat)
        # The provider on the very same cookiecutter tree (compatibility mode).
        results["ours_cookiecutter_mode"] = _time(run_ours, ours_cc, work, args.repeat)
        print(f"{args.files} files, best of {args.repeat} cold runs, {os.cpu_count()} CPUs")
        print(f"  provider (native template)        {results['ours']:.3f} s")
        print(f"  provider (same cookiecutter tree) {results['ours_cookiecutter_mode']:.3f} s")
        for peer in ("cookiecutter", "copier"):
            if peer in results:
                ratio = results[peer] / results["ours"]
                results[f"ratio_{peer}"] = ratio
                print(f"  {peer:<33} {results[peer]:.3f} s   ratio {ratio:.1f}x")
        if "cookiecutter" in results:
            results["ratio_cookiecutter_same_tree"] = results["cookiecutter"] / results["ours_cookiecutter_mode"]
            print(f"  cookiecutter / provider on the same cookiecutter tree: {results['ratio_cookiecutter_same_tree']:.1f}x")
        if args.big:
            small_s, small_mem = _peak_child(args.files, work)
            big_s, big_mem = _peak_child(args.big, work)
            results.update(big_files=args.big, big_seconds=big_s, small_peak_mib=small_mem, big_peak_mib=big_mem,
                           memory_ratio=big_mem / small_mem)
            print(f"  {args.big} files: {big_s:.3f} s; peak RSS {big_mem:.1f} MiB vs {small_mem:.1f} MiB "
                  f"for {args.files} files (ratio {big_mem / small_mem:.2f})")
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
