"""Commit + push of generated projects to a local bare repository: this provider vs plain git.

Plain git: ``git init && git add -A && git commit && git push``. Provider:
``export.git.commit_tree`` + ``export.git.push`` (deterministic parentless commit, remote state
check, push). Both run in the same process on identical fresh copies of the same tree, once a round
in alternating order; the median and spread of ``--rounds`` rounds (default 5) are reported with
the ratio of the medians (target <= 1.3x).

    python bench/bench_repo_export.py                      # 1,000 and 10,000 files
    python bench/bench_repo_export.py --sizes 50 --rounds 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_provider_hisham.export.git import commit_tree, push  # noqa: E402
from bench.rounds import DEFAULT_ROUNDS, alternating_rounds, collect, median, ratio_spread, spread  # noqa: E402

ENV = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
       "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}


def make_tree(root: Path, files: int) -> None:
    """A generated-project-like tree: ~40 files per folder, 1-3 KB of source each."""
    for i in range(files):
        path = root / f"app{i // 400}" / f"module{i // 40}" / f"file_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = f'"""Generated module {i}."""\n\n' + "".join(
            f"def func_{i}_{j}(x):\n    return x * {j} + {i}\n\n" for j in range(20 + i % 40))
        path.write_text(body)


def fresh(base: Path, template: Path, tag: str) -> tuple[Path, Path]:
    work = base / f"{tag}-src"
    bare = base / f"{tag}-remote.git"
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(bare, ignore_errors=True)
    shutil.copytree(template, work)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    return work, bare


def plain(work: Path, bare: Path) -> float:
    start = time.perf_counter()
    subprocess.run(f"git init -q -b main && git add -A && git commit -q -m 'Initial commit' && "
                   f"git push -q {bare} main", shell=True, cwd=work, env=ENV, check=True)
    return time.perf_counter() - start


def provider(work: Path, bare: Path) -> float:
    start = time.perf_counter()
    sha = commit_tree(work, message="Initial commit", author_name="Bench", author_email="bench@localhost")
    push(work, str(bare), sha, ["main"], allow_file=True)  # a local bare repository: allowed explicitly
    return time.perf_counter() - start


def bench(files: int, rounds: int, base: Path) -> dict[str, list[float]]:
    """Per-round seconds of each side, the order alternating by round."""
    template = base / f"tree-{files}"
    make_tree(template, files)

    def side(name: str, fn):
        def run(_: int) -> float:
            work, bare = fresh(base, template, name)
            seconds = fn(work, bare)
            pushed = subprocess.run(["git", "-C", str(bare), "ls-tree", "-r", "--name-only", "main"],
                                    capture_output=True, text=True, check=True).stdout.count("\n")
            assert pushed == files, f"{name}: remote has {pushed} files, expected {files}"
            return seconds
        return run

    return collect(alternating_rounds({"git": side("git", plain), "provider": side("provider", provider)}, rounds))


def main(argv: list[str] | None = None) -> list[tuple[int, float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated file counts")
    parser.add_argument("--rounds", "--repeat", dest="rounds", type=int, default=DEFAULT_ROUNDS,
                        help="interleaved rounds (both sides once a round, order alternating)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-repo-export-") as tmp:
        base = Path(tmp)
        warm = base / "warm"
        make_tree(warm, 3)
        provider(*fresh(base, warm, "warmup"))  # the export's imports and first git run, once, as a worker would have them
        print(f"medians of {args.rounds} interleaved rounds")
        print(f"{'files':>8} {'git add/commit/push':>20} {'provider':>10} {'ratio':>7}")
        for files in (int(s) for s in args.sizes.split(",")):
            times = bench(files, args.rounds, base)
            git_s, ours = median(times["git"]), median(times["provider"])
            rows.append((files, git_s, ours))
            print(f"{files:>8} {git_s:>19.3f}s {ours:>9.3f}s {ours / git_s:>6.2f}x", flush=True)
            print(f"{'':>8} git: {spread(times['git'])}; provider: {spread(times['provider'])}; "
                  f"provider / git = {ratio_spread(times['provider'], times['git'])}", flush=True)
    print("target: ratio <= 1.30x")
    return rows


if __name__ == "__main__":
    main()
