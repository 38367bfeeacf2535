"""storage.store on a real S3-compatible server (moto on 127.0.0.1) and on the local root."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_provider_hisham.generation import generate_project
from airflow_provider_hisham.storage import IntegrityError, NotPublishedError, StorageConfigError, StorageUnavailableError
from airflow_provider_hisham.storage.store import ARCHIVE_OBJECT, MANIFEST_OBJECT, POINTER, Store
from tests.conftest import REPO_ROOT


def _generate(root: Path, pid: str = "demo", files: int = 5, salt: str = "") -> tuple[str, bytes]:
    structure = {f"src/mod_{i}.py": f"X = {i}  # {salt}\n" for i in range(files)}
    structure.update({"README.md": f"# {pid} {salt}\n", "bin/run.sh": "#!/bin/sh\necho hi\n", "empty/": {}})
    result = generate_project(str(root), pid, structure=structure)
    return result.output_dir, Path(result.manifest_path).read_bytes()


def _tree(folder: str) -> dict[str, str]:
    out = {}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            p = os.path.join(dirpath, name)
            out[os.path.relpath(p, folder)] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
    return out


@pytest.fixture
def remote(s3_server):
    bucket = s3_server.bucket()
    return Store.remote(s3_server.fs(), bucket, f"s3://{bucket}")


def test_local_store_copies_nothing(tmp_path):
    out, manifest = _generate(tmp_path)
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    ref = Store.local(str(tmp_path)).publish(out, manifest, lease=("dag", "run"))
    after = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    added = sorted(set(after) - set(before))
    assert ref.url is None and ref.manifest_sha256 == hashlib.sha256(manifest).hexdigest()
    # only two small state files: the publication facts and the run's lease; no archive, no copy
    assert [a for a in added if not a.startswith(".hisham/demo/leases")] == [".hisham/demo/published.json"]
    assert sum(os.path.getsize(tmp_path / a) for a in added if (tmp_path / a).is_file()) < 2048
    fetched = Store.local(str(tmp_path)).fetch(ref, str(tmp_path))
    assert fetched.cached and fetched.output_dir == out


def test_local_store_refuses_a_regenerated_project(tmp_path):
    out, manifest = _generate(tmp_path)
    ref = Store.local(str(tmp_path)).publish(out, manifest)
    _generate(tmp_path, salt="v2")
    with pytest.raises(IntegrityError, match="regenerated or removed"):
        Store.local(str(tmp_path)).fetch(ref, str(tmp_path))


def test_publish_then_fetch_on_another_root(remote, tmp_path):
    out, manifest = _generate(tmp_path / "worker-a", files=40)
    ref = remote.publish(out, manifest)
    assert ref.url == f"{remote.url}/projects/demo/{ref.manifest_sha256}"
    keys = sorted(k.rsplit("/", 1)[1] for k in remote.fs.find(f"{remote.base}/projects"))
    assert keys == sorted([ARCHIVE_OBJECT, MANIFEST_OBJECT, POINTER])
    other = tmp_path / "worker-b"
    result = remote.fetch(remote.parse_ref(ref.url, ref.manifest_sha256), str(other))
    assert not result.cached and _tree(result.output_dir) == _tree(out)
    assert Path(result.manifest_path).read_bytes() == manifest
    assert os.stat(os.path.join(result.output_dir, "bin/run.sh")).st_mode & 0o777 == \
        os.stat(os.path.join(out, "bin/run.sh")).st_mode & 0o777
    assert os.path.isdir(os.path.join(result.output_dir, "empty"))
    again = remote.fetch(ref, str(other))
    assert again.cached
    # a retried publish writes the same keys: still one version
    remote.publish(out, manifest)
    assert len(remote.versions()) == 1


def test_corrupted_archive_is_refused_and_nothing_is_half_written(remote, tmp_path):
    out, manifest = _generate(tmp_path / "a")
    ref = remote.publish(out, manifest)
    worker = tmp_path / "b"
    old_out, _ = _generate(worker, salt="previous")  # what worker b has now must survive
    old_tree = _tree(old_out)
    key = f"{remote.base}/projects/demo/{ref.manifest_sha256}/{ARCHIVE_OBJECT}"
    data = bytearray(remote.fs.cat_file(key))
    data[len(data) // 2] ^= 0xFF
    remote.fs.pipe_file(key, bytes(data))
    with pytest.raises(IntegrityError, match="corrupted object; nothing was written"):
        remote.fetch(ref, str(worker))
    assert _tree(old_out) == old_tree
    assert not [n for n in os.listdir(worker / ".hisham" / "demo") if n.startswith("tmp-")]
    remote.publish(out, manifest)  # the generation's retry writes the object again
    assert _tree(remote.fetch(ref, str(worker)).output_dir) == _tree(out)


def test_archive_whose_files_differ_from_the_manifest_is_refused(remote, tmp_path):
    """A consistent pointer and archive whose contents do not match the manifest (a forged or
    mixed-up object): every file is checked against the manifest while it is extracted."""
    out, manifest = _generate(tmp_path / "a", salt="aa")
    ref = remote.publish(out, manifest)
    other, _ = _generate(tmp_path / "x", salt="zz")  # same sizes, other bytes
    forged = remote.publish(other, Path(tmp_path / "x" / ".hisham" / "demo" / "manifest.json").read_bytes())
    vkey = f"{remote.base}/projects/demo/{ref.manifest_sha256}"
    fkey = f"{remote.base}/projects/demo/{forged.manifest_sha256}"
    remote.fs.pipe_file(f"{vkey}/{ARCHIVE_OBJECT}", remote.fs.cat_file(f"{fkey}/{ARCHIVE_OBJECT}"))
    pointer = json.loads(remote.fs.cat_file(f"{vkey}/{POINTER}"))
    pointer["archive"] = json.loads(remote.fs.cat_file(f"{fkey}/{POINTER}"))["archive"]
    remote.fs.pipe_file(f"{vkey}/{POINTER}", json.dumps(pointer).encode())
    with pytest.raises(IntegrityError, match="the manifest says"):
        remote.fetch(ref, str(tmp_path / "b"))
    assert not (tmp_path / "b" / "demo").exists()


def test_corrupted_manifest_object_is_refused(remote, tmp_path):
    out, manifest = _generate(tmp_path / "a")
    ref = remote.publish(out, manifest)
    remote.fs.pipe_file(f"{remote.base}/projects/demo/{ref.manifest_sha256}/{MANIFEST_OBJECT}", manifest + b" ")
    with pytest.raises(IntegrityError, match="not the handed-over"):
        remote.fetch(ref, str(tmp_path / "b"))


def test_unpublished_version_is_never_read(remote, tmp_path):
    out, manifest = _generate(tmp_path / "a")
    ref = remote.publish(out, manifest)
    remote.fs.rm(f"{remote.base}/projects/demo/{ref.manifest_sha256}/{POINTER}")
    with pytest.raises(NotPublishedError, match="never published, its publish did not finish"):
        remote.fetch(ref, str(tmp_path / "b"))
    assert not (tmp_path / "b" / "demo").exists()


def test_storage_unavailable_during_publish_then_retry(s3_server, tmp_path):
    from tests.storage.s3_server import MotoS3

    bucket = s3_server.bucket()
    out, manifest = _generate(tmp_path / "a")
    with MotoS3() as down:
        dead = down.endpoint
    broken = Store.remote(s3_server.fs(endpoint=dead), bucket, f"s3://{bucket}")
    with pytest.raises(StorageUnavailableError, match=f"storage write of s3://{bucket}/projects/demo/"):
        broken.publish(out, manifest)
    good = Store.remote(s3_server.fs(), bucket, f"s3://{bucket}")
    assert good.versions() == []
    ref = good.publish(out, manifest)  # the task's retry
    assert _tree(good.fetch(ref, str(tmp_path / "b")).output_dir) == _tree(out)


_KILLED_CHILD = """
import sys
from airflow_provider_hisham.storage.store import Store
from tests.storage.s3_server import MotoS3
endpoint, bucket, out, manifest = sys.argv[1:5]
server = MotoS3(); server.port = int(endpoint.rsplit(":", 1)[1])
fs = server.fs()
real = fs.put_file
def announced(*args, **kwargs):
    print("uploading", flush=True)
    return real(*args, **kwargs)
fs.put_file = announced
Store.remote(fs, bucket, "s3://" + bucket).publish(out, open(manifest, "rb").read())
print("done", flush=True)
"""


def test_worker_killed_mid_upload_leaves_nothing_readable(s3_server, remote, tmp_path):
    root = tmp_path / "a"
    generate_project(str(root), "demo", structure={"README.md": "x\n"})  # state folder exists
    out = root / "demo"
    (out / "big.bin").write_bytes(os.urandom(48 << 20))  # incompressible: a long multipart upload
    manifest_path = root / ".hisham" / "demo" / "manifest.json"
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_CHILD, s3_server.endpoint, remote.base, str(out), str(manifest_path)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert child.stdout.readline().strip() == "uploading"
    # Aim the kill into the upload (its progress is not visible from here). What is asserted holds
    # wherever it lands: before the upload, during it or between it and the release record.
    time.sleep(0.3)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    digest = hashlib.sha256(manifest_path.read_bytes()).hexdigest()
    assert remote.versions() == []
    ref = remote.parse_ref(f"{remote.url}/projects/demo/{digest}", digest)
    with pytest.raises(NotPublishedError):
        remote.fetch(ref, str(tmp_path / "b"))
    assert not (tmp_path / "b" / "demo").exists()


def test_file_url_storage_writes_beside_and_renames(tmp_path):
    """A mounted file system (``file://`` storage that is not the local root): objects are
    written beside their key and renamed, so even there nothing half-written has the real name."""
    from fsspec.implementations.local import LocalFileSystem

    shared = tmp_path / "shared"
    store = Store.remote(LocalFileSystem(), str(shared), f"file://{shared}")
    out, manifest = _generate(tmp_path / "a")
    ref = store.publish(out, manifest)
    names = [p.name for p in shared.rglob("*") if p.is_file()]
    assert sorted(names) == sorted([ARCHIVE_OBJECT, MANIFEST_OBJECT, POINTER])
    assert _tree(store.fetch(ref, str(tmp_path / "b")).output_dir) == _tree(out)
    with pytest.raises(StorageConfigError, match="credentials"):
        Store.remote(LocalFileSystem(), "b", "s3://key:secret@bucket")



def test_missing_bucket_is_a_storage_error(s3_server, tmp_path):
    out, manifest = _generate(tmp_path / "a")
    store = Store.remote(s3_server.fs(), "no-such-bucket-hisham", "s3://no-such-bucket-hisham")
    with pytest.raises(StorageUnavailableError, match="no-such-bucket-hisham"):
        store.publish(out, manifest)
