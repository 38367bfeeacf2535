"""HishamOSRetentionOperator in dag.test(): "in use" asked of Airflow through the Task SDK, records
archived in the HishamOS stand-in, the shipped maintenance DAG parses."""

from __future__ import annotations

import json


from tests.conftest import REPO_ROOT, run_dag, xcom
from tests.storage.fixtures import s3_config, s3_server  # noqa: F401

RETENTION_DAG = """
from datetime import datetime
from airflow.sdk import DAG, task
from airflow_provider_hisham.operators.retention import HishamOSRetentionOperator
from airflow_provider_hisham.storage.objectstorage import store_from_config

with DAG("hisham_retention_test", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    @task
    def claim(ti=None):
        # this run uses the version BUSY: a lease naming the running run itself
        store_from_config().write_lease("busy", "BUSY", ti.dag_id, ti.run_id)

    claim() >> HishamOSRetentionOperator(task_id="retention", retention_days=7, hishamos_conn_id="CONN_ID",
                                       local_roots=[CACHE])
"""




def test_retention_operator_keeps_what_a_running_run_uses(s3_config, tmp_path, hishamos, hishamos_conn):
    from airflow_provider_hisham.hooks.hishamos import HishamOSHook
    from airflow_provider_hisham.storage.objectstorage import store_from_config
    from tests.storage.test_retention import _ago, _record
    from tests.storage.test_store import _generate

    conn_id = hishamos_conn("password", conn_id="hishamos_retention_op")
    hook = HishamOSHook(hishamos_conn_id=conn_id)
    project = hishamos.state.demo_project_id
    store = store_from_config()
    refs, records = {}, {}
    for pid in ("old", "busy", "fresh"):
        records[pid] = _record(hook, project, "completed")
        out, manifest = _generate(tmp_path / "gen", pid)
        refs[pid] = store.publish(out, manifest, facts={
            "published_at": _ago(0 if pid == "fresh" else 30), "generated_project_id": records[pid], "hishamos_project_id": project})
    store.write_lease("old", refs["old"].manifest_sha256, "some_dag", "a-run-that-never-existed")
    cache = tmp_path / "cache"
    store.fetch(refs["old"], str(cache))
    source = (RETENTION_DAG.replace("BUSY", refs["busy"].manifest_sha256).replace("CONN_ID", conn_id)
              .replace("CACHE", repr(str(cache))))
    run = run_dag(source)
    assert run.state == "success"
    report = xcom(run, "retention")
    assert report["removed"] == [f"old@{refs['old'].manifest_sha256[:12]}"]
    assert report["kept_in_use"] == [f"busy@{refs['busy'].manifest_sha256[:12]}"]
    assert {v.project_id for v in store.versions()} == {"busy", "fresh"}
    assert not (cache / "old").exists()
    status = {k: v["status"] for k, v in hishamos.state.generated_projects.items()}
    assert (status[records["old"]], status[records["busy"]], status[records["fresh"]]) == \
        ("archived", "completed", "completed")


def test_retention_without_a_policy_fails_clearly(s3_config, capfd):
    run = run_dag(RETENTION_DAG.replace("retention_days=7, ", "").replace(", hishamos_conn_id=\"CONN_ID\"", "")
                  .replace("CACHE", "'/nonexistent'"))
    assert run.state == "failed"
    assert "needs retention_days and/or retention_keep_last" in capfd.readouterr().out


def test_shipped_retention_dag_parses():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "hisham_retention.py"), bundle_path=REPO_ROOT / "dags",
                 bundle_name="dags-folder")
    assert bag.import_errors == {}
    dag = bag.dags["hisham_retention"]
    assert [t.task_id for t in dag.tasks] == ["apply_retention"] and dag.max_active_runs == 1
    assert json.dumps(dag.tags if isinstance(dag.tags, list) else sorted(dag.tags))
