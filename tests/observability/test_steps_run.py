"""The other step types: combine in a real run counts and audits like the rest, a failed step
counts a failure and records its error; an approval that defers records the request it opened."""

from __future__ import annotations

import json
import logging

from airflow_provider_hisham.observability.audit import LOGGER_NAME, Who
from airflow_provider_hisham.operators import observed
from tests.conftest import run_dag

DAG = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_hisham.operators.api_call import HishamOSApiCallOperator
from airflow_provider_hisham.operators.combine_projects import HishamOSCombineProjectsOperator
from airflow_provider_hisham.operators.file_generation import HishamOSFileGenerationOperator

with DAG("observed_steps", schedule=None, start_date=pendulum.datetime(2025, 1, 1)) as dag:
    a = HishamOSFileGenerationOperator(task_id="lane_a", project_id="obs-lane-a", structure={"a.txt": "a\\n"})
    b = HishamOSFileGenerationOperator(task_id="lane_b", project_id="obs-lane-b", structure={"b.txt": "b\\n"})
    combine = HishamOSCombineProjectsOperator(task_id="combine", project_id="obs-combined", sources=[a.output, b.output])
    missing = HishamOSApiCallOperator(task_id="missing", hishamos_conn_id="CONN_ID", action="get_story",
                                      data={"story_id": "00000000-0000-4000-8000-000000000000"})
"""


class Recorder:
    calls: list[tuple] = []

    @classmethod
    def incr(cls, name, count=1, rate=1, *, tags=None):
        cls.calls.append(("incr", name, count, tags or {}))

    @classmethod
    def timing(cls, name, dt, tags=None):
        cls.calls.append(("timing", name, dt, tags or {}))


def test_combine_and_a_failed_call(hishamos, hishamos_conn, audit_lines, monkeypatch):
    Recorder.calls = []
    monkeypatch.setattr(observed, "Stats", Recorder)
    conn_id = hishamos_conn("api_key", conn_id="hishamos_observed_steps")
    run = run_dag(DAG.replace("CONN_ID", conn_id))
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["combine"] == "success" and states["missing"] == "failed", states
    names = [(c[1], c[3].get("task_id")) for c in Recorder.calls]
    assert ("hisham.combine.successes", "combine") in names and ("hisham.combine.duration", "combine") in names
    assert ("hisham.api_call.failures", "missing") in names
    failure = next(c for c in Recorder.calls if c[1] == "hisham.api_call.failures")
    assert failure[3]["error"] == "HishamOSAPIError"
    assert ("hisham.api.calls", None) in names

    records = [json.loads(line) for line in audit_lines]
    steps = {(r["who"]["task_id"], r["event"]): r for r in records if r["event"] in ("step", "request_opened")}
    assert steps[("missing", "step")]["result"].startswith("failed (HishamOSAPIError: HishamOS GET")
    assert steps[("missing", "step")]["who"]["user"] == "api_key"
    combined = [r for r in records if r["event"] == "file_batch" and r["who"]["task_id"] == "combine"]
    assert combined and combined[0]["details"]["files"] == 2
    assert logging.getLogger(LOGGER_NAME).handlers  # the fixture's handler saw them


def test_a_deferred_approval_records_the_request_and_counts_no_outcome_yet(audit_lines, monkeypatch):
    """``dag.test()`` cannot answer a human-in-the-loop request, so the deferral is observed directly
    with Airflow's own ``TaskDeferred``; its answer arrives in ``execute_complete``, also ``@observed``."""
    import datetime as dt

    from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
    from airflow.sdk.exceptions import TaskDeferred

    Recorder.calls = []
    monkeypatch.setattr(observed, "Stats", Recorder)
    obs = observed.Observation("approval", Who("u1", "d", "r", "approve", -1, 1))
    obs.finish(error=TaskDeferred(trigger=TimeDeltaTrigger(dt.timedelta(hours=1)), method_name="execute_complete"))
    assert Recorder.calls == []
    [record] = [json.loads(line) for line in audit_lines]
    assert (record["event"], record["result"], record["who"]["task_id"]) == ("request_opened", "waiting", "approve")
    obs.finish({"approved": True})
    assert [c[1] for c in Recorder.calls] == ["hisham.approval.duration", "hisham.approval.successes"]
