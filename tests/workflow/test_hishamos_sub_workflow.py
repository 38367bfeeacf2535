"""A sub_workflow step triggers the other definition's DAG and waits for its run to finish.

``dag.test()`` runs only the parent's tasks: a thread stands in for the scheduler, finishing the
child run the parent created (success, or failure) while the parent's deferred task waits.
"""

from __future__ import annotations

import threading
import time

import pytest
from airflow.utils.state import DagRunState, TaskInstanceState

from tests.workflow.test_hishamos_definitions import agent, bag_of, definition, states

CHILD = definition("Child Flow", [agent("work", inputs={"topic": "{{input.topic}}"})])
PARENT = definition("Parent Flow", [
    agent("prepare"),
    {"id": "call_child", "agent": "Coding Agent", "step_type": "sub_workflow", "timeout_seconds": 120, "max_retries": 0,
     "sub_workflow": {"workflow_id": "child-flow", "input_mapping": {"topic": "{{steps.prepare.output.text}}"}}},
    agent("after", inputs={"child": "{{steps.call_child.output}}"}),
])


def finish_child_run(state: DagRunState, seen: dict, stop: threading.Event) -> None:
    """The scheduler's part: end every child run the parent creates (queued or running)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    waiting = (DagRunState.QUEUED, DagRunState.RUNNING)
    while not stop.is_set():
        with create_session() as session:
            for run in session.query(DagRun).filter(DagRun.dag_id == "child_flow", DagRun.state.in_(waiting)).all():
                seen["conf"] = run.conf
                run.set_state(state)
        time.sleep(0.2)


@pytest.mark.parametrize("outcome", [DagRunState.SUCCESS, DagRunState.FAILED])
def test_sub_workflow_triggers_the_child_dag_and_waits_for_its_run(outcome):
    bag = bag_of("hd_sub_run", {"child.yaml": CHILD, "parent.yaml": PARENT})
    assert bag.import_errors == {}
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "generated", None)  # the child DAG must exist for a run of it
    seen: dict = {}
    stop = threading.Event()
    worker = threading.Thread(target=finish_child_run, args=(outcome, seen, stop), daemon=True)
    worker.start()
    try:
        dr = bag.dags["parent_flow"].test()
    finally:
        stop.set()
        worker.join(10)
    got = states(dr)
    # input_mapping rendered from the parent's step, and the run's dry_run handed on
    assert seen["conf"] == {"topic": "Coding Agent done", "dry_run": False}
    if outcome == DagRunState.SUCCESS:
        assert dr.state == DagRunState.SUCCESS, got
        assert got["after"] == TaskInstanceState.SUCCESS
    else:
        assert dr.state == DagRunState.FAILED and got["call_child"] == TaskInstanceState.FAILED, got


def test_a_dry_run_parent_triggers_a_dry_run_child():
    bag = bag_of("hd_sub_dry", {"child.yaml": CHILD, "parent.yaml": PARENT})
    assert bag.import_errors == {}
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "generated", None)
    seen: dict = {}
    stop = threading.Event()
    worker = threading.Thread(target=finish_child_run, args=(DagRunState.SUCCESS, seen, stop), daemon=True)
    worker.start()
    try:
        dr = bag.dags["parent_flow"].test(run_conf={"dry_run": True})
    finally:
        stop.set()
        worker.join(10)
    assert dr.state == DagRunState.SUCCESS, states(dr)
    assert seen["conf"]["dry_run"] is True
