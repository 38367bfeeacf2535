"""Benchmark: the same N-file Jinja template rendered by this provider, cookiecutter and copier.

Run:  python bench/bench_generation.py [--files 1000] [--rounds 5] [--big 10000] [--busy]

One template tree is written three times with the same files and logic, only the variable
spelling differs (``{{ x }}`` natively and for copier, ``{{ cookiecutter.x }}`` for cookiecutter).
The file mix is 30 % static files, 50 % files that only substitute variables and 20 % files with
``{% if %}`` / ``{% for %}`` logic in 10 distinct structures (``{% set variant = i % 25 %}``
over the files whose ``i % 10`` is 8 or 9 takes 10 values; so the compiled-shape cache cannot
reduce them to one); one file name in ten is templated. Every run is cold (a new
generator, a new output folder); every tool runs once a round, the order reversed every other
round, each round is printed, and each figure is the median of the rounds with its spread
(``bench/rounds.py``). Ratios are peer median / our median, printed in one run.

No output is deleted until every round has ended. This ext4 has no journal, and there the kernel
skips every inode freed less than 60 s before (300 s while its inode-table block is still dirty)
when it allocates a new one (``recently_deleted()`` in ``find_inode_bit()``), so each file created
after a big delete scans past all the freed inodes: deleting the previous round's outputs made the
next round's every create, in any tool and in the bare loop alike, up to ten times slower, growing
round by round. Deletes by other processes cost the same way, so everything is written under one
``chattr +T`` scratch folder (``bench/scratch.py``) whose subfolders land in block groups nobody
has just emptied; the bench prints whether that could be set.

``--busy`` keeps one child process spinning on the CPU for all the rounds (the issue's
"other core busy"): the provider's second writer process and every tool then share a core.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench.rounds import DEFAULT_ROUNDS, alternating_rounds, collect, median, ratio, ratio_spread, spread  # noqa: E402
from bench.scratch import scratch_dir  # noqa: E402

SPIN = "while True: pass"

LOGIC_SHAPES = 25  # the variant's modulus: the logic files (i % 10 in 8, 9) meet 10 distinct structures
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
{{% set variant = {v} %}}
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
        text = (STATIC if kind < 3 else SIMPLE if kind < 8 else LOGIC).format(i=i, p=p, v=i % LOGIC_SHAPES)
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


def _time(fn, template: str, work: str) -> float:
    """Seconds of one cold run into a new output folder, kept until the bench ends (see the top)."""
    out = tempfile.mkdtemp(dir=work)
    t0 = time.perf_counter()
    fn(template, out)
    return time.perf_counter() - t0


def _show_round(number: int, times: dict[str, float]) -> None:
    sides = ", ".join(f"{name} {seconds:.3f} s" for name, seconds in times.items())
    print(f"  round {number}: {sides}", flush=True)


def _peak_child(files: int, work: str, floor_from: str | None = None) -> tuple[float, float, float, str]:
    """Generate ``files`` in a fresh interpreter and time the bare loop writing the same files; return
    (seconds, peak RSS MiB incl. the worker, bare-loop seconds, the generated tree).

    With ``floor_from`` (a tree an earlier round generated from the same template) the bare loop
    runs first, else the generator does: freed-inode scans fade with time (see the top), so the
    rounds alternate who goes first.
    """
    code = (
        "import sys, time, resource, tempfile, os\n"
        f"sys.path.insert(0, {REPO!r})\n"
        "from bench.bench_generation import make_template, run_ours, write_floor\n"
        f"work, floor_from = {work!r}, {floor_from!r}\n"
        f"t = make_template(os.path.join(tempfile.mkdtemp(dir=work), 'big'), {files}, 'native')\n"
        "import airflow_provider_hisham.generation\n"
        "if floor_from: floor = write_floor(floor_from, tempfile.mkdtemp(dir=work))\n"
        "out = tempfile.mkdtemp(dir=work)\n"
        "t0 = time.perf_counter(); run_ours(t, out); dt = time.perf_counter() - t0\n"
        "own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "if not floor_from: floor = write_floor(os.path.join(out, 'bench'), tempfile.mkdtemp(dir=work))\n"
        "print(dt, max(own, kids) / 1024, floor, os.path.join(out, 'bench'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    seconds, peak, floor, tree = result.stdout.split()
    return float(seconds), float(peak), float(floor), tree


def write_floor(generated: str, scratch: str) -> float:
    """Seconds a bare os.open/os.write/os.close loop needs to create the same files (the disk's floor)."""
    jobs = []
    for dirpath, _, filenames in os.walk(generated):
        rel = os.path.relpath(dirpath, generated)
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as fh:
                jobs.append((rel, name, fh.read()))
    t0 = time.perf_counter()
    made = set()
    for rel, name, data in jobs:
        folder = os.path.join(scratch, rel)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        fd = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        os.write(fd, data)
        os.close(fd)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", "--repeat", dest="rounds", type=int, default=DEFAULT_ROUNDS,
                        help="interleaved rounds (every tool once a round, order alternating)")
    parser.add_argument("--big", type=int, default=10000, help="size of the large run (0 to skip)")
    parser.add_argument("--peers", default="cookiecutter,copier")
    parser.add_argument("--busy", action="store_true", help="keep another core busy with a spinning child process")
    args = parser.parse_args(argv)
    work, scratch_note = scratch_dir("hisham-bench-")
    spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if args.busy else None
    try:
        results: dict = {"files": args.files}
        # Import every tool before timing so no run pays for module imports.
        import copier  # noqa: F401
        import cookiecutter.main  # noqa: F401
        import yaml  # noqa: F401

        import airflow_provider_hisham.generation  # noqa: F401
        flavors = {"ours": ("native", run_ours), "cookiecutter": ("cookiecutter", run_cookiecutter), "copier": ("copier", run_copier)}
        ours_cc = make_template(os.path.join(work, "t-cookiecutter"), args.files, "cookiecutter")
        runs = {"ours": (make_template(os.path.join(work, "t-native"), args.files, "native"), run_ours)}
        # The provider on the very same cookiecutter tree (compatibility mode).
        runs["ours_cookiecutter_mode"] = (ours_cc, run_ours)
        for name in [p for p in args.peers.split(",") if p]:
            flavor, fn = flavors[name]
            runs[name] = (ours_cc if flavor == "cookiecutter" else make_template(os.path.join(work, f"t-{flavor}"), args.files, flavor), fn)
        # Every tool once a round, the order reversed every other round, so disk and CPU contention hit all alike.
        sides = {name: (lambda _, t=template, f=fn: _time(f, t, work)) for name, (template, fn) in runs.items()}
        busy = ", the other core busy (a spinning process)" if spinner else ""
        print(f"{args.files} files, {args.rounds} interleaved cold rounds, {os.cpu_count()} CPUs{busy}; {scratch_note}")
        per_round = collect(alternating_rounds(sides, args.rounds), _show_round)
        results.update({name: median(values) for name, values in per_round.items()}, rounds=per_round, busy=args.busy)
        print(f"  provider (native template)        {spread(per_round['ours'])}")
        print(f"  provider (same cookiecutter tree) {spread(per_round['ours_cookiecutter_mode'])}")
        for peer in ("cookiecutter", "copier"):
            if peer in results:
                results[f"ratio_{peer}"] = ratio(per_round[peer], per_round["ours"])
                print(f"  {peer:<33} {spread(per_round[peer])}   ratio {ratio_spread(per_round[peer], per_round['ours'])}")
        if "cookiecutter" in results:
            results["ratio_cookiecutter_same_tree"] = ratio(per_round["cookiecutter"], per_round["ours_cookiecutter_mode"])
            print("  cookiecutter / provider on the same cookiecutter tree: "
                  f"{ratio_spread(per_round['cookiecutter'], per_round['ours_cookiecutter_mode'])}")
        if args.big:
            small_s, small_mem, _, _ = _peak_child(args.files, work)
            big_runs: list[tuple[float, float, float, str]] = []
            for number in range(1, args.rounds + 1):
                floor_from = big_runs[0][3] if number % 2 == 0 else None
                big_runs.append(_peak_child(args.big, work, floor_from))
                seconds, _, floor, _ = big_runs[-1]
                first = "bare loop first" if floor_from else "provider first"
                print(f"  {args.big} files, round {number} ({first}): provider {seconds:.3f} s, bare loop {floor:.3f} s, "
                      f"ratio {seconds / floor:.2f}", flush=True)
            big = [r[0] for r in big_runs]
            floors = [r[2] for r in big_runs]
            # Peak RSS from the rounds where the generator ran first (the bare loop holds every file's bytes).
            big_mem = median([r[1] for r in big_runs[0::2]])
            results.update(big_files=args.big, big_seconds=median(big), small_peak_mib=small_mem, big_peak_mib=big_mem,
                           memory_ratio=big_mem / small_mem, big_write_floor_seconds=median(floors),
                           ratio_big_floor=ratio(big, floors))
            print(f"  {args.big} files: {spread(big)}; a bare open/write/close loop creating the same files: "
                  f"{spread(floors)}; provider / bare loop = {ratio_spread(big, floors)}")
            print(f"  peak RSS {big_mem:.1f} MiB (median of the rounds) vs {small_mem:.1f} MiB for {args.files} files "
                  f"(ratio {big_mem / small_mem:.2f})")
        return results
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
