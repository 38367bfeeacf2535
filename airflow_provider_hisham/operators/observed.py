"""The Airflow side of observability, kept thin: Stats metrics, audit lines and OpenLineage for steps.

An operator takes part with two small changes: the :class:`Observed` base class (OpenLineage's
operator-level methods) and ``@observed("<step type>")`` on ``execute``. While ``execute`` runs, the
clients' events (:mod:`airflow_provider_hisham.observability.events`) become metrics and audit
records of that task instance; names, record shapes and dataset names are in the plain
:mod:`airflow_provider_hisham.observability` package.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from airflow_provider_hisham.dry_run import is_dry_result
from airflow_provider_hisham.observability import audit, events, lineage
from airflow_provider_hisham.observability.metrics import endpoint_template, step_metric, tags

try:
    from airflow.sdk.observability.stats import Stats
except ImportError:  # pragma: no cover - Airflow < 3.2
    from airflow.stats import Stats  # type: ignore[no-redef]

log = logging.getLogger(__name__)
#: Exceptions that end a try without failing it (a deferral, a skip, a reschedule).
_NOT_FAILURES = ("TaskDeferred", "AirflowSkipException", "AirflowRescheduleException", "DownstreamTasksSkipped")


def _who(op: Any, context: Any) -> audit.Who:
    ti = context.get("ti") if hasattr(context, "get") else None
    user = next((str(v) for v in (getattr(op, a, None) for a in ("user_id", "hishamos_user_id"))
                 if v not in (None, "", "None")), None)
    return audit.Who(user, getattr(ti, "dag_id", None), getattr(ti, "run_id", None),
                     getattr(ti, "task_id", getattr(op, "task_id", None)), getattr(ti, "map_index", None),
                     getattr(ti, "try_number", None))


class Observation:
    """One try of one step: turns client events into metrics and audit records, then the outcome."""

    def __init__(self, step: str, who: audit.Who) -> None:
        self.step = step
        self.who = who
        self.started = time.monotonic()
        self.base_url: str | None = None
        self.bytes_pushed = 0
        self.api_calls = 0

    def _tags(self) -> dict[str, str]:
        return tags(dag_id=self.who.dag_id, task_id=self.who.task_id)

    def on_event(self, event: events.Event) -> None:
        f = event.fields
        self.who = self.who.with_user(f.get("user"))
        if f.get("base_url"):
            self.base_url = f["base_url"]
        if event.kind == events.API_CALL:
            self.api_calls += 1
            template = endpoint_template(f.get("path", ""))
            status = f.get("status") or "error"
            t = tags(method=f.get("method"), endpoint=template, status=status)
            Stats.incr("hisham.api.calls", tags=t)
            Stats.timing("hisham.api.duration", f.get("duration_ms", 0.0), tags=t)
            result = "ok" if isinstance(status, int) and status < 400 else f"failed ({f.get('error') or status})"
            audit.write(audit.record("api_call", self.who, f"{f.get('method')} {template}",
                                     f"{(self.base_url or '').rstrip('/')}{f.get('path', '')}", result,
                                     f.get("duration_ms"), status=status))
        elif event.kind == events.API_RETRY:
            Stats.incr("hisham.api.retries", tags=tags(method=f.get("method"),
                                                       endpoint=endpoint_template(f.get("path", "")),
                                                       reason=f.get("reason")))
        elif event.kind == events.API_REAUTH:
            Stats.incr("hisham.api.reauthentications", tags=tags(mode=f.get("mode")))
        elif event.kind == events.GIT_PUSH:
            pushed = int(f.get("bytes") or 0)
            self.bytes_pushed += pushed
            Stats.incr(step_metric(self.step, "bytes_pushed"), pushed, tags=self._tags())
            audit.write(audit.record("push", self.who, f"push {f.get('sha')} to {', '.join(f.get('branches', []))}",
                                     f.get("url"), "ok", f.get("duration_ms"), bytes=pushed))

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        took = (time.monotonic() - self.started) * 1000.0
        if error is not None and type(error).__name__ in _NOT_FAILURES:
            outcome = "deferred" if type(error).__name__ == "TaskDeferred" else "skipped"
            if outcome == "deferred" and self.step == "approval":
                audit.write(audit.record("request_opened", self.who, "approval requested",
                                         self.who.task_id, "waiting", took))
            else:
                audit.write(audit.record("step", self.who, self.step, self.who.task_id, outcome, took))
            return
        Stats.timing(step_metric(self.step, "duration"), took, tags=self._tags())
        if error is not None:
            Stats.incr(step_metric(self.step, "failures"), tags={**self._tags(), **tags(error=type(error).__name__)})
            audit.write(audit.record("step", self.who, self.step, self.who.task_id,
                                     f"failed ({type(error).__name__}: {error})", took))
            return
        Stats.incr(step_metric(self.step, "successes"), tags=self._tags())
        if is_dry_result(result):  # nothing was made: no archive, request or record to audit
            audit.write(audit.record("step", self.who, self.step, self.who.task_id, "ok (dry run)", took))
            return
        if isinstance(result, dict) and result.get("archive_path") and self.step == "repo_creation":
            size = os.path.getsize(result["archive_path"]) if os.path.isfile(result["archive_path"]) else 0
            Stats.incr(step_metric(self.step, "archive_bytes"), size, tags=self._tags())
        for event, what, target, details in audit.step_records(self.step, self.who, result, took):
            audit.write(audit.record(event, self.who, what, target, "ok", None, **details))
        audit.write(audit.record("step", self.who, self.step, self.who.task_id, "ok", took,
                                 api_calls=self.api_calls))


def _safely(action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Observing must never change a step's outcome: an error here is logged, not raised."""
    try:
        action(*args, **kwargs)
    except Exception:  # noqa: BLE001
        log.exception("observability of a HishamOS step failed")


def observed(method: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``execute`` (or ``execute_complete``) of an :class:`Observed` operator: metrics and
    audit records of the try, named by the operator's ``hisham_step``."""

    @functools.wraps(method)
    def run(self: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
        obs = Observation(self.hisham_step, _who(self, context))
        self._hisham_observation = obs
        with audit.keeping_clients():
            with events.listening(obs.on_event):
                try:
                    result = method(self, context, *args, **kwargs)
                except BaseException as exc:
                    _safely(obs.finish, error=exc)
                    raise
            _safely(obs.finish, result)
        self._hisham_result = result
        return result

    return run


# -- OpenLineage ---------------------------------------------------------------------------
def _local(path: Any) -> list[lineage.Dataset]:
    return [lineage.local_path(path)] if isinstance(path, str) and path.strip() else []


def _datasets(op: Any, result: Any) -> tuple[list[lineage.Dataset], list[lineage.Dataset]]:
    """``(inputs, outputs)`` of a step, from its arguments and (after it ran) its result."""
    step = getattr(op, "hisham_step", None)
    obs = getattr(op, "_hisham_observation", None)
    base = getattr(obs, "base_url", None)
    res = result if isinstance(result, dict) else {}
    ins: list[lineage.Dataset] = []
    outs: list[lineage.Dataset] = []
    if step == "file_generation":
        if isinstance(op.template, str) and op.template:
            ins.append(lineage.template(op.template))
        story = lineage.story_of(op.context if isinstance(op.context, dict) else None)
        if story is not None:
            ins.append(lineage.hishamos_object(base, "stories", story))
        if op.hishamos_project_id:
            ins.append(lineage.hishamos_object(base, "projects", op.hishamos_project_id))
        outs += _local(res.get("output_dir"))
        if res.get("generated_project_id"):
            outs.append(lineage.hishamos_object(base, "generated-projects", res["generated_project_id"]))
    elif step == "repo_creation":
        ins += _local(op.source_dir)
        if op.generated_project_id:
            ins.append(lineage.hishamos_object(base, "generated-projects", op.generated_project_id))
        if res.get("url"):
            outs.append(lineage.repository(res["url"]))
        outs += _local(res.get("archive_path"))
    elif step == "combine":
        sources = op.sources.values() if isinstance(op.sources, dict) else op.sources
        for source in sources if isinstance(sources, (list, tuple, type({}.values()))) else ():
            ins += _local(source.get("output_dir") if isinstance(source, dict) else source)
        outs += _local(res.get("output_dir"))
    elif step == "agent":
        story = lineage.story_of(op.inputs if isinstance(op.inputs, dict) else None)
        if story is not None:
            ins.append(lineage.hishamos_object(base, "stories", story))
        if res.get("agent"):
            ins.append(lineage.hishamos_object(base, "agents", res["agent"]))
    elif step == "api_call":
        data = op.data if isinstance(op.data, dict) else {}
        project = data.get("project") or data.get("project_id")
        action = op.action or ""
        if project:
            ins.append(lineage.hishamos_object(base, "projects", project))
        if action == "create_story" and res.get("id"):
            outs.append(lineage.hishamos_object(base, "stories", res["id"]))
        elif action == "create_project" and res.get("id"):
            outs.append(lineage.hishamos_object(base, "projects", res["id"]))
        elif action in ("get_story", "update_story_status") and (data.get("story_id") or data.get("id")):
            ins.append(lineage.hishamos_object(base, "stories", data.get("story_id") or data.get("id")))
    return ins, ([] if is_dry_result(result) else outs)  # a dry run produced nothing


class Observed:
    """Mixin for the step operators: OpenLineage's operator-level lineage methods (called by the
    OpenLineage provider's listener when it is installed and configured)."""

    #: the step type (``file_generation``...): the metrics' names and the lineage rules
    hisham_step: str = ""

    def _openlineage(self, result: Any) -> Any:
        from airflow.providers.common.compat.openlineage.facet import InputDataset, OutputDataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        ins, outs = _datasets(self, result)
        return OperatorLineage(inputs=[InputDataset(namespace=n, name=m) for n, m in dict.fromkeys(ins)],
                               outputs=[OutputDataset(namespace=n, name=m) for n, m in dict.fromkeys(outs)])

    def get_openlineage_facets_on_start(self) -> Any:
        return self._openlineage(None)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return self._openlineage(getattr(self, "_hisham_result", None))
