"""``HishamOSRetentionOperator``: remove expired generated projects and archives (issue 14).

Thin: the rules and the removal order are in :mod:`airflow_provider_hisham.storage.retention`.
"In use" is asked of Airflow: every task that publishes or fetches a project writes a lease naming
its DAG run, and this task asks, through the Task SDK's public ``ti.get_dr_count(...,
states=["queued", "running"])``, whether that run is still going; a run that cannot be asked
about keeps its version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_hisham.operators.observed import Observed, observed

if TYPE_CHECKING:
    from airflow.sdk import Context


class RetentionError(RuntimeError):
    """Some expired versions could not be retired (their HishamOS record could not be updated); they
    were kept, and a retry (or the next run) retires them."""


class HishamOSRetentionOperator(Observed, BaseOperator):
    """Apply the retention policy to the storage location, this worker's local root and archives.

    :param retention_days: keep versions published within this many days (default ``[hisham]
        retention_days``; 0: rule off).
    :param keep_last: keep the newest N versions of each project (default ``[hisham]
        retention_keep_last``; 0: rule off). At least one rule must be on.
    :param storage_url, storage_conn_id: default ``[hisham] storage_url`` / ``storage_conn_id``.
    :param local_roots: local caches to clean of removed versions (default: ``[hisham]
        generated_projects_root``).
    :param archive_dirs: local folders whose old ``.zip``/``.tar.gz`` archives expire by
        ``retention_days`` (default: the generated-projects root, repo_creation's default).
    :param hishamos_conn_id: mark removed versions' GeneratedProject records ``archived`` (default
        ``[hisham] retention_hishamos_conn_id``; empty: records are left as they are).
    :param dry_run: report what would be removed, remove nothing (also on in a run whose
        ``params.dry_run`` is true, see :mod:`airflow_provider_hisham.dry_run`).
    """

    hisham_step = "retention"
    ui_color = "#efe4d2"

    def __init__(self, *, retention_days: float | None = None, keep_last: int | None = None,
                 storage_url: str | None = None, storage_conn_id: str | None = None,
                 local_roots: Sequence[str] | None = None, archive_dirs: Sequence[str] | None = None,
                 hishamos_conn_id: str | None = None, hishamos_user_id: str | None = None,
                 dry_run: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retention_days, self.keep_last = retention_days, keep_last
        self.storage_url, self.storage_conn_id = storage_url, storage_conn_id
        self.local_roots, self.archive_dirs = local_roots, archive_dirs
        self.hishamos_conn_id, self.hishamos_user_id = hishamos_conn_id, hishamos_user_id
        self.dry_run = dry_run

    @observed
    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_hisham import config
        from airflow_provider_hisham.dry_run import is_dry_run
        from airflow_provider_hisham.storage.objectstorage import is_running_via, policy_from_config, store_from_config
        from airflow_provider_hisham.storage.retention import apply_retention, archive_generated_project

        store = store_from_config(self.storage_url, self.storage_conn_id)
        policy = policy_from_config(self.retention_days, self.keep_last)
        root = config.generated_projects_root()
        conn_id = self.hishamos_conn_id or config.get("retention_hishamos_conn_id") or None
        archive_record = None
        dry_run = is_dry_run(context, self.dry_run)
        if conn_id and not dry_run:
            from airflow_provider_hisham.hooks.hishamos import HishamOSHook

            hook = HishamOSHook(hishamos_conn_id=conn_id, user_id=self.hishamos_user_id)
            archive_record = lambda facts: archive_generated_project(hook, facts)  # noqa: E731
        self.log.info("Retention on %r: %s", store, policy)
        report = apply_retention(
            store, policy, is_running=is_running_via(context["ti"]),
            local_roots=[] if store.is_local else list(self.local_roots or [root]),
            archive_dirs=list(self.archive_dirs if self.archive_dirs is not None else [root]),
            archive_record=archive_record, dry_run=dry_run, logger=self.log)
        for line in report.records:
            self.log.info("%s", line)
        self.log.info("Removed %d version(s), %d archive(s); kept %d fresh, %d in use",
                      len(report.removed), len(report.archives_removed), report.kept_fresh, len(report.kept_in_use))
        if report.errors:
            raise RetentionError("; ".join(report.errors)[:4000])
        return {**report.as_dict(), "dry_run": True} if dry_run else report.as_dict()
