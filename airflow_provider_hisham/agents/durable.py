"""Durable agent runs: a retried step reuses the answer its earlier try already paid for.

HishamOS has no idempotency keys; the step's marker (dag, run, task, map index) travels in the
execution's ``context`` and comes back in ``GET /api/v1/agents/executions/?agent=<id>`` (newest
first), so a retry finds the earlier execution and rebuilds the answer from it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_hisham.agents.errors import AgentRunPendingError
from airflow_provider_hisham.api.idempotency import MARKER_FIELD

_RUNNING = ("pending", "running")


def _created(record: Mapping[str, Any]) -> dt.datetime | None:
    raw = record.get("created_at")
    try:
        stamp = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


def find_execution(executions: Iterable[Mapping[str, Any]], key: str, *,
                   not_before: dt.datetime | None = None) -> Mapping[str, Any] | None:
    """The completed execution carrying ``key`` (None: run the agent).

    ``executions`` is consumed lazily, newest first; it stops at the first record created before
    ``not_before`` (an older record cannot belong to this run). An execution with the key that is
    still pending/running raises :class:`AgentRunPendingError`; a failed one is not reused.
    """
    for record in executions:
        created = _created(record)
        if not_before is not None and created is not None and created < not_before:
            return None
        context = record.get("context")
        if not (isinstance(context, Mapping) and context.get(MARKER_FIELD) == key):
            continue
        status = str(record.get("status") or "")
        if status == "completed":
            return record
        if status in _RUNNING:
            raise AgentRunPendingError(f"execution {record.get('id')} of an earlier try of this step is still "
                                       f"{status} on HishamOS; not running the agent again (retry later)")
    return None


def answer_from_execution(record: Mapping[str, Any]) -> dict[str, Any]:
    """The execute call's answer rebuilt from an AgentExecution record (``execution_time`` s -> ms)."""
    output = record.get("output_data")
    if isinstance(output, Mapping):
        text = next((output[k] for k in ("output", "response", "content", "text") if isinstance(output.get(k), str)),
                    None)
        output = text if text is not None else json.dumps(output, default=str)
    elif output is not None and not isinstance(output, str):
        output = json.dumps(output, default=str)
    try:
        elapsed = float(record.get("execution_time") or 0) * 1000
    except (TypeError, ValueError):
        elapsed = 0.0
    return {"success": True, "output": output or "", "response": output or "", "execution_time": elapsed,
            "cost": record.get("cost"), "token_usage": {"tokens_used": record.get("tokens_used") or 0}}
