"""Metric names, their tags, and the endpoint template API calls are counted by.

Every name is in :data:`METRICS` (README's table is generated from it and a test compares the
two), so a dashboard can rely on them. Names and tag values keep to the characters Airflow's Stats
accepts (``A-Za-z0-9_.-/``): under ``statsd_influxdb_enabled`` tags become part of the stat name,
and a name with any other character is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "hisham"
STEP_TYPES = ("api_call", "file_generation", "repo_creation", "pull_request", "agent", "approval", "combine", "retention")
#: A path segment that is an object id: a UUID, a number, or a long hex/marker string.
_ID = re.compile(r"^(?:[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}|\d+|"
                 r"[0-9a-fA-F]{16,}|af1-[0-9a-f]+)$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_./-]")
MAX_TAG_LENGTH = 120


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # counter, timer, gauge (delta)
    tags: tuple[str, ...]
    meaning: str


def step_metric(step: str, what: str) -> str:
    return f"{PREFIX}.{step}.{what}"


METRICS: tuple[Metric, ...] = (
    Metric(f"{PREFIX}.<step>.duration", "timer", ("dag_id", "task_id"),
           "ms one try of a step took (every step type: " + ", ".join(STEP_TYPES) + ")"),
    Metric(f"{PREFIX}.<step>.successes", "counter", ("dag_id", "task_id"), "tries that succeeded"),
    Metric(f"{PREFIX}.<step>.failures", "counter", ("dag_id", "task_id", "error"),
           "tries that failed (error: the exception class)"),
    Metric(f"{PREFIX}.api.calls", "counter", ("method", "endpoint", "status"),
           "HishamOS HTTP requests (each attempt; status `error` when no response came)"),
    Metric(f"{PREFIX}.api.duration", "timer", ("method", "endpoint", "status"), "ms per HishamOS request"),
    Metric(f"{PREFIX}.api.retries", "counter", ("method", "endpoint", "reason"),
           "HishamOS requests sent again after a retryable failure"),
    Metric(f"{PREFIX}.api.reauthentications", "counter", ("mode",), "401 answers followed by a new token"),
    Metric(f"{PREFIX}.file_generation.files", "counter", ("template",), "files generated"),
    Metric(f"{PREFIX}.file_generation.bytes", "counter", ("template",), "bytes generated"),
    Metric(f"{PREFIX}.repo_creation.bytes_pushed", "counter", ("dag_id", "task_id"),
           "bytes of the git objects of the pushed commit (uncompressed; none sent when the remote already had it)"),
    Metric(f"{PREFIX}.repo_creation.archive_bytes", "counter", ("dag_id", "task_id"), "bytes of archives written"),
    Metric(f"{PREFIX}.agent.cost", "gauge (delta)", ("agent",), "agent cost reported by HishamOS"),
    Metric(f"{PREFIX}.agent.tokens", "counter", ("agent",), "agent tokens reported by HishamOS"),
)


def endpoint_template(path: str) -> str:
    """``/api/v1/projects/<uuid>/stories/?page=2`` -> ``/api/v1/projects/{id}/stories/``: the
    query goes, ids become ``{id}``, so metrics and audit group calls without one series per object."""
    path = str(path).split("?", 1)[0].split("#", 1)[0]
    return "/".join("{id}" if _ID.match(part) else part for part in path.split("/"))


def tag_value(value: object) -> str:
    """A value Stats accepts as a tag under every backend: ``{id}`` written ``_id_``, any other
    character outside ``A-Za-z0-9_./-`` as ``_``, at most ``MAX_TAG_LENGTH`` characters."""
    text = str(value).replace("{id}", "_id_")
    return _UNSAFE.sub("_", text)[:MAX_TAG_LENGTH] or "_"


def tags(**values: object) -> dict[str, str]:
    return {k: tag_value(v) for k, v in values.items() if v is not None}


def markdown_table() -> str:
    """README's metrics table."""
    rows = ["| metric | type | tags | meaning |", "| --- | --- | --- | --- |"]
    rows += [f"| `{m.name}` | {m.kind} | {', '.join(m.tags)} | {m.meaning} |" for m in METRICS]
    return "\n".join(rows)
