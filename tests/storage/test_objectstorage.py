"""The Airflow part of storage: configuration, ObjectStoragePath with an aws connection to moto,
and the hand-off between a generation and an export whose local roots differ (dag.test())."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path


from tests.conftest import REPO_ROOT, run_dag, xcom


def test_storage_core_imports_no_airflow():
    script = ("import json, sys; import airflow_provider_hisham.storage, airflow_provider_hisham.storage.retention; "
              "print(json.dumps(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))))")
    out = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []




def test_default_is_the_local_root(tmp_path, monkeypatch):
    from airflow_provider_hisham.storage.objectstorage import store_from_config

    monkeypatch.delenv("AIRFLOW__HISHAM__STORAGE_URL", raising=False)
    monkeypatch.setenv("AIRFLOW__HISHAM__GENERATED_PROJECTS_ROOT", str(tmp_path))
    assert store_from_config().is_local and store_from_config().local_root == str(tmp_path.resolve())
    assert store_from_config(f"file://{tmp_path}").is_local  # the root's own URL: still nothing copied
    other = store_from_config(f"file://{tmp_path / 'shared'}")
    assert not other.is_local and other.url == f"file://{tmp_path / 'shared'}"


def test_object_storage_path_with_an_aws_connection(s3_config, s3_server, tmp_path):
    from airflow_provider_hisham.generation import generate_project
    from airflow_provider_hisham.storage.objectstorage import store_from_config

    store = store_from_config()
    assert not store.is_local and store.url == f"s3://{s3_config}/hisham" and "secret" not in repr(store)
    result = generate_project(str(tmp_path / "a"), "via-osp", structure={"a.txt": "a\n"})
    ref = store.publish(result.output_dir, Path(result.manifest_path).read_bytes())
    assert s3_server.fs().exists(f"{s3_config}/hisham/projects/via-osp/{ref.manifest_sha256}/published.json")


HANDOFF_DAG = """
from datetime import datetime
from airflow.sdk import DAG
from airflow_provider_hisham.operators.file_generation import HishamOSFileGenerationOperator
from airflow_provider_hisham.operators.repo_creation import HishamOSRepoCreationOperator

with DAG("storage_handoff", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    gen = HishamOSFileGenerationOperator(task_id="generate", project_id="handoff", output_root=WORKER_A,
                                 structure={"src/app.py": "print('hi')\\n", "README.md": "# handoff\\n"})
    export = HishamOSRepoCreationOperator(
        task_id="archive", target="zip", source_dir="{{ ti.xcom_pull(task_ids='generate')['output_dir'] }}",
        source_storage_url="{{ ti.xcom_pull(task_ids='generate')['storage_url'] }}",
        source_manifest_sha256="{{ ti.xcom_pull(task_ids='generate')['manifest_sha256'] }}",
        archive_root=ARCHIVES)
    gen >> export
"""


def _handoff(worker_a: Path, archives: Path):
    return run_dag(HANDOFF_DAG.replace("WORKER_A", repr(str(worker_a))).replace("ARCHIVES", repr(str(archives))))


def test_handoff_between_roots_through_s3(s3_config, s3_server, tmp_path, airflow_home):
    worker_a, archives = tmp_path / "worker-a", tmp_path / "archives"
    run = _handoff(worker_a, archives)
    assert run.state == "success"
    gen, export = xcom(run, "generate"), xcom(run, "archive")
    digest = gen["manifest_sha256"]
    assert gen["storage_url"] == f"s3://{s3_config}/hisham/projects/handoff/{digest}" and digest == gen["sha256"]
    # the export ran on "another worker": the configured root, where the project was fetched
    local = Path(os.environ["AIRFLOW__HISHAM__GENERATED_PROJECTS_ROOT"])
    manifest_bytes = (local / ".hisham" / "handoff" / "manifest.json").read_bytes()
    assert hashlib.sha256(manifest_bytes).hexdigest() == digest
    manifest = json.loads(manifest_bytes)
    with zipfile.ZipFile(export["archive_path"]) as zf:
        names = {n for n in zf.namelist() if not n.endswith("/")}
        assert names == {f["path"] for f in manifest["files"]}
        assert all(hashlib.sha256(zf.read(f["path"])).hexdigest() == f["sha256"] for f in manifest["files"])
    assert export["archive_url"] == f"s3://{s3_config}/hisham/archives/handoff.zip"
    assert xcom(run, "archive", key="_link_RepositoryLink") == export["archive_url"]  # the extra link
    stored = s3_server.fs().cat_file(f"{s3_config}/hisham/archives/handoff.zip")
    assert stored == Path(export["archive_path"]).read_bytes()
    facts = json.loads(s3_server.fs().cat_file(f"{s3_config}/hisham/archives/handoff.zip.json"))
    assert facts["sha256"] == hashlib.sha256(stored).hexdigest() and facts["project_id"] == "handoff"


def test_handoff_refuses_a_reference_outside_the_storage(s3_config, tmp_path, capfd):
    dag = HANDOFF_DAG.replace("['storage_url']", "['storage_url'].replace('hisham/projects', 'other/projects')")
    run = run_dag(dag.replace("WORKER_A", repr(str(tmp_path / "a"))).replace("ARCHIVES", repr(str(tmp_path / "z"))))
    assert run.state == "failed"
    assert "is not a project under" in capfd.readouterr().out
    assert not (tmp_path / "z").exists()


def test_without_storage_nothing_is_copied(tmp_path, monkeypatch):
    monkeypatch.delenv("AIRFLOW__HISHAM__STORAGE_URL", raising=False)
    worker = tmp_path / "root"
    monkeypatch.setenv("AIRFLOW__HISHAM__GENERATED_PROJECTS_ROOT", str(worker))
    run = _handoff(worker, tmp_path / "archives")
    assert run.state == "success"
    gen, export = xcom(run, "generate"), xcom(run, "archive")
    assert gen["storage_url"] is None and gen["manifest_sha256"] == gen["sha256"]
    assert "archive_url" not in export
    state = sorted(p.relative_to(worker).as_posix() for p in (worker / ".hisham" / "handoff").rglob("*"))
    assert [s for s in state if not s.startswith(".hisham/handoff/leases")] == [
        ".hisham/handoff/lock", ".hisham/handoff/manifest.json", ".hisham/handoff/published.json"]


def test_records_point_at_storage(s3_config, s3_server, tmp_path, hishamos, hishamos_conn):
    conn_id = hishamos_conn("password", conn_id="hishamos_storage_records")
    project = hishamos.state.demo_project_id
    dag = (HANDOFF_DAG
           .replace('output_root=WORKER_A,', f'output_root=WORKER_A, hishamos_conn_id={conn_id!r}, '
                                             f'hishamos_project_id={project!r},')
           .replace('archive_root=ARCHIVES)', f'archive_root=ARCHIVES, hishamos_conn_id={conn_id!r}, generated_project_id='
                                              '"{{ ti.xcom_pull(task_ids=\'generate\')[\'generated_project_id\'] }}")'))
    run = run_dag(dag.replace("WORKER_A", repr(str(tmp_path / "a"))).replace("ARCHIVES", repr(str(tmp_path / "z"))))
    assert run.state == "success"
    gen, export = xcom(run, "generate"), xcom(run, "archive")
    pointer = json.loads(s3_server.fs().cat_file(f"{s3_config}/hisham/projects/handoff/{gen['manifest_sha256']}/"
                                                 "published.json"))
    assert pointer["generated_project_id"] == gen["generated_project_id"] and pointer["hishamos_project_id"] == project
    (record,) = hishamos.state.repository_exports.values()
    assert record["config"]["archive_url"] == export["archive_url"]
    assert record["config"]["archive_sha256"] == hashlib.sha256(Path(export["archive_path"]).read_bytes()).hexdigest()
    assert hishamos.state.generated_projects[gen["generated_project_id"]]["status"] == "completed"


def test_storage_down_during_publish_fails_the_generation_and_its_record(s3_server, tmp_path, monkeypatch, capfd,
                                                                          hishamos, hishamos_conn):
    from tests.storage.s3_server import MotoS3

    with MotoS3() as gone:
        dead = gone.connection()
    monkeypatch.setenv("AIRFLOW_CONN_HISHAM_S3_DEAD", dead)
    monkeypatch.setenv("AIRFLOW__HISHAM__STORAGE_URL", "s3://hisham-dead/hisham")
    monkeypatch.setenv("AIRFLOW__HISHAM__STORAGE_CONN_ID", "hisham_s3_dead")
    conn_id = hishamos_conn("password", conn_id="hishamos_storage_down")
    project = hishamos.state.demo_project_id
    dag = HANDOFF_DAG.replace('output_root=WORKER_A,', f'output_root=WORKER_A, hishamos_conn_id={conn_id!r}, '
                                                      f'hishamos_project_id={project!r},')
    run = run_dag(dag.replace("WORKER_A", repr(str(tmp_path / "a"))).replace("ARCHIVES", repr(str(tmp_path / "z"))))
    assert run.state == "failed"
    assert "storage write of s3://hisham-dead/hisham/projects/handoff/" in capfd.readouterr().out
    (record,) = hishamos.state.generated_projects.values()
    assert record["status"] == "failed" and "storage write" in record["error_message"]
    assert not (tmp_path / "z").exists()
