"""Request mode against plain git: fetch the base, commit a generated tree on it, push a branch.

A remote holds a ``--files`` project on ``main``; the generated tree is the same project with
``--changed`` files edited. Plain git (external git dir, the generated folder as work tree):
``init; fetch --depth=1 URL main; reset FETCH_HEAD; add -A; commit; push URL HEAD:refs/heads/b``.
Provider: ``export.pull_request.commit_on_base`` (ls-remote, the same depth-1 fetch, add -A,
commit-tree on the base, ls-remote + push with a lease). Both start from an empty git dir each
time, run in the same process against the same remote (the real git smart-HTTP server of
tests/servers/git_http.py when nginx/fcgiwrap are installed, else a local bare repository),
once a round in alternating order; the median and spread of ``--rounds`` rounds (default 5) and
the ratio of the medians are reported (target <= 1.3x),
with the size of the pack each one pushed (objects the remote lacked: a thin pack of the commit
against the base).

    python bench/bench_pull_request.py                         # 10,000 files, 10 changed
    python bench/bench_pull_request.py --files 200 --changed 3 --rounds 1
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

from airflow_provider_hisham.export.git import GitCredentials, discard_git_dir, git_dir_for  # noqa: E402
from airflow_provider_hisham.export.pull_request import commit_on_base  # noqa: E402
from airflow_provider_hisham.export.urls import connection_origin  # noqa: E402
from bench.bench_repo_export import ENV, make_tree  # noqa: E402
from bench.rounds import DEFAULT_ROUNDS, median, order, ratio_spread, spread  # noqa: E402

TOKEN = "bench-token-0123456789"


def edit(tree: Path, changed: int, round_no: int) -> None:
    """Change ``changed`` files spread over the tree (new content each round)."""
    files = sorted(tree.rglob("*.py"))
    step = max(1, len(files) // changed)
    for path in files[::step][:changed]:
        path.write_text(path.read_text() + f"\n# edited in round {round_no}\n")


def pack_bytes(git_dir: Path, sha: str, base: str) -> int:
    """Size of the thin pack holding what ``sha`` adds to ``base`` (what a push sends)."""
    out = subprocess.run(["git", f"--git-dir={git_dir}", "pack-objects", "--revs", "--thin", "--stdout", "-q"],
                         input=f"{sha}\n^{base}\n".encode(), capture_output=True, check=True)
    return len(out.stdout)


class Remote:
    """The git smart-HTTP server when available (a real network push), else a local bare repository."""

    def __init__(self, base: Path) -> None:
        self.server = None
        try:
            from tests.servers.git_http import GitHttpServer, missing_tools

            if not missing_tools():
                self.server = GitHttpServer(TOKEN).start()
        except Exception:  # noqa: BLE001 - fall back to a local remote
            self.server = None
        if self.server:
            self.bare = self.server.create_bare("bench/project")
            self.url = self.server.repo_url("bench/project")
            self.credentials = GitCredentials("x-access-token", TOKEN,
                                              connection_origin(self.server.url, conn_id="bench"), "bench")
            self.plain_config = ["-c", f"http.extraHeader={self.credentials.header}"]
        else:
            self.bare = base / "remote.git"
            subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.bare)], check=True)
            self.url, self.credentials, self.plain_config = str(self.bare), None, []
        self.kind = "git smart-HTTP (nginx + git-http-backend)" if self.server else "local bare repository"

    def stop(self) -> None:
        if self.server:
            self.server.stop()


def seed(remote: Remote, tree: Path, base: Path) -> str:
    work = base / "seed"
    shutil.copytree(tree, work)
    subprocess.run(f"git init -q -b main && git add -A && git commit -q -m base && git push -q {remote.bare} main",
                   shell=True, cwd=work, env=ENV, check=True)
    shutil.rmtree(work)
    return subprocess.run(["git", f"--git-dir={remote.bare}", "rev-parse", "main"], capture_output=True, text=True,
                          check=True).stdout.strip()


def plain(remote: Remote, work: Path, git_dir: Path, branch: str) -> tuple[float, str]:
    shutil.rmtree(git_dir, ignore_errors=True)
    g = ["git", f"--git-dir={git_dir}", f"--work-tree={work}"]
    start = time.perf_counter()
    subprocess.run([*g, "init", "-q"], check=True, env=ENV)
    subprocess.run([*g, *remote.plain_config, "fetch", "-q", "--no-tags", "--depth=1", remote.url, "main"], check=True,
                   env=ENV)
    subprocess.run([*g, "reset", "-q", "FETCH_HEAD"], check=True, env=ENV, cwd=work)
    subprocess.run([*g, "add", "-A"], check=True, env=ENV, cwd=work)
    subprocess.run([*g, "commit", "-q", "-m", "Generated"], check=True, env=ENV, cwd=work)
    subprocess.run([*g, *remote.plain_config, "push", "-q", remote.url, f"HEAD:refs/heads/{branch}"], check=True,
                   env=ENV, cwd=work)
    elapsed = time.perf_counter() - start
    sha = subprocess.run([*g, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    return elapsed, sha


def provider(remote: Remote, work: Path, branch: str) -> tuple[float, str]:
    discard_git_dir(work)
    start = time.perf_counter()
    result = commit_on_base(str(work), remote.url, base_branch="main", head_branch=branch, message="Generated",
                            credentials=remote.credentials, allow_file=remote.server is None)
    elapsed = time.perf_counter() - start
    assert result.pushed and result.changed_count > 0
    return elapsed, result.head_sha


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--rounds", "--repeat", dest="rounds", type=int, default=DEFAULT_ROUNDS,
                        help="interleaved rounds (both sides once a round, order alternating)")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="hisham-bench-pr-"))
    remote = Remote(base)
    try:
        tree = base / "tree"
        make_tree(tree, args.files)
        base_sha = seed(remote, tree, base)
        work = base / "generated"
        shutil.copytree(tree, work)
        times: dict[str, list[float]] = {"git": [], "provider": []}
        sizes: dict[str, int] = {}
        def git_side(round_no: int) -> float:
            elapsed, sha = plain(remote, work, base / "plain.git", f"plain-{round_no}")
            sizes["git"] = pack_bytes(base / "plain.git", sha, base_sha)
            return elapsed

        def provider_side(round_no: int) -> float:
            elapsed, sha = provider(remote, work, f"hisham/bench-{round_no}")
            sizes["provider"] = pack_bytes(git_dir_for(work), sha, base_sha)
            return elapsed

        sides = {"git": git_side, "provider": provider_side}
        for round_no in range(args.rounds):
            edit(work, args.changed, round_no)
            for who in order(list(sides), round_no):
                times[who].append(sides[who](round_no))
        git_s, ours = median(times["git"]), median(times["provider"])
        print(f"remote: {remote.kind}; {args.files} files, {args.changed} changed, {args.rounds} interleaved rounds")
        print(f"plain git  fetch+commit+push: {spread(times['git'])}  pack pushed {sizes['git']:,} bytes")
        print(f"provider   commit_on_base:    {spread(times['provider'])}  pack pushed {sizes['provider']:,} bytes")
        print(f"ratio {ratio_spread(times['provider'], times['git'])}")
        return {"git_s": git_s, "provider_s": ours, "ratio": ours / git_s, "git_bytes": sizes["git"],
                "provider_bytes": sizes["provider"], "remote": remote.kind}
    finally:
        remote.stop()
        discard_git_dir(base / "generated")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
