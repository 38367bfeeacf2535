"""Two Celery workers with different local roots (no shared disk), pinned by queues: generation on
one, git export and archive on the other, the hand-off through S3 (moto on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import subprocess
import uuid
import zipfile
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.e2e.conftest import start_stack
from tests.e2e.examples import local_git_settings
from tests.e2e.rest import Rest
from tests.storage.s3_server import MotoS3

DAG_ID = "hisham_storage_e2e"


@pytest.fixture(scope="module")
def storage_stack():
    from tests.servers.git_http import GitHttpServer, missing_tools

    if missing_tools():
        skip_or_fail(f"the local git server needs {missing_tools()}")
    token = secrets.token_urlsafe(24)
    suffix = uuid.uuid4().hex[:8]
    queues = {"generate": f"hisham-gen-{suffix}", "export": f"hisham-exp-{suffix}"}
    with MotoS3() as s3, GitHttpServer(token) as git:
        git.create_bare("storage-e2e")
        bucket = s3.bucket("e2e")
        env = {"AIRFLOW_CONN_HISHAM_E2E_S3": s3.connection(), "AIRFLOW__HISHAM__STORAGE_URL": f"s3://{bucket}/hisham",
               "AIRFLOW__HISHAM__STORAGE_CONN_ID": "hisham_e2e_s3",
               "HISHAM_E2E_QUEUE_GENERATE": queues["generate"], "HISHAM_E2E_QUEUE_EXPORT": queues["export"]}
        env.update(local_git_settings(git.repo_url("storage-e2e"), token, "storage-e2e")[0])
        roots: dict[str, Path] = {}
        workers = {}
        for role, queue in queues.items():
            roots[role] = Path(f"/tmp/hisham-e2e-{role}-root-{suffix}")
            workers[queue] = {"AIRFLOW__HISHAM__GENERATED_PROJECTS_ROOT": str(roots[role])}
        stack, home = start_stack("CeleryExecutor", extra_env=env, extra_workers=workers)
        try:
            yield {"stack": stack, "s3": s3, "bucket": bucket, "git": git, "roots": roots}
        finally:
            stack.stop()
            shutil.rmtree(home, ignore_errors=True)
            for root in roots.values():
                shutil.rmtree(root, ignore_errors=True)


def _git(bare: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={bare}", *args], check=True, capture_output=True).stdout


def test_generation_and_export_on_different_workers(storage_stack):
    stack, s3, git, roots = storage_stack["stack"], storage_stack["s3"], storage_stack["git"], storage_stack["roots"]
    stack.wait_for_dags(DAG_ID)
    rest = Rest(stack.client())
    run_id = rest.trigger(DAG_ID, {"project_id": "storage-e2e", "git_url": git.repo_url("storage-e2e")})
    result = rest.wait(DAG_ID, run_id, timeout=300)
    assert result.state == "success", (result.states(), stack.logs_tail())
    gen, push, archive = (rest.xcom(result, t) for t in ("generate", "push", "archive"))
    digest = gen["manifest_sha256"]
    assert gen["storage_url"] == f"s3://{storage_stack['bucket']}/hisham/projects/storage-e2e/{digest}"
    # generation ran on the generate worker; export and archive on the other one, after a fetch
    assert gen["output_dir"] == str(roots["generate"].resolve() / "storage-e2e")
    fetched = roots["export"] / ".hisham" / "storage-e2e" / "manifest.json"
    assert hashlib.sha256(fetched.read_bytes()).hexdigest() == digest
    assert not (roots["generate"] / "storage-e2e.zip").exists()
    manifest = json.loads(fetched.read_bytes())
    files = {f["path"]: f["sha256"] for f in manifest["files"]}
    # the pushed commit holds exactly the manifest's files and bytes
    bare = git.create_bare("storage-e2e")  # idempotent: the served repository's folder
    assert git.head("storage-e2e") == push["commit_sha"]
    listed = _git(bare, "ls-tree", "-r", "--name-only", push["commit_sha"]).decode().split("\n")
    assert sorted(p for p in listed if p) == sorted(files)
    for path, sha in files.items():
        assert hashlib.sha256(_git(bare, "show", f"{push['commit_sha']}:{path}")).hexdigest() == sha
    # the archive, on the export worker and in storage, holds the same
    assert archive["archive_path"] == str(roots["export"].resolve() / "storage-e2e.zip")
    data = s3.fs().cat_file(f"{storage_stack['bucket']}/hisham/archives/storage-e2e.zip")
    assert archive["archive_url"] == f"s3://{storage_stack['bucket']}/hisham/archives/storage-e2e.zip"
    assert data == Path(archive["archive_path"]).read_bytes()
    with zipfile.ZipFile(archive["archive_path"]) as zf:
        assert {n: hashlib.sha256(zf.read(n)).hexdigest() for n in zf.namelist() if not n.endswith("/")} == files
