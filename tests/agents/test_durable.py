"""Finding the execution an earlier try already paid for, and rebuilding its answer."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_hisham.agents import AgentRunPendingError, answer_from_execution, find_execution
from airflow_provider_hisham.api.idempotency import MARKER_FIELD


def _rec(key, status="completed", created="2026-03-01T10:00:00.000000Z", **kw):
    return {"id": kw.pop("id", key), "context": {MARKER_FIELD: key} if key else {}, "status": status,
            "created_at": created, **kw}


def test_the_marked_completed_execution_is_found():
    records = [_rec(None), _rec("other"), _rec("mine", id="x"), _rec("mine", id="older")]
    assert find_execution(records, "mine")["id"] == "x"
    assert find_execution(records, "absent") is None
    assert find_execution([_rec("mine", "failed"), _rec("mine", id="ok")], "mine")["id"] == "ok"
    assert find_execution([{"context": "not a dict"}, {}], "mine") is None


def test_a_still_running_execution_is_not_paid_again():
    with pytest.raises(AgentRunPendingError, match="still running"):
        find_execution([_rec("mine", "running")], "mine")


def test_the_lookup_stops_at_records_older_than_the_run():
    consumed = []

    def newest_first():
        for rec in (_rec("a", created="2026-03-02T00:00:00Z"), _rec("b", created="2026-02-01T00:00:00Z"),
                    _rec("mine")):
            consumed.append(rec["id"])
            yield rec

    start = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    assert find_execution(newest_first(), "mine", not_before=start) is None and consumed == ["a", "b"]
    assert find_execution([_rec("mine", created="garbage")], "mine", not_before=start) is not None


def test_answer_from_the_record():
    rec = _rec("k", output_data={"output": "hi"}, execution_time=0.25, cost="0.000100", tokens_used=5)
    assert answer_from_execution(rec) == {"success": True, "output": "hi", "response": "hi", "execution_time": 250.0,
                                          "cost": "0.000100", "token_usage": {"tokens_used": 5}}
    assert answer_from_execution(_rec("k", output_data="plain"))["output"] == "plain"
    assert answer_from_execution(_rec("k", output_data={"n": 1}))["output"] == '{"n": 1}'
    assert answer_from_execution(_rec("k", output_data=None, execution_time="x"))["execution_time"] == 0.0
