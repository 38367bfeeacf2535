"""Idempotency markers: a retried task finds the object its earlier try created instead of
creating a second one.

HishamOS has no idempotency keys, so the marker is stored with the object itself, in a field the
real backend stores as given and returns on list: a story's ``custom_fields``, a project's
``tags``, a RepositoryExport's ``config`` (a JSON object; its other fields but ``repository_name``
are read-only) and, for a GeneratedProject (no free-form field: only ``output_directory`` and
``error_message`` are writable text), the end of ``output_directory`` as ``<path>#<marker>``. It
is looked up before creating and after any failure that may have hidden a successful create.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

#: Key under ``custom_fields`` (and ``config``) that holds the marker.
MARKER_FIELD = "airflow_idempotency_key"
#: ``GeneratedProject.output_directory`` is at most 500 characters long.
MAX_DIRECTORY = 500


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


def with_marker_config(body: dict[str, Any], key: str) -> dict[str, Any]:
    """A copy of a create body with the marker added to its ``config`` object."""
    return {**body, "config": {**dict(body.get("config") or {}), MARKER_FIELD: key}}


def marked_directory(path: str, key: str) -> str:
    """``<path>#<key>`` within the field's 500 characters (a long path loses its start, not the key)."""
    room = MAX_DIRECTORY - len(key) - 1
    return (path if len(path) <= room else "..." + path[len(path) - room + 3:]) + "#" + key


def directory_marker(value: Any) -> str | None:
    """The marker at the end of an ``output_directory`` (None without one)."""
    if not isinstance(value, str) or "#" not in value:
        return None
    return value.rpartition("#")[2] or None


def marker_of(obj: dict[str, Any]) -> str | None:
    """The marker an object carries, wherever its kind keeps it."""
    for holder in ("custom_fields", "config"):
        fields = obj.get(holder)
        if isinstance(fields, dict) and isinstance(fields.get(MARKER_FIELD), str):
            return fields[MARKER_FIELD]
    tags = obj.get("tags")
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, str) and tag.startswith(f"{MARKER_FIELD}="):
                return tag.partition("=")[2]
    return directory_marker(obj.get("output_directory"))


def find_marked(objects: Iterable[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The first object carrying ``key`` (None when the earlier try created nothing)."""
    return next((obj for obj in objects if marker_of(obj) == key), None)
