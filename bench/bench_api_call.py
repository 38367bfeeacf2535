"""Story creations through HishamOSHook vs a plain ``requests.Session`` loop, in one run.

Both sides create stories in the same project of the same local HishamOS stand-in (started as a
separate process, so the client loops do not share a GIL with it), with the same auth (password
login, one Bearer token) and the same body, parse the JSON answer and check the status. Rounds
alternate which side goes first. The figure of merit is the ratio of the per-round medians, hook
time / plain time (target <= 1.15), printed with each side's spread (``bench/rounds.py``).

    python bench/bench_api_call.py                 # 1,000 creations a side, 5 rounds
    python bench/bench_api_call.py --n 200 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.rounds import DEFAULT_ROUNDS, collect, comparison, interleaved_rounds, round_printer  # noqa: E402
STORIES = "/api/v1/projects/stories/"


def start_server() -> tuple[subprocess.Popen, dict]:
    """The stand-in in its own process; returns it and the credentials it prints."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "tests.servers.hishamos", "--port", "0", "--lifetime", "1800",
                             "--no-rate-limits"],  # 1,000 calls a side: the real backend would throttle them
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    while not lines or lines[-1] != "}\n":
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the HishamOS stand-in did not start")
        lines.append(line)
    return proc, json.loads("".join(lines))


def body(project: str, i: int) -> dict:
    # The same body every time: the stand-in caches validation of identical requests, so the
    # server's share of each round trip stays small and the client overhead shows.
    return {"project": project, "title": "Benchmark story", "description": "As a user I want speed.",
            "acceptance_criteria": "Given a story, it is created."}


class PlainLoop:
    """The baseline: what a DAG author would write with requests alone."""

    def __init__(self, info: dict, project: str) -> None:
        import requests

        self.session = requests.Session()
        tokens = self.session.post(info["url"] + "/api/v1/auth/login/",
                                   json={"email": info["email"], "password": info["password"]}, timeout=30)
        tokens.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {tokens.json()['access']}"
        self.url, self.project = info["url"] + STORIES, project

    def run(self, n: int) -> float:
        start = time.perf_counter()
        for i in range(n):
            resp = self.session.post(self.url, json=body(self.project, i), timeout=30)
            resp.raise_for_status()
            resp.json()
        return time.perf_counter() - start


class HookLoop:
    def __init__(self, conn_id: str, project: str) -> None:
        from airflow_provider_hisham.hooks.hishamos import HishamOSHook

        self.hook, self.project = HishamOSHook(conn_id), project
        self.hook.call("GET", "/api/v1/auth/me/")  # log in outside the timed part, like the plain loop

    def run(self, n: int) -> float:
        start = time.perf_counter()
        for i in range(n):
            b = body(self.project, i)
            self.hook.create_story(b["project"], b["title"], b["description"], b["acceptance_criteria"])
        return time.perf_counter() - start


def parse_sizes(argv: list[str] | None, doc: str, what: str, n: int, warmup: int, chunk: int,
                flags: dict[str, str] | None = None) -> argparse.Namespace:
    """``--n``, ``--rounds``, ``--warmup``, ``--chunk`` of a two-sided bench (and the on/off
    ``flags``, ``{"--name": "help"}``), then the local environment it runs in (a temporary
    AIRFLOW_HOME unless set; no proxy for 127.0.0.1)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=n, help=f"{what} per side per round")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="interleaved rounds")
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--chunk", type=int, default=chunk, help=f"{what} per side before switching sides")
    for flag, text in (flags or {}).items():
        parser.add_argument(flag, action="store_true", help=text)
    args = parser.parse_args(argv)
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-airflow-home-"))
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_sizes(argv, __doc__, "story creations", n=1000, warmup=50, chunk=50)
    proc, info = start_server()
    try:
        conn_id = "hishamos_bench"
        conn = json.loads(info["AIRFLOW_CONN_HISHAMOS_DEFAULT"])
        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
        # The hook logs one line per call, as in a task: configure Airflow's task-side logging
        # (JSON lines, as a task sends them to its supervisor) into a file.
        from airflow.sdk.log import configure_logging

        log_file = Path(tempfile.mkdtemp(prefix="bench-logs-")) / "task.log"
        log_stream = open(log_file, "wb")
        configure_logging(json_output=True, output=log_stream, sending_to_supervisor=True)

        project = info["demo_project_id"]
        sides = {"plain": PlainLoop(info, project), "hook": HookLoop(conn_id, project)}
        for loop in sides.values():
            loop.run(args.warmup)
        per_round = collect(interleaved_rounds(sides, args.n, args.rounds, args.chunk),
                            round_printer(args.n, "story", "us", "hook", "plain"))
        log_stream.close()
        logged = sum(1 for line in open(log_file) if "HishamOS POST /api/v1/projects/stories/ -> 201" in line)

        import requests

        token = requests.post(info["url"] + "/api/v1/auth/login/",
                              json={"email": info["email"], "password": info["password"]}).json()["access"]
        count = requests.get(info["url"] + STORIES, params={"project": project},
                             headers={"Authorization": f"Bearer {token}"}).json()["count"]
        expected = 2 * (args.warmup + args.n * args.rounds)
        print(f"stories created: {count} (expected {expected}); hook log lines: {logged}")
        what = f"{args.n} story creations a side per round"
        hook_ratio, lines = comparison(per_round, {"plain": f"{what}: plain requests.Session",
                                                   "hook": f"{what}: HishamOSHook"}, "hook", "plain", "target <= 1.15")
        print("\n".join(lines))
        return {"ratio": hook_ratio, "plain": per_round["plain"], "hook": per_round["hook"], "count": count,
                "expected": expected, "logged": logged}
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
