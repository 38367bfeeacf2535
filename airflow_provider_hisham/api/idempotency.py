"""Idempotency markers: a retried task finds the object its earlier try created instead of
creating a second one.

HishamOS has no idempotency keys, so the marker is stored with the object itself: in a story's
``custom_fields`` (a free-form JSON object in the schema, returned on list) or, for projects (no
``custom_fields``), as a ``tags`` entry; it is looked up before creating and after any failure
that may have hidden a successful create.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

#: Key under ``custom_fields`` that holds the marker.
MARKER_FIELD = "airflow_idempotency_key"


def marker(dag_id: str, run_id: str, task_id: str, map_index: int | None = -1, salt: str = "") -> str:
    """A stable marker for one task instance (all its tries share it); ``salt`` separates several
    creates made by the same task."""
    raw = "\x1f".join([dag_id, run_id, task_id, str(-1 if map_index is None else map_index), salt])
    return "af1-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def with_marker(body: dict[str, Any], key: str) -> dict[str, Any]:
    """A copy of a create body with the marker added to its ``custom_fields``."""
    custom = dict(body.get("custom_fields") or {})
    custom[MARKER_FIELD] = key
    return {**body, "custom_fields": custom}


def with_marker_tag(body: dict[str, Any], key: str) -> dict[str, Any]:
    """A copy of a create body with the marker appended to its ``tags`` list."""
    return {**body, "tags": [*list(body.get("tags") or []), f"{MARKER_FIELD}={key}"]}


def find_marked(objects: Iterable[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The first object carrying ``key`` (None when the earlier try created nothing)."""
    for obj in objects:
        custom = obj.get("custom_fields")
        if isinstance(custom, dict) and custom.get(MARKER_FIELD) == key:
            return obj
        tags = obj.get("tags")
        if isinstance(tags, list) and f"{MARKER_FIELD}={key}" in tags:
            return obj
    return None
