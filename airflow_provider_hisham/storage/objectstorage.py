"""The thin Airflow part of storage: configuration, ``ObjectStoragePath``, the task's facts.

``[hisham] storage_url`` (e.g. ``s3://bucket/hisham``; empty or the local root's ``file://`` URL:
the local root, nothing copied) and ``[hisham] storage_conn_id`` (the connection whose
credentials ``ObjectStoragePath`` uses: an ``aws`` connection for ``s3://``, its extra may carry
``endpoint_url``). Operators call the functions below so that they stay a line or two each.
"""

from __future__ import annotations

import os
from typing import Any

from airflow_provider_hisham.generation.limits import Limits
from airflow_provider_hisham import config
from airflow_provider_hisham.storage.retention import RetentionPolicy
from airflow_provider_hisham.storage.store import Store

ACTIVE_RUN_STATES = ["queued", "running"]


def store_from_config(storage_url: str | None = None, conn_id: str | None = None,
                      local_root: str | None = None) -> Store:
    """The configured storage location (operator arguments win over ``[hisham]``)."""
    url = (storage_url if storage_url is not None else config.get("storage_url")).strip()
    root = os.path.realpath(local_root or config.generated_projects_root())
    if not url or url.rstrip("/") in (f"file://{root}", root):
        return Store.local(root)
    from airflow.sdk import ObjectStoragePath

    path = ObjectStoragePath(url, conn_id=(conn_id or config.get("storage_conn_id") or None))
    return Store.remote(path.fs, path.path, url.rstrip("/"))


def policy_from_config(days: float | None = None, keep_last: int | None = None) -> RetentionPolicy:
    """``[hisham] retention_days`` / ``retention_keep_last`` unless given (0 or empty: that rule off)."""
    def number(name: str, given: Any, kind: type) -> Any:
        try:
            if given is None:
                return (config.get_float(name) if kind is float else config.get_int(name)) or None
            return kind(given) or None
        except (TypeError, ValueError, config.HishamConfigError):
            from airflow_provider_hisham.storage.errors import StorageConfigError

            raise StorageConfigError(f"[hisham] {name} must be a number, got {given!r}" if given is not None
                                     else f"[hisham] {name} must be a number") from None

    return RetentionPolicy(days=number("retention_days", days, float),
                           keep_last=number("retention_keep_last", keep_last, int))


def run_lease(context: Any) -> tuple[str, str]:
    ti = context["ti"]
    return ti.dag_id, ti.run_id


def publish_generated(summary: dict[str, Any], context: Any, *, hishamos_project_id: str | None = None) -> dict[str, Any]:
    """After the local atomic commit: publish the project; the reference for XCom."""
    store = store_from_config(local_root=os.path.dirname(summary["output_dir"]))
    with open(summary["manifest_path"], "rb") as fh:
        manifest = fh.read()
    ti = context["ti"]
    ref = store.publish(summary["output_dir"], manifest, lease=run_lease(context), facts={
        "generated_project_id": summary.get("generated_project_id"), "hishamos_project_id": hishamos_project_id,
        "made_by": {"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id}})
    return {"storage_url": ref.url, "manifest_sha256": ref.manifest_sha256}


def fetch_for_task(storage_url: str | None, manifest_sha256: str | None, context: Any,
                   limits: Limits | None = None) -> str | None:
    """The local folder of a handed-over project (fetched and verified when it is elsewhere); None
    when no reference was handed over (``source_dir`` is used as it is)."""
    if not storage_url or str(storage_url) == "None":
        return None
    store = store_from_config()
    ref = store.parse_ref(str(storage_url), str(manifest_sha256 or ""), limits=limits)
    result = store.fetch(ref, config.generated_projects_root(), limits=limits, lease=run_lease(context))
    return result.output_dir


def publish_archive(path: str, archive_root: str, facts: dict[str, Any]) -> str | None:
    """Copy a written archive to storage (``archives/<its path under archive_root>``); its URL or None."""
    store = store_from_config()
    if store.is_local:
        return None
    relative = os.path.relpath(os.path.realpath(path), os.path.realpath(archive_root)).replace(os.sep, "/")
    return store.put_archive(path, relative, facts)


def is_running_via(ti: Any):
    """``(dag_id, run_id) -> bool | None`` through the Task SDK's public ``get_dr_count`` (the task
    asks the API server; no database access from the worker)."""
    def is_running(dag_id: str, run_id: str) -> bool | None:
        try:
            return ti.get_dr_count(dag_id=dag_id, run_ids=[run_id], states=ACTIVE_RUN_STATES) > 0
        except Exception:  # noqa: BLE001 - unknown: the version is kept
            return None

    return is_running
