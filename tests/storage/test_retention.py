"""storage.retention against moto (S3) and the HishamOS stand-in's records."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_hisham.storage.errors import StorageConfigError
from airflow_provider_hisham.storage.retention import RetentionPolicy, apply_retention, archive_generated_project
from airflow_provider_hisham.storage.store import Store, local_manifest_digest
from tests.storage.test_store import _generate

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


@pytest.fixture
def remote(s3_server):
    bucket = s3_server.bucket()
    return Store.remote(s3_server.fs(), bucket, f"s3://{bucket}")


def _record(hook, project: str, status: str) -> str:
    record = hook.create_generated_project(project, "/generated/x", status="generating")
    if status != "generating":
        record = hook.update_generated_project(str(record["id"]), status=status)
    return str(record["id"])


def test_policy_rules():
    with pytest.raises(StorageConfigError, match="needs retention_days and/or retention_keep_last"):
        RetentionPolicy()
    with pytest.raises(StorageConfigError):
        RetentionPolicy(days=-1)
    items = [("a", NOW - timedelta(days=d)) for d in (1, 10, 20)] + [("b", NOW - timedelta(days=30)), ("c", None)]
    assert RetentionPolicy(days=7).expired(items, NOW) == {1, 2, 3}
    assert RetentionPolicy(keep_last=1).expired(items, NOW) == {1, 2}
    assert RetentionPolicy(days=15, keep_last=1).expired(items, NOW) == {2}  # kept while ANY rule keeps it


def test_expired_removed_fresh_and_in_use_kept_records_archived(remote, tmp_path, hishamos, hishamos_conn):
    from airflow_provider_hisham.hooks.hishamos import HishamOSHook

    hook = HishamOSHook(hishamos_conn_id=hishamos_conn("password", conn_id="hishamos_retention"))
    project = hishamos.state.demo_project_id
    completed, failed, busy_record, fresh_record = (_record(hook, project, s)
                                                    for s in ("completed", "failed", "completed", "completed"))
    gen, cache = tmp_path / "gen", tmp_path / "cache"
    refs = {}
    for name, pid, days, record, salt in (("old", "app", 30, completed, "1"), ("older-failed", "app", 40, failed, "2"),
                                          ("new", "app", 0.5, fresh_record, "3"), ("busy", "lib", 50, busy_record, "4")):
        out, manifest = _generate(gen, pid, salt=salt)
        refs[name] = remote.publish(out, manifest, facts={
            "published_at": _ago(days), "generated_project_id": record, "hishamos_project_id": project})
    remote.write_lease("lib", refs["busy"].manifest_sha256, "some_dag", "still-running")
    remote.write_lease("app", refs["old"].manifest_sha256, "some_dag", "finished-long-ago")
    remote.fetch(refs["old"], str(cache))  # this worker's cache holds an expiring version

    asked = []

    def is_running(dag_id: str, run_id: str) -> bool:
        asked.append(run_id)
        return run_id == "still-running"

    report = apply_retention(remote, RetentionPolicy(days=7), is_running=is_running, local_roots=[str(cache)],
                             archive_record=lambda facts: archive_generated_project(hook, facts), now=NOW)
    assert sorted(asked) == ["finished-long-ago", "still-running"]
    assert sorted(report.removed) == sorted([f"app@{refs[n].manifest_sha256[:12]}" for n in ("old", "older-failed")])
    assert report.kept_in_use == [f"lib@{refs['busy'].manifest_sha256[:12]}"] and report.kept_fresh == 1
    assert {(v.project_id, v.manifest_sha256) for v in remote.versions()} == {
        ("app", refs["new"].manifest_sha256), ("lib", refs["busy"].manifest_sha256)}
    assert remote.leases("app", refs["old"].manifest_sha256) == []
    assert len(remote.leases("lib", refs["busy"].manifest_sha256)) == 1
    assert not (cache / "app").exists() and local_manifest_digest(str(cache), "app") is None
    status = {k: v["status"] for k, v in hishamos.state.generated_projects.items()}
    assert status[completed] == "archived" and status[failed] == "failed"  # failed -> archived is not allowed
    assert status[busy_record] == status[fresh_record] == "completed"
    assert any("left 'failed'" in line for line in report.records)
    # a second run changes nothing (retry-safe)
    again = apply_retention(remote, RetentionPolicy(days=7), is_running=is_running, now=NOW,
                            archive_record=lambda facts: archive_generated_project(hook, facts))
    assert again.removed == [] and again.errors == []


def test_hishamos_down_keeps_the_version_for_a_retry(remote, tmp_path, hishamos, hishamos_conn):
    from airflow_provider_hisham.hooks.hishamos import HishamOSHook

    hook = HishamOSHook(hishamos_conn_id=hishamos_conn("password", conn_id="hishamos_retention_down"))
    project = hishamos.state.demo_project_id
    record = _record(hook, project, "completed")
    out, manifest = _generate(tmp_path / "gen")
    remote.publish(out, manifest, facts={"published_at": _ago(30), "generated_project_id": record,
                                         "hishamos_project_id": project})
    failing = lambda facts: (_ for _ in ()).throw(ConnectionError("HishamOS is down"))  # noqa: E731
    report = apply_retention(remote, RetentionPolicy(days=7), is_running=lambda d, r: False, now=NOW,
                             archive_record=failing)
    assert report.removed == [] and "kept for a retry" in report.errors[0] and len(remote.versions()) == 1
    report = apply_retention(remote, RetentionPolicy(days=7), is_running=lambda d, r: False, now=NOW,
                             archive_record=lambda facts: archive_generated_project(hook, facts))
    assert len(report.removed) == 1 and remote.versions() == []
    assert hishamos.state.generated_projects[record]["status"] == "archived"


def test_unknown_run_state_and_unreadable_lease_keep_the_version(remote, tmp_path):
    out, manifest = _generate(tmp_path / "gen")
    ref = remote.publish(out, manifest, facts={"published_at": _ago(30)}, lease=("dag", "run-1"))
    report = apply_retention(remote, RetentionPolicy(days=1), is_running=lambda d, r: None, now=NOW)
    assert report.removed == [] and len(report.kept_in_use) == 1
    remote.fs.pipe_file(f"{remote.base}/leases/demo/{ref.manifest_sha256}/garbage.json", b"{not json")
    report = apply_retention(remote, RetentionPolicy(days=1), is_running=lambda d, r: False, now=NOW)
    assert report.removed == [] and len(report.kept_in_use) == 1


def test_archives_on_storage_expire_by_age_and_count(remote, tmp_path):
    folder = tmp_path / "arch"
    folder.mkdir()
    for i, days in enumerate((40, 20, 1)):
        path = folder / f"bundle-{i}.zip"
        path.write_bytes(b"PK" + bytes([i]))
        remote.put_archive(str(path), f"team/bundle-{i}.zip", {"project_id": "bundle", "created_at": _ago(days)})
    report = apply_retention(remote, RetentionPolicy(days=10, keep_last=1), is_running=lambda d, r: False, now=NOW)
    assert sorted(u.rsplit("/", 1)[1] for u in report.archives_removed) == ["bundle-0.zip", "bundle-1.zip"]
    assert [a.url.rsplit("/", 1)[1] for a in remote.archives()] == ["bundle-2.zip"]
    assert remote.fs.cat_file(f"{remote.base}/archives/team/bundle-2.zip") == b"PK\x02"


def test_local_root_retention(tmp_path):
    root = tmp_path / "root"
    store = Store.local(str(root))
    old_out, old_manifest = _generate(root, "old-project")
    store.publish(old_out, old_manifest, facts={"published_at": _ago(30)})
    fresh_out, fresh_manifest = _generate(root, "fresh-project")
    store.publish(fresh_out, fresh_manifest, lease=("dag", "r"))
    busy_out, busy_manifest = _generate(root, "busy-project")
    store.publish(busy_out, busy_manifest, facts={"published_at": _ago(30)}, lease=("dag", "busy-run"))
    legacy_out, _ = _generate(root, "legacy-project")  # generated before storage: its manifest's age counts
    legacy_manifest = root / ".hisham" / "legacy-project" / "manifest.json"
    os.utime(legacy_manifest, (time.time() - 40 * 86400,) * 2)
    archive = root / "old-project.zip"
    archive.write_bytes(b"PK")
    os.utime(archive, (time.time() - 40 * 86400,) * 2)
    (root / "fresh.zip").write_bytes(b"PK")
    report = apply_retention(store, RetentionPolicy(days=7), is_running=lambda d, r: r == "busy-run",
                             archive_dirs=[str(root)], now=datetime.now(timezone.utc))
    assert sorted(r.split("@")[0] for r in report.removed) == ["legacy-project", "old-project"]
    assert sorted(p.name for p in root.iterdir()) == [".hisham", "busy-project", "fresh-project", "fresh.zip"]
    assert sorted(os.listdir(root / ".hisham")) == ["busy-project", "fresh-project"]
    assert report.archives_removed == [str(archive)]
    assert Path(fresh_out, "README.md").exists()
