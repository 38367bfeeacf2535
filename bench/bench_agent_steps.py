"""Agent steps through HishamOSAgentOperator.execute vs plain ``requests`` doing the same HTTP work.

Both sides run against the same local HishamOS stand-in (a separate process, rate limits off: the
real backend would throttle 1,000 calls a minute) in one run, rounds alternating which side goes
first in small chunks so load from other processes hits both alike.

* operator side: per step a fresh ``HishamOSAgentOperator(...).execute(context)``, exactly as a
  task runs it: its own HishamOSHook (connection lookup, session, password login), agent
  resolution (the backend's agent list, cached per process like in a worker), the durable marker
  in the context and the earlier-answer check of a first try, prompt/context building, the
  execute call, JSON answer parsing, the usage XCom push, the Stats metrics and the log line. The
  context is a minimal task instance (xcom_push into a dict) instead of a scheduler's. Each step
  starts with Airflow's secrets masker reset, as each task process starts with a fresh one (the
  supervisor resets it): one process masking 1,500 logins' tokens would recompile an ever longer
  regex on every login, which no task ever does. The agent list stays cached across steps so that
  both sides make the same requests (in a worker each task fetches it once: one GET more a task);
* plain side: per step a new ``requests.Session``, ``POST /auth/login/``, ``POST
  /agents/<id>/execute/`` with the same prompt and context, JSON parsed and status checked.

The figure of merit is operator time / plain time (target <= 1.15). The time the operator side
spends masking credentials (the hook hands the forms it sends of the password and of the access
token, a JWT as its signature, to Airflow's secrets masker, which recompiles one regular
expression per new value; the refresh token only when it is first sent, which a step never does;
and every form to its own scrubber) is measured too and reported as its share, so a
missed target says where it went.

    python bench/bench_agent_steps.py                # 500 agent steps a side, 5 rounds (median and spread)
    python bench/bench_agent_steps.py --n 50 --rounds 1
    python bench/bench_agent_steps.py --airflow-http  # and the reference: HttpHook in an operator

With ``--airflow-http`` a third side runs the same two calls through Airflow's own http provider
(``HttpHook`` in an operator: operator, hook, connection lookup, logger and log lines, nothing of
ours), printed as a reference: the share of the operator's figure that is Airflow's per-task
machinery rather than this provider's work (masking, audit, durability, budget).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_api_call import parse_sizes, start_server  # noqa: E402 - shared scaffolding
from bench.rounds import collect, comparison, interleaved_rounds, ratio_spread, round_printer  # noqa: E402

AGENT = "Business Analyst Agent"
INPUTS = {"prompt": "Customers can export orders as CSV; Exports include the totals", "project": "bench"}
DAG_ID, RUN_ID = "bench_agent_steps", "manual__bench"


class _TaskInstance:
    """What the operator reads of its task instance, and an XCom sink."""

    def __init__(self, task_id: str) -> None:
        self.dag_id, self.run_id, self.task_id, self.map_index, self.try_number = DAG_ID, RUN_ID, task_id, -1, 1
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, **kwargs: Any) -> list:
        return []


class _DagRun:
    conf: dict = {}
    start_date = dt.datetime.now(dt.timezone.utc)


class OperatorSide:
    def __init__(self, conn_id: str) -> None:
        # Airflow's own advice for this import (airflow.sdk.execution_time.secrets_masker is deprecated)
        from airflow.sdk._shared.secrets_masker import reset_secrets_masker

        from airflow_provider_hisham.operators.agent import HishamOSAgentOperator

        self.operator, self.conn_id, self.steps, self.reset = HishamOSAgentOperator, conn_id, 0, reset_secrets_masker

    def run(self, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            self.steps += 1
            self.reset()  # a task process starts with an empty masker
            task_id = f"step_{self.steps}"
            op = self.operator(task_id=task_id, agent=AGENT, inputs=INPUTS, hishamos_conn_id=self.conn_id)
            ti = _TaskInstance(task_id)
            result = op.execute({"ti": ti, "dag_run": _DagRun()})
            assert result["success"] is True and result["requirements"], result
        return time.perf_counter() - start


class PlainSide:
    """The baseline: what a DAG author would write with requests alone (login + execute a step)."""

    def __init__(self, info: dict, agent_id: str) -> None:
        self.info, self.url = info, f"{info['url']}/api/v1/agents/{agent_id}/execute/"

    def run(self, n: int) -> float:
        import requests

        start = time.perf_counter()
        for i in range(n):
            with requests.Session() as session:
                login = session.post(self.info["url"] + "/api/v1/auth/login/",
                                     json={"email": self.info["email"], "password": self.info["password"]}, timeout=30)
                login.raise_for_status()
                session.headers["Authorization"] = f"Bearer {login.json()['access']}"
                resp = session.post(self.url, json={"prompt": INPUTS["prompt"], "context": {**INPUTS, "step": i}},
                                    timeout=60)
                resp.raise_for_status()
                assert resp.json()["success"] is True
        return time.perf_counter() - start


class AirflowHttpSide:
    """A reference, not a target: the same two calls the way a DAG author writes them with
    Airflow's own http provider (an operator per step whose ``execute`` runs ``HttpHook`` for the
    login and the execute call), so the figure shows what Airflow's task machinery alone costs
    (operator, hook, connection lookup through the secrets backends, logger, log lines) next to
    plain requests. It masks nothing of its own and writes no audit or metrics."""

    def __init__(self, conn_id: str, agent_id: str) -> None:
        from airflow.providers.http.hooks.http import HttpHook
        from airflow.sdk import BaseOperator
        from airflow.sdk._shared.secrets_masker import reset_secrets_masker

        path = f"/api/v1/agents/{agent_id}/execute/"

        class HttpAgentStep(BaseOperator):
            def execute(self, context: Any) -> Any:
                # the connection's login/password are the JSON login's, not HTTP Basic credentials
                hook = HttpHook(method="POST", http_conn_id=conn_id, auth_type=lambda login, password: None)
                conn = hook.get_connection(conn_id)
                login = hook.run("/api/v1/auth/login/", json={"email": conn.login, "password": conn.password})
                headers = {"Authorization": f"Bearer {login.json()['access']}"}
                step = context["ti"].task_id
                return hook.run(path, json={"prompt": INPUTS["prompt"], "context": {**INPUTS, "step": step}},
                                headers=headers).json()

        self.operator, self.steps, self.reset = HttpAgentStep, 0, reset_secrets_masker

    def run(self, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            self.steps += 1
            self.reset()
            task_id = f"http_step_{self.steps}"
            result = self.operator(task_id=task_id).execute({"ti": _TaskInstance(task_id), "dag_run": _DagRun()})
            assert result["success"] is True, result
        return time.perf_counter() - start


class MaskingClock:
    """Time spent in ``airflow.sdk.log.mask_secret`` and ``SecretScrubber.add`` (wrapped in place;
    the hook looks ``mask_secret`` up at call time) while ``side`` runs (the other sides' calls,
    the reference's connection lookups, are not counted)."""

    def __init__(self, side: OperatorSide) -> None:
        import airflow.sdk.log as sdk_log

        from airflow_provider_hisham.secrets import SecretScrubber

        self.seconds, self.calls, self.active = 0.0, 0, False
        for owner, name in ((sdk_log, "mask_secret"), (SecretScrubber, "add")):
            setattr(owner, name, self._timed(getattr(owner, name)))
        run = side.run

        def counted(n: int) -> float:
            self.active = True
            try:
                return run(n)
            finally:
                self.active = False
        side.run = counted  # type: ignore[method-assign]

    def _timed(self, fn):
        def timed(*args, **kwargs):
            if not self.active:
                return fn(*args, **kwargs)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1
        return timed


def main(argv: list[str] | None = None) -> dict:
    args = parse_sizes(argv, __doc__, "agent steps", n=500, warmup=20, chunk=25,
                       flags={"--airflow-http": "also run the reference side: Airflow's HttpHook in an operator"})
    proc, info = start_server()
    try:
        conn_id = "hishamos_bench"
        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = info["AIRFLOW_CONN_HISHAMOS_DEFAULT"]
        # the operator and hook log as in a task: Airflow's task-side JSON logging, into a file
        from airflow.sdk.log import configure_logging

        log_file = Path(tempfile.mkdtemp(prefix="bench-logs-")) / "task.log"
        log_stream = open(log_file, "wb")  # noqa: SIM115 - closed below
        configure_logging(json_output=True, output=log_stream, sending_to_supervisor=True)

        from airflow_provider_hisham.hooks.hishamos import HishamOSHook

        agent_id = HishamOSHook(conn_id).get_agent(AGENT)["id"]
        sides = {"plain": PlainSide(info, agent_id), "operator": OperatorSide(conn_id)}
        if args.airflow_http:
            os.environ["AIRFLOW_CONN_HTTP_BENCH"] = info["AIRFLOW_CONN_HISHAMOS_DEFAULT"].replace(
                '"conn_type": "hishamos"', '"conn_type": "http"')
            sides["airflow_http"] = AirflowHttpSide("http_bench", agent_id)
        for side in sides.values():
            side.run(args.warmup)
        masking = MaskingClock(sides["operator"])
        per_round = collect(interleaved_rounds(sides, args.n, args.rounds, args.chunk),
                            round_printer(args.n, "step", "ms", "operator", "plain"))
        totals = {side: sum(values) for side, values in per_round.items()}
        log_stream.close()
        logged = sum(1 for line in open(log_file) if "Agent Business Analyst Agent (business-analyst) answered" in line)

        import requests

        token = requests.post(info["url"] + "/api/v1/auth/login/",
                              json={"email": info["email"], "password": info["password"]}, timeout=30).json()["access"]
        count = requests.get(info["url"] + "/api/v1/agents/executions/", params={"agent": agent_id},
                             headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["count"]
        expected = len(sides) * (args.warmup + args.n * args.rounds)
        steps = args.rounds * args.n
        unmasked = (totals["operator"] - masking.seconds) / totals["plain"]
        print(f"agent executions recorded: {count} (expected {expected}); operator log lines: {logged}")
        print(f"credential masking on the operator side: {masking.seconds:.3f} s ({masking.seconds / steps * 1e3:.2f} "
              f"ms/step, {masking.calls / steps:.1f} calls/step); operator/plain without it = {unmasked:.3f}")
        what = f"{args.n} agent steps a side per round"
        op_ratio, lines = comparison(per_round, {"plain": f"{what}: plain requests",
                                                 "operator": f"{what}: HishamOSAgentOperator.execute"},
                                     "operator", "plain", "target <= 1.15")
        print("\n".join(lines))
        if "airflow_http" in per_round:
            _, ref = comparison(per_round, {"airflow_http": f"{what}: HttpHook in an operator (reference)"},
                                "airflow_http", "plain", "reference: Airflow's own floor, no target")
            print("\n".join(ref))
            print(f"operator/airflow_http = {ratio_spread(per_round['operator'], per_round['airflow_http'])}")
        return {"ratio": op_ratio, **per_round, "count": count, "expected": expected, "logged": logged,
                "masking": masking.seconds, "ratio_without_masking": unmasked}
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
