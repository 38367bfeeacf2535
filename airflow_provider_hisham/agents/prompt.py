"""Prompt and context of an agent step, built the way HishamOS's workflow engine builds them.

The engine replaces ``{{path}}`` references in ``inputs`` (here Airflow's template rendering has
already done that), takes the prompt from ``inputs.prompt``, else ``inputs.task_description``, else
the first non-empty string input, else ``"Execute <agent> task"``, and sends the inputs as the
context. An explicit ``prompt`` argument comes first; an explicit ``context`` is merged over the inputs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airflow_provider_hisham.api.idempotency import MARKER_FIELD


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, sort_keys=True)


def build_prompt(agent: str, prompt: Any = None, inputs: Mapping[str, Any] | None = None) -> str:
    """The prompt sent to the agent (never empty: HishamOS answers 400 to an empty one)."""
    if prompt is not None and _text(prompt).strip():
        return _text(prompt)
    inputs = inputs or {}
    for key in ("prompt", "task_description"):
        value = inputs.get(key)
        if isinstance(value, str) and value.strip():
            return value
    for value in inputs.values():
        if isinstance(value, str) and value.strip():
            return value
    return f"Execute {agent} task"


def build_context(inputs: Mapping[str, Any] | None, context: Mapping[str, Any] | None,
                  idempotency_key: str | None) -> dict[str, Any]:
    """Inputs, then ``context`` over them, then the step's idempotency marker (the retry lookup key)."""
    merged: dict[str, Any] = {**dict(inputs or {}), **dict(context or {})}
    if idempotency_key:
        merged[MARKER_FIELD] = idempotency_key
    # JSON-safe: values rendered from XCom may be e.g. datetimes
    return json.loads(json.dumps(merged, default=str))
