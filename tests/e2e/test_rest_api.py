"""The deployment itself, end to end: REST API -> scheduler -> executor -> task processes.

Runs against LocalExecutor and CeleryExecutor stacks (fixture ``stack``) with the test DAG
``tests/dags/hisham_e2e_checks.py``; everything goes through the official Python client.
"""

from __future__ import annotations

import json
from pathlib import Path

import airflow_client.client as ac
import psutil
import pytest

from tests.e2e.rest import Rest, RunResult, overlap_seconds

DAG_ID = "hisham_e2e_checks"


@pytest.fixture(scope="module")
def runs(stack, rest: Rest) -> dict[str, RunResult]:
    """A good run and a run told to fail, triggered together and awaited once per stack."""
    stack.wait_for_dags(DAG_ID)
    run_ids = {
        "good": rest.trigger(DAG_ID, {"greeting": "hi", "count": 3}),
        "fail": rest.trigger(DAG_ID, {"fail": True}),
    }
    return {name: rest.wait(DAG_ID, run_id) for name, run_id in run_ids.items()}


def test_a_run_triggered_with_conf_succeeds_and_returns_its_xcom(runs, rest):
    good = runs["good"]
    assert good.state == "success"
    assert good.states() == dict.fromkeys(("prepare", "sleep_a", "sleep_b", "flaky", "maybe_fail"), "success")
    assert rest.xcom(good, "prepare") == {"message": "hi hi hi", "count": 3}
    assert rest.xcom(good, "maybe_fail") == "ok"


def test_a_conf_that_breaks_a_param_is_refused_with_the_params_message(stack, rest):
    stack.wait_for_dags(DAG_ID)
    for conf, message in (
        ({"count": 9}, "9 is greater than the maximum of 5"),
        ({"greeting": ""}, "should be non-empty"),
        ({"count": "three"}, "'three' is not of type 'integer'"),
    ):
        with pytest.raises(ac.ApiException) as err:
            rest.trigger(DAG_ID, conf)
        assert err.value.status == 400, conf
        detail = json.loads(err.value.body)["detail"]
        assert message in detail, detail
    # Nothing was created for the refused confs.
    listed = rest.dag_runs.get_dag_runs(DAG_ID, limit=100).dag_runs
    assert all(run.conf.get("count") != 9 for run in listed)


def test_a_failing_step_fails_its_task_with_a_readable_error_in_the_log(runs, rest):
    failed = runs["fail"]
    assert failed.state == "failed"
    assert failed.states()["maybe_fail"] == "failed"
    assert failed.states()["prepare"] == "success"
    errors = rest.errors(failed, "maybe_fail")
    assert "ValueError: step maybe_fail failed on purpose: conf 'fail' was true" in errors, errors


def test_a_retried_task_runs_twice_and_leaves_one_record(runs, rest, stack):
    good = runs["good"]
    flaky = good.tasks["flaky"]
    assert flaky.try_number == 2
    assert "simulated transient fault on the first try" in rest.log(good, "flaky", try_number=1)
    assert rest.xcom(good, "flaky") == 1
    out = Path(stack.home, "e2e-out", good.run_id.replace(":", "_").replace("+", "_"), "records.json")
    assert json.loads(out.read_text()) == {good.run_id: "hi hi hi"}


def test_parallel_tasks_overlap_in_time(runs):
    tasks = runs["good"].tasks
    # Each sleeps 4 s; run one after the other they could not overlap at all (overlap <= 0: a slot is
    # freed only once the first task's end is recorded). Task start-up on a loaded 2-core machine eats
    # into the 4 s (1.96 s and, under Celery during a full CI run, 0.59 s of overlap were measured), so
    # ask for a clear quarter second, well above the timestamps' resolution.
    assert overlap_seconds(tasks["sleep_a"], tasks["sleep_b"]) > 0.25


def test_no_component_listens_beyond_127_0_0_1(stack, runs):
    listening = []
    for proc in stack._procs.values():
        parent = psutil.Process(proc.pid)
        for p in [parent, *parent.children(recursive=True)]:
            try:
                conns = p.net_connections(kind="inet")
            except psutil.NoSuchProcess:
                continue
            listening += [(p.name(), c.laddr) for c in conns if c.status == psutil.CONN_LISTEN]
    assert listening, "the api-server at least must listen"
    assert all(addr.ip == "127.0.0.1" for _, addr in listening), listening
    assert any(addr.port == stack.api_port for _, addr in listening)
