"""The records HishamOS keeps of what the provider made: one GeneratedProject per generation, one
RepositoryExport per export, whatever the retries, the way the real backend stores them.

What the real backend keeps (``hishamos/README.md``):

* GeneratedProject: ``project``, ``output_directory`` (as given), ``status`` and ``error_message``;
  ``total_files``, ``total_size`` and ``completed_at`` are read-only (the totals stay in the task's
  XCom summary). A status PATCH must follow ``pending -> generating -> completed | failed`` and
  ``completed -> archived``; anything else is a 400.
* RepositoryExport: only ``generated_project``, ``export_type`` (zip, tar, tar.gz, github, gitlab),
  ``repository_name`` and ``config`` (a JSON object) are stored; url, path, size and status are
  read-only, so a record stays ``pending`` with empty url/path, and GET/PATCH by id answer 403 to
  its creator. So an export is created once, complete, with its facts in ``config``.

Retries: each record carries the task instance's marker (the same for all its tries), a
GeneratedProject at the end of ``output_directory`` (``<path>#<marker>``: it has no free-form
field), a RepositoryExport in ``config["airflow_idempotency_key"]``; a try looks it up (by listing,
``?project=`` / ``?generated_project=``) before creating. A generation's record is created
``generating`` before any file is written, ``completed`` after; a failed try that Airflow will
retry only notes its error (``generating`` stays), the last try marks it ``failed``.

Tiers: a feature the organization's tier lacks (a trial organization has no
``projects.import_export``) raises ``HishamOSTierError``. By default it is logged once as a
warning and the task goes on without the record: the files and archive are kept and returned.
``strict=True`` (operator argument ``strict_hishamos_records``, default ``[hisham]
strict_hishamos_records``) fails the task instead, without retrying it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

from airflow_provider_hisham.api.errors import HishamOSConfigError, HishamOSTierError
from airflow_provider_hisham.api.idempotency import marker_of

log = logging.getLogger(__name__)

EXPORT_TYPES = ("zip", "tar", "tar.gz", "github", "gitlab")
TRANSITIONS: dict[str, tuple[str, ...]] = {"pending": ("generating",), "generating": ("completed", "failed"),
                                           "completed": ("archived",)}
MAX_ERROR_MESSAGE = 2000
T = TypeVar("T")


def transition_path(current: str, target: str) -> list[str] | None:
    """The statuses to PATCH, in order, to go from ``current`` to ``target`` ([] when already
    there, None when HishamOS allows no way)."""
    paths: dict[str, list[str]] = {current: []}
    queue = [current]
    while queue:
        status = queue.pop(0)
        if status == target:
            return paths[status]
        for nxt in TRANSITIONS.get(status, ()):
            if nxt not in paths:
                paths[nxt] = [*paths[status], nxt]
                queue.append(nxt)
    return None


def strict_records(value: bool | None) -> bool:
    """``value``, or ``[hisham] strict_hishamos_records`` (default False) when None."""
    if value is not None:
        return bool(value)
    from airflow_provider_hisham.config import strict_hishamos_records

    return strict_hishamos_records()


def tolerate_tier(what: str, strict: bool, action: Callable[[], T], logger: logging.Logger = log) -> T | None:
    """Run ``action``; a tier refusal is re-raised when ``strict``, else logged once and None returned."""
    try:
        return action()
    except HishamOSTierError as exc:
        if strict:
            raise
        logger.warning("HishamOS %s not recorded: %s. The task goes on without it (its results are kept); set "
                       "strict_hishamos_records to fail instead.", what, exc.message)
        return None


def task_facts(ti: Any) -> dict[str, Any]:
    """Which task instance made a record (for the record's ``config``)."""
    return {"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id,
            "map_index": getattr(ti, "map_index", -1), "try_number": getattr(ti, "try_number", None)}


def is_last_try(ti: Any, retries: int) -> bool:
    """Whether Airflow will not retry this try if it fails."""
    max_tries = getattr(ti, "max_tries", None)
    limit = max_tries if isinstance(max_tries, int) else retries
    return (getattr(ti, "try_number", 1) or 1) > limit


class GenerationRecord:
    """The GeneratedProject of one generation, across the tries of its task.

    ``begin()`` before writing (finds this task instance's record or creates it ``generating``),
    then ``succeeded()`` or ``failed(error, last_try=...)``.
    """

    def __init__(self, hook: Any, project_id: str, output_dir: str, marker: str, *, strict: bool,
                 try_number: int | None = None, logger: logging.Logger = log) -> None:
        self.hook, self.project_id, self.output_dir, self.marker = hook, str(project_id), output_dir, marker
        self.strict, self.try_number, self.log = strict, try_number, logger
        self.record: dict[str, Any] | None = None

    @property
    def id(self) -> str | None:
        return str(self.record["id"]) if self.record else None

    def begin(self) -> str | None:
        self.record = tolerate_tier("GeneratedProject", self.strict, self._find_or_create, self.log)
        return self.id

    def _find_or_create(self) -> dict[str, Any]:
        mine = [r for r in self.hook.list_generated_projects(self.project_id)
                if (marker_of(r) or "").split(".")[0] == self.marker]
        usable = [r for r in mine if r.get("status") != "failed"]
        if usable:
            record = usable[-1]
            self.log.info("GeneratedProject %s (status %s) was made by an earlier try of this task", record["id"],
                          record.get("status"))
            return self._move(record, "generating") if record.get("status") == "pending" else record
        # none yet, or only records an earlier run of this task instance marked failed (HishamOS
        # allows no way out of failed): a new one, its marker told apart by the try number
        key = self.marker if not mine else f"{self.marker}.{self.try_number or len(mine) + 1}"
        record = self.hook.create_generated_project(self.project_id, self.output_dir, status="generating",
                                                    idempotency_key=key)
        self.log.info("Registered GeneratedProject %s in HishamOS (generating)", record["id"])
        return record

    def _move(self, record: dict[str, Any], target: str, **fields: Any) -> dict[str, Any]:
        steps = transition_path(str(record.get("status")), target)
        if steps is None:
            raise HishamOSConfigError(f"GeneratedProject {record['id']} is {record.get('status')!r}; HishamOS allows "
                                      f"no transition to {target!r}")
        for n, status in enumerate(steps):
            extra = fields if n == len(steps) - 1 else {}
            record = self.hook.update_generated_project(str(record["id"]), status=status, **extra)
        if not steps and fields:
            record = self.hook.update_generated_project(str(record["id"]), **fields)
        return record

    def succeeded(self) -> None:
        if self.record is None:
            return
        if self.record.get("status") == "completed":
            return
        self.record = self._move(self.record, "completed", error_message="")
        self.log.info("GeneratedProject %s is completed", self.id)

    def failed(self, error: BaseException | str, *, last_try: bool) -> None:
        """Note a failed try: the last one marks the record ``failed`` with the error; an earlier one
        keeps it ``generating`` and notes the error (the retry completes it)."""
        if self.record is None or self.record.get("status") not in ("pending", "generating"):
            return
        text = self.hook.redact(str(error) or type(error).__name__)[:MAX_ERROR_MESSAGE]
        try:
            if last_try:
                self.record = self._move(self.record, "failed", error_message=text)
            else:
                self.record = self.hook.update_generated_project(
                    str(self.record["id"]), error_message=f"try {self.try_number or '?'} failed, retrying: {text}")
        except Exception as exc:  # noqa: BLE001 - the generation's own error is the one to raise
            self.log.warning("could not note the failure on GeneratedProject %s: %s", self.id, exc)


def archive_facts(path: str | None) -> dict[str, Any]:
    """Path, size and sha256 of an archive (empty without one)."""
    if not path:
        return {}
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"archive_path": str(path), "archive_size": os.path.getsize(path), "archive_sha256": digest.hexdigest()}


def register_export(hook: Any, generated_project_id: str, export_type: str, repository_name: str,
                    result: dict[str, Any], *, marker: str, made_by: dict[str, Any], strict: bool,
                    extra: dict[str, Any] | None = None, logger: logging.Logger = log) -> str | None:
    """Create (once per task instance) the RepositoryExport of an export ``result`` (``url``,
    ``commit_sha``, ``default_branch``, ``archive_path``); its id, or None when nothing was recorded."""
    if export_type not in EXPORT_TYPES:
        logger.warning("HishamOS has no export type for target %r (only %s): no RepositoryExport recorded",
                       export_type, ", ".join(EXPORT_TYPES))
        return None
    config = {
        "state": "completed",  # the record's own status field is read-only and stays "pending"
        "url": result.get("url"), "commit_sha": result.get("commit_sha"),
        "default_branch": result.get("default_branch"), **archive_facts(result.get("archive_path")),
        **(extra or {}), "made_by": made_by, "recorded_at": datetime.now(timezone.utc).isoformat(),
    }

    def create() -> dict[str, Any]:
        return hook.create_repository_export(str(generated_project_id), export_type, repository_name=repository_name,
                                             config=config, idempotency_key=marker)

    record = tolerate_tier("RepositoryExport", strict, create, logger)
    if record is None:
        return None
    logger.info("RepositoryExport %s of GeneratedProject %s (%s %s)", record.get("id"), generated_project_id,
                export_type, result.get("url") or result.get("archive_path"))
    return str(record.get("id"))
