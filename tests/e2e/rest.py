"""Thin helpers over the official ``apache-airflow-client`` for the end-to-end tests."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import airflow_client.client as ac

FINISHED = {"success", "failed"}


@dataclass
class RunResult:
    dag_id: str
    run_id: str
    state: str
    tasks: dict[str, Any]  # task_id -> TaskInstanceResponse

    def states(self) -> dict[str, str]:
        return {task_id: str(ti.state.value if hasattr(ti.state, "value") else ti.state) for task_id, ti in self.tasks.items()}


class Rest:
    """DAG runs, task instances, XCom and logs over ``/api/v2`` with the official client."""

    def __init__(self, api_client: ac.ApiClient) -> None:
        self.dag_runs = ac.DagRunApi(api_client)
        self.task_instances = ac.TaskInstanceApi(api_client)
        self.xcoms = ac.XComApi(api_client)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        body = ac.TriggerDAGRunPostBody(logical_date=None, conf=conf or {})
        return self.dag_runs.trigger_dag_run(dag_id, body).dag_run_id

    def wait(self, dag_id: str, run_id: str, timeout: float = 240) -> RunResult:
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_runs.get_dag_run(dag_id, run_id)
            state = str(run.state.value if hasattr(run.state, "value") else run.state)
            if state in FINISHED:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id}/{run_id} still {state} after {timeout:.0f} s")
            time.sleep(1)
        tis = self.task_instances.get_task_instances(dag_id, run_id, limit=100).task_instances
        return RunResult(dag_id, run_id, state, {ti.task_id: ti for ti in tis})

    def xcom(self, result: RunResult, task_id: str, key: str = "return_value") -> Any:
        entry = self.xcoms.get_xcom_entry(result.dag_id, task_id, result.run_id, key, deserialize=True)
        value = entry.actual_instance.value if hasattr(entry, "actual_instance") else entry.value
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def log(self, result: RunResult, task_id: str, try_number: int | None = None) -> str:
        """The task's log for one try as text: every structured event with all its fields.

        Read undecoded because the client's model keeps only ``event`` and ``timestamp`` of each
        line, dropping ``error_detail`` (the exception and its message).
        """
        try_number = try_number or result.tasks[task_id].try_number
        response = self.task_instances.get_log_without_preload_content(
            result.dag_id, result.run_id, task_id, try_number, full_content=True
        )
        assert response.status == 200, response.data[:500]
        return json.dumps(json.loads(response.data)["content"])

    def errors(self, result: RunResult, task_id: str) -> list[str]:
        """The readable errors of a task's log: ``ExceptionType: message`` and error events."""
        lines = []
        for event in json.loads(self.log(result, task_id)):
            if not isinstance(event, dict):
                continue
            for exc in event.get("error_detail") or []:
                lines.append(f"{exc.get('exc_type')}: {exc.get('exc_value')}")
            if event.get("level") in ("error", "critical") and not event.get("error_detail"):
                lines.append(str(event.get("event")))
        return lines


def overlap_seconds(a: Any, b: Any) -> float:
    """How long two task instances ran at the same time (negative: a gap between them)."""
    start = max(_dt(a.start_date), _dt(b.start_date))
    end = min(_dt(a.end_date), _dt(b.end_date))
    return (end - start).total_seconds()


def _dt(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
