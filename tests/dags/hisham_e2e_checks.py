"""A DAG that exercises what the end-to-end tests check about the deployment itself.

Params validated by the REST API, an XCom result, a step that fails on demand with a readable
error, a step that fails its first try and is retried (its record must not be duplicated), and
two steps that sleep at the same time (they must be seen overlapping under both executors).
Results go to ``$AIRFLOW_HOME/e2e-out/<run_id>/`` so tests can read them.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

from airflow.sdk import DAG, Param, get_current_context, task

PARALLEL_SLEEP_SECONDS = 4


def _run_dir() -> Path:
    ctx = get_current_context()
    path = Path(os.environ["AIRFLOW_HOME"]) / "e2e-out" / ctx["run_id"].replace(":", "_").replace("+", "_")
    path.mkdir(parents=True, exist_ok=True)
    return path


with DAG(
    dag_id="hisham_e2e_checks",
    schedule=None,
    catchup=False,
    tags=["hisham", "e2e"],
    params={
        "greeting": Param("hello", type="string", minLength=1, description="Text echoed into the XCom"),
        "count": Param(2, type="integer", minimum=1, maximum=5, description="How many copies, 1-5"),
        "fail": Param(False, type="boolean", description="Make the 'maybe_fail' step fail"),
    },
):

    @task
    def prepare() -> dict:
        params = get_current_context()["params"]
        return {"message": " ".join([params["greeting"]] * params["count"]), "count": params["count"]}

    @task
    def sleep_a() -> float:
        time.sleep(PARALLEL_SLEEP_SECONDS)
        return time.time()

    @task
    def sleep_b() -> float:
        time.sleep(PARALLEL_SLEEP_SECONDS)
        return time.time()

    @task(retries=2, retry_delay=timedelta(seconds=1))
    def flaky(summary: dict) -> int:
        """Record the result once per run (keyed, so a retry overwrites), then fail the first try."""
        ctx = get_current_context()
        records = _run_dir() / "records.json"
        existing = json.loads(records.read_text()) if records.exists() else {}
        existing[ctx["run_id"]] = summary["message"]
        records.write_text(json.dumps(existing))
        if ctx["ti"].try_number == 1:
            raise ConnectionError("simulated transient fault on the first try")
        return len(existing)

    @task
    def maybe_fail() -> str:
        if get_current_context()["params"]["fail"]:
            raise ValueError("step maybe_fail failed on purpose: conf 'fail' was true")
        return "ok"

    summary = prepare()
    summary >> [sleep_a(), sleep_b()]
    flaky(summary)
    summary >> maybe_fail()
