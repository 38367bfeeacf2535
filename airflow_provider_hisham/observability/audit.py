"""Audit records: who did what to which target, with what result and how long, as one JSON line.

Records go to the stdlib logger ``airflow_provider_hisham.audit`` at INFO, one JSON object per
line, so a deployment routes them (a handler, a file, a log shipper) apart from task logs. Every
value passes three filters before it is written: the scrubbers of the live clients (every form
of each credential they loaded, see :func:`watch`), credential-named keys and JWT-shaped strings
(``api.results.redact_credentials``), and a length cap.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from airflow_provider_hisham.api.results import redact_credentials
from airflow_provider_hisham.secrets import SecretScrubber, scrub_all

LOGGER_NAME = "airflow_provider_hisham.audit"
SCHEMA_VERSION = 1
MAX_TEXT = 2000
logger = logging.getLogger(LOGGER_NAME)

#: The scrubbers of the live clients (each HishamOS hook's: every form of each credential it loaded
#: or obtained). Weak: a client's secrets are forgotten with it, so a long-lived process (a
#: ``dag.test()`` session, a worker) does not pile up patterns.
_SCRUBBERS: weakref.WeakSet[SecretScrubber] = weakref.WeakSet()


_kept: list[list[SecretScrubber]] = []


def watch(scrubber: SecretScrubber) -> None:
    """Never write a secret ``scrubber`` knows (now or later) into an audit record."""
    _SCRUBBERS.add(scrubber)
    for kept in _kept:
        kept.append(scrubber)


@contextmanager
def keeping_clients() -> Iterator[None]:
    """Keep the scrubbers of clients made in the block until it ends: a step's last records (its
    outputs, its outcome) are written after its hooks are gone."""
    kept: list[SecretScrubber] = []
    _kept.append(kept)
    try:
        yield
    finally:
        _kept.remove(kept)


@dataclass(frozen=True)
class Who:
    """The actor: the HishamOS user acted as, and the task instance that acted."""

    user: str | None = None
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None

    def with_user(self, user: str | None) -> Who:
        return self if not user or user == self.user else Who(user, self.dag_id, self.run_id, self.task_id,
                                                               self.map_index, self.try_number)


def _clip(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "...(cut)"
    if isinstance(value, Mapping):
        return {str(k): _clip(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clip(v) for v in value[:100]]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _clip(str(value))


def clean(value: Any, scrubber: SecretScrubber | None = None) -> Any:
    """``value`` as it may be written: JSON-able, secrets of the watched scrubbers (and ``scrubber``)
    replaced, credential keys and JWTs redacted, long texts cut."""
    return scrub_all(redact_credentials(_clip(value)), (*list(_SCRUBBERS), *((scrubber,) if scrubber else ())))


def record(event: str, who: Who, what: str, target: Any, result: str, duration_ms: float | None = None,
           scrubber: SecretScrubber | None = None, **details: Any) -> dict[str, Any]:
    """One audit record (a dict, ready for :func:`line`)."""
    out = {
        "audit": SCHEMA_VERSION,
        "ts": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
        "event": event,
        "who": dict(vars(who)),  # dataclasses.asdict deep-copies: a record is written per API call
        "what": what,
        "target": target,
        "result": result,
        "duration_ms": None if duration_ms is None else round(float(duration_ms), 3),
    }
    if details:
        out["details"] = details
    return clean(out, scrubber)


def line(rec: Mapping[str, Any]) -> str:
    return json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def write(rec: Mapping[str, Any]) -> None:
    """Log ``rec`` as one JSON line on :data:`LOGGER_NAME` (a no-op unless INFO is enabled)."""
    if logger.isEnabledFor(logging.INFO):
        logger.info("%s", line(rec))


def step_records(step: str, who: Who, result: Any, duration_ms: float) -> list[tuple[str, str, Any, dict]]:
    """``(event, what, target, details)`` of the outputs a finished step made, read from its result:
    a file batch, an archive, a request opened, a HishamOS record registered."""
    out: list[tuple[str, str, Any, dict]] = []
    if not isinstance(result, Mapping):
        return out
    if step in ("file_generation", "combine") and "total_files" in result:
        out.append(("file_batch", f"{step} wrote files", result.get("output_dir"),
                    {"files": result.get("total_files"), "bytes": result.get("total_bytes"),
                     "sha256": result.get("sha256"), "project_id": result.get("project_id")}))
    if step == "file_generation" and result.get("generated_project_id"):
        out.append(("record_registered", "GeneratedProject", result["generated_project_id"],
                    {"output_dir": result.get("output_dir")}))
    if step == "repo_creation":
        if result.get("archive_path"):  # a push is recorded by the push itself (export.git's event)
            out.append(("archive", "archive written", result["archive_path"], {}))
        for key in ("pull_request_url", "merge_request_url", "request_url"):
            if result.get(key):
                out.append(("request_opened", key.removesuffix("_url").replace("_", " "), result[key], {}))
        if result.get("repository_export_id"):
            out.append(("record_registered", "RepositoryExport", result["repository_export_id"],
                        {"url": result.get("url"), "archive_path": result.get("archive_path")}))
    if step == "pull_request" and result.get("request_url") and result.get("status") in ("opened", "updated"):
        out.append(("request_opened", f"pull/merge request {result['status']}", result["request_url"],
                    {"branch": result.get("head_branch"), "commit": result.get("commit_sha")}))
    return out
