"""The approval gate (dags/workflows/review_before_publish.yaml) answered over the REST API.

Two runs of the example wait in its ``review`` step (Airflow's human-in-the-loop; in 3.3 the task
is paused as ``awaiting_input``, holding no worker slot). One is approved, the other rejected, through Airflow 3.3's
``PATCH .../taskInstances/{task_id}/{map_index}/hitlDetails``, as the official client sends it:
the approved run publishes its ZIP, the rejected one skips publishing and records who rejected
it and why (in the step's XCom, its log and the HITL detail).
"""

from __future__ import annotations

import time
from pathlib import Path

import airflow_client.client as ac
import pytest

from tests.e2e.conftest import running_stack
from tests.e2e.rest import Rest

DAG_ID = "hisham_review_before_publish"
TASK = "review"


def wait_for_question(rest: Rest, stack, run_id: str, timeout: float = 240) -> ac.HITLDetail:
    """The HITL detail of the run's review step, once the step waits for an answer."""
    deadline, state = time.monotonic() + timeout, "no HITL detail yet"
    while True:
        stack.check_alive()
        try:
            detail = rest.task_instances.get_hitl_detail(DAG_ID, run_id, TASK, -1)
            state = str(getattr(detail.task_instance.state, "value", detail.task_instance.state))
            if state in ("deferred", "awaiting_input"):  # 3.3 pauses a HITL task as awaiting_input
                return detail
        except ac.exceptions.NotFoundException:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{DAG_ID}/{run_id}: the review step did not ask within {timeout:.0f} s ({state})")
        time.sleep(1)


def answer(rest: Rest, run_id: str, option: str, reason: str) -> ac.HITLDetailResponse:
    payload = ac.UpdateHITLDetailPayload(chosen_options=[option], params_input={"reason": reason})
    return rest.task_instances.update_hitl_detail(DAG_ID, run_id, TASK, -1, payload)


PASSWORD = "approval-test-password"
#: A person answers after reading, not within a second: Airflow 3.3.2's executors report the paused
#: task's process as finished a moment after it paused, and an answer that resumes the task before
#: that report makes the scheduler count the resumed try as failed (seen with LocalExecutor).
READING_SECONDS = 10


@pytest.fixture(scope="module", params=["LocalExecutor", "CeleryExecutor"])
def approval_stack(request):
    """A deployment with a real admin user, so the answer records who gave it."""
    with running_stack(request.param, admin_password=PASSWORD) as stack:
        yield stack


@pytest.fixture(scope="module")
def rest(approval_stack) -> Rest:
    return Rest(approval_stack.client())


@pytest.fixture(scope="module")
def answered_runs(approval_stack, rest):
    stack = approval_stack
    stack.wait_for_dags(DAG_ID)
    runs = {}
    for name in ("approve", "reject"):
        runs[name] = rest.trigger(DAG_ID, {"project_slug": f"gate-{name}-{stack.executor.lower()}", "target": "zip"})
    questions = {name: wait_for_question(rest, stack, run_id) for name, run_id in runs.items()}
    time.sleep(READING_SECONDS)
    responses = {
        "approve": answer(rest, runs["approve"], "Approve", "Looks right; ship it"),
        "reject": answer(rest, runs["reject"], "Reject", "The tests are missing <script>x</script>"),
    }
    results = {name: rest.wait(DAG_ID, run_id, timeout=240) for name, run_id in runs.items()}
    return questions, responses, results


def test_the_reviewer_sees_what_is_about_to_be_published(answered_runs):
    questions, _, _ = answered_runs
    for question in questions.values():
        assert question.subject.startswith("Publish gate-") and question.options == ["Approve", "Reject"]
        body = question.body or ""
        # the summary's Markdown, every value escaped (a file name cannot become a link)
        assert "About to publish" in body and "- Files: 3" in body and "README\\.md" in body and "Target: zip" in body, body
        assert "reason" in (question.params or {})


def test_an_approved_run_publishes_and_records_who_approved(answered_runs, rest):
    _, responses, results = answered_runs
    result = results["approve"]
    assert result.state == "success", result.states()
    assert result.states()["publish"] == "success"
    decision = rest.xcom(result, TASK)
    assert decision["approved"] is True and decision["decision"] == "approved", decision
    assert decision["responded_by"]["name"] == "admin" and decision["reason"] == "Looks right; ship it"
    archive = Path(rest.xcom(result, "publish")["archive_path"])
    assert archive.is_file() and archive.suffix == ".zip"
    assert responses["approve"].responded_by.name == "admin"


def test_a_rejected_run_skips_publishing_and_records_who_rejected_and_why(answered_runs, rest):
    _, responses, results = answered_runs
    result = results["reject"]
    assert result.states()["publish"] == "skipped", result.states()
    assert result.state == "success", result.states()  # a rejection is an answer, not a failure
    decision = rest.xcom(result, TASK)
    assert decision["approved"] is False and decision["decision"] == "rejected", decision
    assert decision["responded_by"]["name"] == "admin"
    assert decision["reason"] == "The tests are missing <script>x</script>" and decision["timed_out"] is False
    detail = rest.task_instances.get_hitl_detail(DAG_ID, result.run_id, TASK, -1)
    assert detail.chosen_options == ["Reject"] and detail.responded_by_user.name == "admin"
    assert detail.params_input == {"reason": "The tests are missing <script>x</script>"}
    assert "Rejected by admin" in rest.log(result, TASK) and "The tests are missing" in rest.log(result, TASK)
    with pytest.raises(ac.exceptions.NotFoundException):  # nothing was published
        rest.xcom(result, "publish")
