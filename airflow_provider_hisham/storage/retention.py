"""Retention: which published versions and archives to remove, and removing them safely.

A version is kept while any configured rule keeps it: published within ``days``, or among the
newest ``keep_last`` of its project. An expired version is still kept while it is in use: a lease
(written by every task that publishes or fetches it, one per DAG run) names a DAG run that
``is_running`` says is queued or running, or that cannot be asked about, or cannot be read. Leases of
finished runs are dropped with the version. Removal order makes a retry safe: the HishamOS record
is marked ``archived`` first (only ``completed -> archived`` is allowed by HishamOS; a record in any
other status is left as it is and reported), then ``published.json`` goes (readers stop seeing the
version), then its objects, then the local cache copies with the same manifest digest.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_hisham.records import transition_path
from airflow_provider_hisham.storage.errors import StorageConfigError
from airflow_provider_hisham.storage.store import Store, Version, remove_local_project

log = logging.getLogger(__name__)

IsRunning = Callable[[str, str], "bool | None"]  # (dag_id, run_id) -> running? None: unknown
ArchiveRecord = Callable[[dict[str, Any]], str]  # a version's published facts -> what was done
ARCHIVE_SUFFIXES = (".zip", ".tar.gz")


@dataclass(frozen=True)
class RetentionPolicy:
    """``days`` and/or ``keep_last`` (None or 0: that rule is off; at least one must be on)."""

    days: float | None = None
    keep_last: int | None = None

    def __post_init__(self) -> None:
        if self.days is not None and (not isinstance(self.days, (int, float)) or self.days < 0):
            raise StorageConfigError(f"retention days must be a number >= 0, got {self.days!r}")
        if self.keep_last is not None and (not isinstance(self.keep_last, int) or self.keep_last < 0):
            raise StorageConfigError(f"retention keep_last must be an integer >= 0, got {self.keep_last!r}")
        if not self.days and not self.keep_last:
            raise StorageConfigError("a retention policy needs retention_days and/or retention_keep_last (> 0)")

    def expired(self, items: Iterable[tuple[str, datetime | None]], now: datetime) -> set[int]:
        """Indexes of ``(group, time)`` items no rule keeps (an unknown time is never expired by age)."""
        items = list(items)
        groups: dict[str, list[int]] = {}
        for i, (group, _) in enumerate(items):
            groups.setdefault(group, []).append(i)
        oldest = datetime.min.replace(tzinfo=timezone.utc)
        out = set()
        for members in groups.values():
            members.sort(key=lambda i: items[i][1] or oldest, reverse=True)
            for rank, i in enumerate(members):
                when = items[i][1]
                kept_by_age = bool(self.days) and (when is None or now - when <= timedelta(days=self.days))
                kept_by_rank = bool(self.keep_last) and rank < (self.keep_last or 0)
                if not kept_by_age and not kept_by_rank:
                    out.add(i)
        return out


@dataclass
class RetentionReport:
    removed: list[str] = field(default_factory=list)
    kept_in_use: list[str] = field(default_factory=list)
    kept_fresh: int = 0
    archives_removed: list[str] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"removed": self.removed, "kept_in_use": self.kept_in_use, "kept_fresh": self.kept_fresh,
                "archives_removed": self.archives_removed, "records": self.records, "errors": self.errors}


def _name(v: Version) -> str:
    return f"{v.project_id}@{v.manifest_sha256[:12]}"


def in_use(store: Store, version: Version, is_running: IsRunning) -> tuple[bool, list[Any]]:
    """Whether a running DAG run holds the version; the leases of finished runs."""
    busy, stale = False, []
    for lease in store.leases(version.project_id, version.manifest_sha256):
        if lease is None:
            busy = True  # unreadable: never remove what might be in use
            continue
        running = is_running(lease.dag_id, lease.run_id)
        if running is None or running:
            busy = True
        else:
            stale.append(lease)
    return busy, stale


def apply_retention(store: Store, policy: RetentionPolicy, *, is_running: IsRunning,
                    local_roots: Iterable[str] = (), archive_dirs: Iterable[str] = (),
                    archive_record: ArchiveRecord | None = None, now: datetime | None = None,
                    dry_run: bool = False, logger: logging.Logger = log) -> RetentionReport:
    """Remove what ``policy`` expires from ``store``, the local caches and ``archive_dirs``."""
    now = now or datetime.now(timezone.utc)
    report = RetentionReport()
    versions = store.versions()
    expired = policy.expired([(v.project_id, v.published_at) for v in versions], now)
    report.kept_fresh = len(versions) - len(expired)
    for i in sorted(expired):
        version = versions[i]
        busy, stale = in_use(store, version, is_running)
        if busy:
            report.kept_in_use.append(_name(version))
            logger.info("keeping %s: a running DAG run uses it", _name(version))
            continue
        if dry_run:
            report.removed.append(_name(version))
            continue
        if archive_record is not None and version.pointer.get("generated_project_id"):
            try:
                report.records.append(archive_record(version.pointer))
            except Exception as exc:  # noqa: BLE001 - reported; the version stays for the next run
                report.errors.append(f"{_name(version)}: GeneratedProject {version.pointer['generated_project_id']} "
                                     f"not marked archived ({type(exc).__name__}: {str(exc)[:300]}); kept for a retry")
                continue
        store.remove_version(version)
        for lease in stale:
            store.remove_lease(lease)
        for root in local_roots:
            remove_local_project(os.path.realpath(root), version.project_id, version.manifest_sha256)
        report.removed.append(_name(version))
        logger.info("removed %s (published %s)", _name(version), version.published_at)
    archives = store.archives()
    gone = policy.expired([(str(a.facts.get("project_id") or a.key), a.created_at) for a in archives], now)
    for i in sorted(gone):
        if not dry_run:
            store.remove_archive(archives[i])
        report.archives_removed.append(archives[i].url)
    if policy.days:
        for folder in archive_dirs:
            report.archives_removed.extend(_expire_local_archives(folder, now, policy.days, dry_run))
    return report


def _expire_local_archives(folder: str, now: datetime, days: float, dry_run: bool) -> list[str]:
    """Archives written into a local folder (repo_creation's ``archive_root``) older than ``days``."""
    removed = []
    if not os.path.isdir(folder):
        return removed
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.name.endswith(ARCHIVE_SUFFIXES):
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - datetime.fromtimestamp(entry.stat(follow_symlinks=False).st_mtime, timezone.utc)
            if age > timedelta(days=days):
                if not dry_run:
                    os.unlink(entry.path)
                removed.append(entry.path)
    return removed


def archive_generated_project(hook: Any, facts: dict[str, Any]) -> str:
    """Mark a version's GeneratedProject ``archived`` when HishamOS allows it (``completed`` only)."""
    record_id = str(facts["generated_project_id"])
    project = facts.get("hishamos_project_id")
    record = next((r for r in hook.list_generated_projects(str(project) if project else None)
                   if str(r.get("id")) == record_id), None)
    if record is None:
        return f"GeneratedProject {record_id}: not found (already removed in HishamOS)"
    status = str(record.get("status"))
    if status == "archived":
        return f"GeneratedProject {record_id}: already archived"
    if transition_path(status, "archived") != ["archived"]:
        return f"GeneratedProject {record_id}: left {status!r} (HishamOS allows archived only from completed)"
    hook.update_generated_project(record_id, status="archived")
    return f"GeneratedProject {record_id}: archived"
