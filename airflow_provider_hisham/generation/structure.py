"""Inline structures as HishamOS workflows pass them: a nested mapping, an empty mapping is a folder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_hisham.generation.errors import LimitExceededError, StructureError
from airflow_provider_hisham.generation.limits import Limits
from airflow_provider_hisham.generation.paths import PathChecker, check_tree
from airflow_provider_hisham.generation.plan import Plan, PlannedFile


def plan_structure(structure: Mapping[str, Any], limits: Limits, *, render: bool = False, context: dict | None = None) -> Plan:
    """``{"src/main.py": "...", "tests/": {}, "docs": {"index.md": "..."}}`` -> Plan.

    Keys may hold ``/``-separated paths; a trailing ``/`` or a mapping value means a folder.
    String contents are written as UTF-8 text exactly as given (or rendered with ``context``
    when ``render`` is true); bytes are written verbatim.
    """
    if not isinstance(structure, Mapping):
        raise StructureError("<root>", f"expected a mapping, got {type(structure).__name__}")
    plan = Plan(context=dict(context or {}))
    paths = PathChecker(limits)
    total = 0

    def visit(mapping: Mapping[str, Any], prefix: str) -> None:
        nonlocal total
        for key in sorted(mapping, key=str):
            value = mapping[key]
            if not isinstance(key, str):
                raise StructureError(f"{prefix}{key!r}", "keys must be strings")
            name = key[:-1] if key.endswith("/") and len(key) > 1 else key
            path = prefix + name
            paths.check(path)
            if isinstance(value, Mapping):
                plan.dirs.append(path)
                if len(plan.dirs) > limits.max_files:
                    raise LimitExceededError("max_files", len(plan.dirs), limits.max_files, path, "folders")
                visit(value, path + "/")
            elif key.endswith("/"):
                raise StructureError(path, "a key ending in '/' must map to a mapping (use {} for an empty folder)")
            elif isinstance(value, (str, bytes, bytearray)):
                data = bytes(value) if isinstance(value, bytearray) else value
                try:
                    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8"))
                except UnicodeEncodeError as err:
                    raise StructureError(path, f"text is not valid Unicode (lone surrogate at {err.start}); give bytes for binary content") from None
                if size > limits.max_file_bytes:
                    raise LimitExceededError("max_file_bytes", size, limits.max_file_bytes, path)
                total += size
                plan.files.append(PlannedFile(path, data=data, render=render and isinstance(data, str)))
                if len(plan.files) > limits.max_files:
                    raise LimitExceededError("max_files", len(plan.files), limits.max_files)
            else:
                raise StructureError(path, f"content must be a string, bytes or a mapping, got {type(value).__name__}")

    visit(structure, "")
    if total > limits.max_project_bytes:
        raise LimitExceededError("max_project_bytes", total, limits.max_project_bytes)
    check_tree((f.path for f in plan.files), plan.dirs)
    plan.files.sort(key=lambda f: f.path)
    plan.dirs.sort()
    plan.template = None
    return plan
