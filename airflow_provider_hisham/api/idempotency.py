"""Idempotency markers: a retried task finds the object its earlier try created instead of
creating a second one.

HishamOS has no idempotency keys, so the marker is stored with the object itself, in a field the
real backend stores as given and returns on list: a story's ``custom_fields``, a project's
``tags``, a RepositoryExport's ``config`` (a JSON object; its other fields but ``repository_name``
are read-only) and, for a GeneratedProject (no free-form field: only ``output_directory`` and
``error_message`` are writable text), the end of ``output_directory`` as ``<path>#<marker>``. It
is looked up before creating and after any failure that may have hidden a successful create.

:func:`marker` is the package's one marker function. A marker already written into a remote
record must be found again by a retry after an upgrade, so each spelling in use is a frozen
:class:`MarkerScheme`: ``TASK`` (HishamOS records) and ``EXPORT`` (the ``[hisham-export:...]``
in a created repository's description). Never change one; add a scheme instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: Key under ``custom_fields`` (and ``config``) that holds the marker.
MARKER_FIELD = "airflow_idempotency_key"
#: ``GeneratedProject.output_directory`` is at most 500 characters long.
MAX_DIRECTORY = 500


@dataclass(frozen=True)
class MarkerScheme:
    """How one kind of record spells a marker: ``prefix`` + the first ``digits`` hex digits of the
    sha256 of the task instance's fields joined by ``separator``."""

    prefix: str
    separator: str
    digits: int
    salted: bool  # the salt is a fifth field (an unsalted scheme takes none)
    unset_index: str  # how a map index of None is spelled


#: HishamOS records (stories, projects, exports, generated projects, agent runs).
TASK = MarkerScheme("af1-", "\x1f", 40, salted=True, unset_index="-1")
#: A repository created by the repo_creation step, in its description.
EXPORT = MarkerScheme("hisham-export:", "/", 16, salted=False, unset_index="None")


def marker(dag_id: str, run_id: str, task_id: str, map_index: int | None = -1, salt: str = "", *,
           scheme: MarkerScheme = TASK) -> str:
    """A stable marker for one task instance (all its tries share it); ``salt`` separates several
    creates made by the same task."""
    fields = [dag_id, run_id, task_id, scheme.unset_index if map_index is None else str(map_index)]
    if scheme.salted:
        fields.append(salt)
    elif salt:
        raise ValueError(f"markers {scheme.prefix}... take no salt")
    return scheme.prefix + hashlib.sha256(scheme.separator.join(fields).encode()).hexdigest()[:scheme.digits]


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
