"""Dry runs: the one place that decides whether a task runs for real or only reports (issue 13).

A run is a dry run when its ``params.dry_run`` (the Param every factory-built DAG has; a run's
conf sets it) or the operator's own ``dry_run`` argument is true. An explicit ``False`` does not
turn a dry run of the whole run off: one step publishing in a run its user asked to be dry would
be the one surprise this mode exists to prevent. Plain Python (no Airflow import).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_hisham.booleans import parse_bool

#: The param's name, in every factory-built DAG.
PARAM = "dry_run"
#: Its schema: what :func:`param_spec` gives and what a user-declared ``dry_run`` must agree with.
PARAM_TYPE = "boolean"


def param_spec() -> dict[str, Any]:
    """The ``dry_run`` Param's schema, as workflow configs declare params."""
    return {
        "type": PARAM_TYPE,
        "default": False,
        "title": "Dry run",
        "description": "Render every step and report what would happen, without any side effect "
                       "(no story, repository, push, request, record or archive).",
    }


def with_param(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` (a workflow's param schemas) plus ``dry_run`` unless it declares its own."""
    return dict(params) if PARAM in params else {**params, PARAM: param_spec()}


def declares_same_meaning(spec: Any) -> bool:
    """Whether a user-declared ``dry_run`` param is a boolean (with or without null), so keeping it
    keeps the meaning every step reads."""
    if not isinstance(spec, Mapping):
        return False
    kind = spec.get("type")
    kinds = {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()
    return PARAM_TYPE in kinds and kinds <= {PARAM_TYPE, "null"}


def is_dry_run(context: Mapping[str, Any] | None, explicit: Any = None) -> bool:
    """True when the operator's ``explicit`` argument or the run's ``params.dry_run`` is true
    (text such as ``"true"``/``"off"`` read by :func:`~airflow_provider_hisham.booleans.parse_bool`;
    anything else is refused, naming the field, rather than guessed)."""
    if parse_bool(explicit, "dry_run", default=False):
        return True
    params = (context or {}).get("params") or {}
    return parse_bool(params.get(PARAM) if isinstance(params, Mapping) else None, "params.dry_run", default=False)


def report(step: str, would: str, **facts: Any) -> dict[str, Any]:
    """What a step in a dry run returns: ``{"dry_run": True, "step", "would", ...facts}``."""
    return {"dry_run": True, "step": step, "would": would, **facts}


def is_dry_result(value: Any) -> bool:
    """Whether ``value`` is what an upstream step returned in a dry run (its folder does not exist)."""
    return isinstance(value, Mapping) and value.get("dry_run") is True
