"""Publish a generated project to object storage as one unit, fetch it elsewhere, lease it.

Layout under the storage location ``{base}`` (any fsspec file system)::

    projects/{project_id}/{manifest_sha256}/project.tar.gz   the tree (export.archive's deterministic tar.gz)
    projects/{project_id}/{manifest_sha256}/manifest.json    the generation manifest, byte for byte
    projects/{project_id}/{manifest_sha256}/published.json   written LAST: archive size+sha256, facts
    archives/{path}.zip | .tar.gz  (+ ``.json`` beside it, written last)   repo_creation's archives
    leases/{project_id}/{manifest_sha256}/{lease}.json        "a DAG run uses this version"

A version exists for readers only once ``published.json`` is there, so a publish cut short (storage
down, worker killed mid-upload) is never read, and a retry writes the same keys again (content
addressed by the manifest digest: no second copy). A fetch verifies the manifest against the
digest handed over in XCom, the archive against ``published.json`` and every file against the
manifest while it extracts, into the local root through ``AtomicProjectDir`` (the same swap as
generation): a corrupted object is a clear :class:`IntegrityError` and the local root is unchanged.

When the storage is the local generated-projects root itself (the default) nothing is copied:
``published.json`` and leases are small files in the project's state folder
``{root}/.hisham/{project_id}/``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import uuid
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow_provider_hisham.atomic_write import write_file_atomic
from airflow_provider_hisham.export.archive import write_archive
from airflow_provider_hisham.export.tree import scan_tree
from airflow_provider_hisham.generation.atomic import MANIFEST_NAME, STATE_DIR, AtomicProjectDir, state_dir
from airflow_provider_hisham.generation.errors import GenerationError
from airflow_provider_hisham.generation.limits import Limits
from airflow_provider_hisham.generation.paths import check_project_id, check_relative_path, check_tree
from airflow_provider_hisham.generation.writer import DIR_MODE, EXEC_MODE, FILE_MODE
from airflow_provider_hisham.storage.errors import (
    IntegrityError,
    NotPublishedError,
    StorageConfigError,
    StorageError,
    StorageUnavailableError,
)

FORMAT = 1
ARCHIVE_OBJECT = "project.tar.gz"
MANIFEST_OBJECT = "manifest.json"
POINTER = "published.json"
LEASES = "leases"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_SMALL = 1 << 20  # published.json, a lease, an archive's facts
_CHUNK = 1 << 20
_SMALL_FILE = 1 << 20  # written whole by a thread; larger ones are streamed
_PENDING = 256


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _encode(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n").encode()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def parse_time(value: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def check_digest(value: Any, field_name: str = "manifest_sha256") -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise StorageConfigError(f"{field_name} must be 64 lowercase hex digits (a sha256), got {str(value)[:80]!r}")
    return value


@dataclass(frozen=True)
class ProjectRef:
    """What one task hands the next through XCom: where the version is and its manifest digest
    (``url`` None: the project is in the local root, nothing was copied)."""

    url: str | None
    project_id: str
    manifest_sha256: str


@dataclass
class Version:
    """One published version of a project (``pointer``: its ``published.json``, {} for a local
    project generated before storage existed)."""

    project_id: str
    manifest_sha256: str
    published_at: datetime | None
    pointer: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Lease:
    """A DAG run's claim on a version: retention keeps the version while that run is running."""

    project_id: str
    manifest_sha256: str
    dag_id: str
    run_id: str
    key: str


@dataclass
class StoredArchive:
    key: str
    url: str
    facts: dict[str, Any]
    created_at: datetime | None


@dataclass
class FetchResult:
    output_dir: str
    manifest_path: str
    cached: bool


def lease_id(dag_id: str, run_id: str) -> str:
    """One lease per DAG run and version: every task of the run shares it (retries write it again)."""
    return hashlib.sha256(f"{dag_id}\0{run_id}".encode()).hexdigest()[:32]


def local_manifest_digest(root: str, project_id: str) -> str | None:
    """sha256 of ``{root}/.hisham/{project_id}/manifest.json`` when the project folder is there."""
    path = os.path.join(state_dir(root, project_id), MANIFEST_NAME)
    if not os.path.isdir(os.path.join(root, project_id)) or os.path.islink(path) or not os.path.isfile(path):
        return None
    return sha256_file(path)


class Store:
    """A storage location: ``Store.remote(fs, base, url)`` (an fsspec file system and the path of the
    location in it) or ``Store.local(root)`` (the generated-projects root itself; nothing copied)."""

    def __init__(self, fs: Any, base: str, url: str | None, *, local_root: str | None = None) -> None:
        self.fs, self.base, self.url, self.local_root = fs, base.rstrip("/"), (url or "").rstrip("/") or None, local_root

    @classmethod
    def remote(cls, fs: Any, base: str, url: str) -> "Store":
        if "@" in url.split("://", 1)[-1].split("/", 1)[0]:
            raise StorageConfigError("storage_url must not carry credentials; put them in storage_conn_id's connection")
        return cls(fs, base, url)

    @classmethod
    def local(cls, root: str) -> "Store":
        root = os.path.realpath(root)
        return cls(None, root, None, local_root=root)

    @property
    def is_local(self) -> bool:
        return self.local_root is not None

    def __repr__(self) -> str:  # never the file system object (it may hold credentials)
        return f"Store({self.url or self.local_root!r})"

    # -- keys ------------------------------------------------------------------------------
    def _version_key(self, project_id: str, digest: str) -> str:
        return f"{self.base}/projects/{project_id}/{digest}"

    def ref_url(self, project_id: str, digest: str) -> str:
        return f"{self.url}/projects/{project_id}/{digest}"

    def parse_ref(self, url: str | None, manifest_sha256: str, *, limits: Limits | None = None) -> ProjectRef:
        """A reference from XCom (or a run's conf: hostile), confined to this location's projects."""
        digest = check_digest(manifest_sha256)
        if self.is_local:
            raise StorageConfigError("no storage_url is configured: a project in the local root is handed over by "
                                     "its output_dir")
        prefix = f"{self.url}/projects/"
        if not isinstance(url, str) or not url.startswith(prefix):
            raise StorageConfigError(f"storage reference {str(url)[:200]!r} is not a project under {prefix!r}")
        parts = url[len(prefix):].split("/")
        if len(parts) != 2 or parts[1] != digest:
            raise StorageConfigError(f"storage reference {url[:200]!r} must be {prefix}<project_id>/<manifest_sha256> "
                                     f"with the handed-over digest {digest}")
        try:
            project_id = check_project_id(parts[0], limits or Limits())
        except GenerationError as exc:
            raise StorageConfigError(f"storage reference {url[:200]!r}: {exc}") from None
        return ProjectRef(url, project_id, digest)

    # -- file system calls, errors worded once ---------------------------------------------------
    @contextmanager
    def _io(self, what: str, key: str, *, missing_passes: bool = True) -> Iterator[None]:
        """Back-end errors as :class:`StorageUnavailableError`; an absent object stays
        ``FileNotFoundError`` for reads (``missing_passes``), a missing bucket on write does not."""
        try:
            yield
        except StorageError:
            raise
        except FileNotFoundError as exc:
            if missing_passes:
                raise
            raise StorageUnavailableError(f"storage {what} of {self._shown(key)} failed: {str(exc)[:300]}") from None
        except Exception as exc:  # noqa: BLE001 - fsspec back ends raise their own types (botocore, aiohttp...)
            raise StorageUnavailableError(f"storage {what} of {self._shown(key)} failed: {type(exc).__name__}: "
                                          f"{str(exc)[:300]}") from None

    def _shown(self, key: str) -> str:
        return (self.url or "") + key[len(self.base):] if key.startswith(self.base) else key

    def _write(self, key: str, *, data: bytes | None = None, local: str | None = None) -> None:
        """One object, whole or not at all: object stores replace objects atomically; on a local or
        mounted file system it is written beside and renamed."""
        with self._io("write", key, missing_passes=False):
            parent = key.rsplit("/", 1)[0]
            if getattr(self.fs, "local_file", False):
                self.fs.makedirs(parent, exist_ok=True)
                tmp = f"{parent}/.{key.rsplit('/', 1)[1]}.partial-{uuid.uuid4().hex[:8]}"
                try:
                    self.fs.pipe_file(tmp, data) if data is not None else self.fs.put_file(local, tmp)
                    self.fs.mv(tmp, key)
                except BaseException:
                    if self.fs.exists(tmp):
                        self.fs.rm(tmp)
                    raise
            elif data is not None:
                self.fs.pipe_file(key, data)
            else:
                self.fs.put_file(local, key)

    def _read_small(self, key: str) -> bytes:
        """A small object (raises FileNotFoundError when it is absent)."""
        with self._io("read", key):
            size = self.fs.size(key)
            if size is not None and size > _MAX_SMALL:
                raise IntegrityError(f"{self._shown(key)} is {size} bytes; at most {_MAX_SMALL} expected")
            return self.fs.cat_file(key)

    def _exists(self, key: str) -> bool:
        with self._io("lookup", key):
            return bool(self.fs.exists(key))

    def _rm(self, key: str, recursive: bool = False) -> None:
        with self._io("delete", key):
            try:
                self.fs.rm(key, recursive=recursive)
            except FileNotFoundError:
                pass

    # -- publish / fetch -------------------------------------------------------------------------
    def publish(self, project_dir: str, manifest: bytes, *, facts: dict[str, Any] | None = None,
                lease: tuple[str, str] | None = None) -> ProjectRef:
        """Make the generated ``project_dir`` (whose manifest bytes are ``manifest``) readable from
        other workers; ``published.json`` last. ``lease``: (dag_id, run_id) of the publishing run."""
        digest = sha256_bytes(manifest)
        project_id = check_project_id(str(json.loads(manifest)["project_id"]), Limits())
        pointer: dict[str, Any] = {"format": FORMAT, "project_id": project_id, "manifest_sha256": digest,
                                   "published_at": _now(), **(facts or {})}
        if self.is_local:
            write_file_atomic(os.path.join(state_dir(self.local_root, project_id), POINTER), _encode(pointer))
            self._drop_replaced_leases(project_id, digest)
            ref = ProjectRef(None, project_id, digest)
        else:
            key = self._version_key(project_id, digest)
            pointer["tree_mtime"] = scan_tree(project_dir)
            with tempfile.TemporaryDirectory(prefix="hisham-publish-") as tmp:
                archive = str(write_archive(project_dir, os.path.join(tmp, ARCHIVE_OBJECT), "tar.gz"))
                pointer["archive"] = {"key": ARCHIVE_OBJECT, "size": os.path.getsize(archive),
                                      "sha256": sha256_file(archive)}
                self._write(f"{key}/{ARCHIVE_OBJECT}", local=archive)
            self._write(f"{key}/{MANIFEST_OBJECT}", data=manifest)
            self._write(f"{key}/{POINTER}", data=_encode(pointer))
            ref = ProjectRef(self.ref_url(project_id, digest), project_id, digest)
        if lease:
            self.write_lease(project_id, digest, *lease)
        return ref

    def _fresh(self) -> None:
        """Forget listings cached by the file system (s3fs caches them; other workers write)."""
        invalidate = getattr(self.fs, "invalidate_cache", None)
        if invalidate is not None:
            invalidate()

    def read_pointer(self, project_id: str, digest: str) -> dict[str, Any]:
        key = f"{self._version_key(project_id, digest)}/{POINTER}"
        self._fresh()
        try:
            raw = self._read_small(key)
        except FileNotFoundError:
            raise NotPublishedError(f"{self._shown(key)} does not exist: version {digest[:12]} of project "
                                    f"{project_id!r} was never published, its publish did not finish, or retention "
                                    "removed it") from None
        try:
            pointer = json.loads(raw)
        except ValueError:
            raise IntegrityError(f"{self._shown(key)} is not JSON") from None
        if not isinstance(pointer, dict) or pointer.get("manifest_sha256") != digest:
            raise IntegrityError(f"{self._shown(key)} does not describe manifest {digest}")
        return pointer

    def fetch(self, ref: ProjectRef, local_root: str, *, limits: Limits | None = None,
              lease: tuple[str, str] | None = None) -> FetchResult:
        """The version ``ref`` in ``{local_root}/{project_id}``, verified; a cached copy with the same
        manifest digest is used as it is."""
        limits = limits or Limits()
        local_root = os.path.realpath(local_root)
        target = os.path.join(local_root, ref.project_id)
        manifest_path = os.path.join(state_dir(local_root, ref.project_id), MANIFEST_NAME)
        if lease:
            self.write_lease(ref.project_id, ref.manifest_sha256, *lease)
        have = local_manifest_digest(local_root, ref.project_id)
        if have == ref.manifest_sha256:
            return FetchResult(target, manifest_path, cached=True)
        if ref.url is None:
            raise IntegrityError(f"{target} holds manifest {have or 'none'}, not the handed-over {ref.manifest_sha256}: "
                                 "the project was regenerated or removed since (and no storage_url is configured to "
                                 "fetch the handed-over version from)")
        key = self._version_key(ref.project_id, ref.manifest_sha256)
        pointer = self.read_pointer(ref.project_id, ref.manifest_sha256)
        try:
            manifest_bytes = self._read_manifest(f"{key}/{MANIFEST_OBJECT}", limits)
        except FileNotFoundError:
            raise NotPublishedError(f"{self._shown(key)}/{MANIFEST_OBJECT} is missing") from None
        if sha256_bytes(manifest_bytes) != ref.manifest_sha256:
            raise IntegrityError(f"{self._shown(key)}/{MANIFEST_OBJECT} has sha256 {sha256_bytes(manifest_bytes)}, not "
                                 f"the handed-over {ref.manifest_sha256} (a corrupted object)")
        manifest = json.loads(manifest_bytes)
        if manifest.get("project_id") != ref.project_id:
            raise IntegrityError(f"{self._shown(key)}: the manifest names project {manifest.get('project_id')!r}")
        facts = pointer.get("archive") or {}
        budget = limits.max_project_bytes + 2048 * (limits.max_files + 1) + _CHUNK
        if not isinstance(facts.get("size"), int) or not 0 < facts["size"] <= budget:
            raise IntegrityError(f"{self._shown(key)}/{POINTER}: archive size {facts.get('size')!r} is not in 1..{budget}")
        atomic = AtomicProjectDir(local_root, ref.project_id)
        with atomic as tmp:
            if local_manifest_digest(local_root, ref.project_id) == ref.manifest_sha256:
                return FetchResult(target, manifest_path, cached=True)  # another task fetched it meanwhile
            fd, download = tempfile.mkstemp(prefix="tmp-", suffix=".tar.gz", dir=atomic.state)  # recover() drops it
            os.close(fd)
            try:
                with self._io("read", f"{key}/{ARCHIVE_OBJECT}"):
                    try:
                        self.fs.get_file(f"{key}/{ARCHIVE_OBJECT}", download)
                    except FileNotFoundError:
                        raise NotPublishedError(f"{self._shown(key)}/{ARCHIVE_OBJECT} is missing") from None
                got_size, got_sha = os.path.getsize(download), sha256_file(download)
                if (got_size, got_sha) != (facts["size"], facts.get("sha256")):
                    raise IntegrityError(f"{self._shown(key)}/{ARCHIVE_OBJECT} is {got_size} bytes with sha256 "
                                         f"{got_sha}; published.json says {facts['size']} bytes, {facts.get('sha256')} "
                                         "(a corrupted object; nothing was written to the local root)")
                extract_verified(download, tmp, manifest, limits, mtime=pointer.get("tree_mtime"))
            finally:
                if os.path.lexists(download):
                    os.unlink(download)
            atomic.commit(manifest_bytes)
        return FetchResult(target, manifest_path, cached=False)

    def _read_manifest(self, key: str, limits: Limits) -> bytes:
        with self._io("read", key):
            size = self.fs.size(key)
            cap = 512 * (limits.max_files + 64) + limits.max_path_bytes * (limits.max_files + 64)
            if size is not None and size > cap:
                raise IntegrityError(f"{self._shown(key)} is {size} bytes; at most {cap} for {limits.max_files} files")
            return self.fs.cat_file(key)

    # -- archives --------------------------------------------------------------------------------
    def put_archive(self, local_path: str, relative: str, facts: dict[str, Any]) -> str | None:
        """Copy a repo_creation archive to ``archives/{relative}`` (facts beside it, last); its URL.
        None for the local store: the archive already is where it belongs."""
        if self.is_local:
            return None
        check_relative_path(relative, Limits())
        key = f"{self.base}/archives/{relative}"
        self._write(key, local=local_path)
        self._write(f"{key}.json", data=_encode({"format": FORMAT, "created_at": _now(), **facts}))
        return self._shown(key)

    def archives(self) -> list[StoredArchive]:
        if self.is_local:
            return []
        root = f"{self.base}/archives"
        self._fresh()
        with self._io("list", root):
            keys = sorted(k for k in self.fs.find(root) if k.endswith(".json"))
        found = []
        for meta in keys:
            try:
                facts = json.loads(self._read_small(meta))
            except (FileNotFoundError, ValueError, IntegrityError):
                facts = {}
            key = meta[: -len(".json")]
            found.append(StoredArchive(key, self._shown(key), facts if isinstance(facts, dict) else {},
                                       parse_time(facts.get("created_at")) if isinstance(facts, dict) else None))
        return found

    def remove_archive(self, archive: StoredArchive) -> None:
        self._rm(archive.key)
        self._rm(f"{archive.key}.json")

    # -- leases ----------------------------------------------------------------------------------
    def _lease_key(self, project_id: str, digest: str, name: str = "") -> str:
        if self.is_local:
            folder = os.path.join(state_dir(self.local_root, project_id), LEASES)
            return os.path.join(folder, f"{digest}.{name}.json") if name else folder
        folder = f"{self.base}/{LEASES}/{project_id}/{digest}"
        return f"{folder}/{name}.json" if name else folder

    def write_lease(self, project_id: str, digest: str, dag_id: str, run_id: str) -> None:
        """Idempotent: one lease per DAG run and version."""
        name = lease_id(dag_id, run_id)
        body = _encode({"project_id": project_id, "manifest_sha256": digest, "dag_id": dag_id, "run_id": run_id,
                        "created_at": _now()})
        key = self._lease_key(project_id, digest, name)
        if self.is_local:
            os.makedirs(os.path.dirname(key), mode=DIR_MODE, exist_ok=True)
            write_file_atomic(key, body)
        else:
            self._write(key, data=body)

    def _drop_replaced_leases(self, project_id: str, digest: str) -> None:
        """Local root: a regeneration replaced the tree in place, so leases of earlier digests guard nothing."""
        folder = self._lease_key(project_id, digest)
        if os.path.isdir(folder):
            for name in os.listdir(folder):
                if not name.startswith(f"{digest}."):
                    os.unlink(os.path.join(folder, name))

    def leases(self, project_id: str, digest: str) -> list[Lease | None]:
        """The version's leases; None for one that cannot be read (treated as in use)."""
        found: list[Lease | None] = []
        if self.is_local:
            folder = self._lease_key(project_id, digest)
            names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
            keys = [os.path.join(folder, n) for n in names if n.startswith(f"{digest}.") and n.endswith(".json")]
        else:
            folder = self._lease_key(project_id, digest)
            self._fresh()
            with self._io("list", folder):
                try:
                    keys = sorted(self.fs.ls(folder, detail=False))
                except FileNotFoundError:
                    keys = []
        for key in keys:
            try:
                raw = open(key, "rb").read(_MAX_SMALL) if self.is_local else self._read_small(key)  # noqa: SIM115
                body = json.loads(raw)
                found.append(Lease(project_id, digest, str(body["dag_id"]), str(body["run_id"]), key))
            except FileNotFoundError:
                continue
            except (ValueError, KeyError, TypeError, IntegrityError):
                found.append(None)
        return found

    def remove_lease(self, lease: Lease) -> None:
        if self.is_local:
            if os.path.lexists(lease.key):
                os.unlink(lease.key)
        else:
            self._rm(lease.key)

    # -- versions (what retention looks at) ------------------------------------------------------
    def versions(self) -> list[Version]:
        if self.is_local:
            return list(self._local_versions())
        pattern = f"{self.base}/projects/*/*/{POINTER}"
        self._fresh()
        with self._io("list", pattern):
            keys = sorted(self.fs.glob(pattern))
        found = []
        for key in keys:
            project_id, digest = key.split("/")[-3:-1]
            try:
                pointer = json.loads(self._read_small(key))
            except FileNotFoundError:
                continue
            except (ValueError, IntegrityError):
                pointer = {}
            found.append(Version(project_id, digest, parse_time((pointer or {}).get("published_at")), pointer or {}))
        return found

    def _local_versions(self) -> Iterator[Version]:
        states = os.path.join(self.local_root, STATE_DIR)
        if not os.path.isdir(states):
            return
        for project_id in sorted(os.listdir(states)):
            if project_id.startswith(".") or not os.path.isdir(os.path.join(self.local_root, project_id)):
                continue
            digest = local_manifest_digest(self.local_root, project_id)
            if digest is None:
                continue
            pointer_path = os.path.join(state_dir(self.local_root, project_id), POINTER)
            pointer: dict[str, Any] = {}
            try:
                with open(pointer_path, "rb") as fh:
                    pointer = json.loads(fh.read(_MAX_SMALL))
            except (OSError, ValueError):
                pass
            if not isinstance(pointer, dict) or pointer.get("manifest_sha256") != digest:
                pointer = {}  # generated before storage existed, or regenerated by an older version
            when = parse_time(pointer.get("published_at")) or datetime.fromtimestamp(
                os.path.getmtime(os.path.join(state_dir(self.local_root, project_id), MANIFEST_NAME)), timezone.utc)
            yield Version(project_id, digest, when, pointer)

    def remove_version(self, version: Version) -> None:
        """``published.json`` first (readers stop seeing it), then the rest and its leases."""
        if self.is_local:
            remove_local_project(self.local_root, version.project_id, version.manifest_sha256)
            return
        key = self._version_key(version.project_id, version.manifest_sha256)
        self._rm(f"{key}/{POINTER}")
        self._rm(key, recursive=True)
        self._rm(self._lease_key(version.project_id, version.manifest_sha256), recursive=True)


def remove_local_project(root: str, project_id: str, digest: str | None = None) -> bool:
    """Remove ``{root}/{project_id}`` and its state folder under the generation lock, only if its
    manifest is ``digest`` (when given); whether it was removed."""
    state = state_dir(root, project_id)
    if not os.path.isdir(state) or os.path.islink(state):
        return False
    fd = os.open(os.path.join(state, "lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if digest is not None and local_manifest_digest(root, project_id) != digest:
            return False
        target = os.path.join(root, project_id)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        for name in os.listdir(state):
            if name != "lock":
                path = os.path.join(state, name)
                shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
    finally:
        os.close(fd)
    shutil.rmtree(state, ignore_errors=True)
    return True


def extract_verified(archive: str, dest: str, manifest: dict[str, Any], limits: Limits, *,
                     mtime: float | None = None) -> None:
    """Write the archive's files into the empty folder ``dest``, each checked against the manifest
    (path, size, sha256) while it is written; only the manifest's folders and regular files."""
    entries = manifest.get("files")
    dirs = manifest.get("directories") or []
    if not isinstance(entries, list) or not isinstance(dirs, list):
        raise IntegrityError("the manifest has no file list")
    files: dict[str, dict[str, Any]] = {}
    try:
        for entry in entries:
            check_relative_path(entry["path"], limits)
            files[entry["path"]] = entry
        for d in dirs:
            check_relative_path(d, limits)
        check_tree(files, dirs)
        total = sum(int(e.get("size", 0)) for e in files.values())
    except (GenerationError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise IntegrityError(f"the manifest lists an unusable entry: {exc}") from None
    if len(files) > limits.max_files or total > limits.max_project_bytes:
        raise IntegrityError(f"the manifest exceeds the limits ({limits.max_files} files, "
                             f"{limits.max_project_bytes} bytes)")
    allowed_dirs = set(dirs) | {p.rsplit("/", 1)[0] for p in files if "/" in p}
    allowed_dirs |= {d.rsplit("/", i)[0] for d in list(allowed_dirs) for i in range(1, d.count("/") + 1)}
    for d in sorted(allowed_dirs):
        os.makedirs(os.path.join(dest, d), mode=DIR_MODE, exist_ok=True)
    seen: set[str] = set()
    try:
        # Creating the files is most of a fetch's time: small ones (checked here first) are written
        # by a few threads while the archive is read on; at most _PENDING wait in memory.
        with tarfile.open(archive, "r:gz") as tar, ThreadPoolExecutor(4, thread_name_prefix="hisham-fetch") as pool:
            pending: deque[Future[None]] = deque()
            for member in tar:
                name = member.name
                if member.isdir():
                    if name not in allowed_dirs:
                        raise IntegrityError(f"the archive holds a folder {name[:200]!r} the manifest does not list")
                    continue
                entry = files.get(name)
                if not member.isreg() or entry is None or name in seen:
                    raise IntegrityError(f"the archive holds {name[:200]!r}, which the manifest does not list as a file"
                                         + (" (or lists once)" if name in seen else ""))
                if member.size != entry.get("size"):
                    raise IntegrityError(f"{name!r} is {member.size} bytes in the archive, {entry.get('size')} in the "
                                         "manifest")
                seen.add(name)
                if member.size > _SMALL_FILE:
                    _write_checked(tar, member, os.path.join(dest, name), entry, mtime)
                    continue
                src = tar.extractfile(member)
                data = src.read() if src is not None else b""
                _check_sha(name, data, entry)
                pending.append(pool.submit(_write_small, os.path.join(dest, name), data, entry, mtime))
                while len(pending) > _PENDING or (pending and pending[0].done()):
                    pending.popleft().result()
            for future in pending:
                future.result()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise IntegrityError(f"the project archive could not be extracted: {type(exc).__name__}: {exc}") from None
    missing = sorted(set(files) - seen)
    if missing:
        raise IntegrityError(f"the archive lacks {len(missing)} file(s) of the manifest, e.g. {missing[0]!r}")


def _check_sha(name: str, data: bytes, entry: dict[str, Any]) -> None:
    got = hashlib.sha256(data).hexdigest()
    if got != entry.get("sha256"):
        raise IntegrityError(f"{name!r} has sha256 {got}, the manifest says {entry.get('sha256')} (a corrupted object)")


def _create(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def _finish(fd: int, path: str, entry: dict[str, Any], mtime: float | None) -> None:
    os.fchmod(fd, EXEC_MODE if entry.get("executable") else FILE_MODE)
    if isinstance(mtime, (int, float)) and 0 <= mtime < 2**33:
        os.utime(fd, (mtime, mtime))


def _write_small(path: str, data: bytes, entry: dict[str, Any], mtime: float | None) -> None:
    fd = _create(path)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        _finish(fd, path, entry, mtime)
    finally:
        os.close(fd)


def _write_checked(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str, entry: dict[str, Any],
                   mtime: float | None) -> None:
    """A large file, streamed: hashed while written, refused after if its digest differs."""
    src = tar.extractfile(member)
    assert src is not None
    digest = hashlib.sha256()
    with os.fdopen(_create(path), "wb") as out:
        for block in iter(lambda: src.read(_CHUNK), b""):
            digest.update(block)
            out.write(block)
        out.flush()
        _finish(out.fileno(), path, entry, mtime)
    if digest.hexdigest() != entry.get("sha256"):
        raise IntegrityError(f"{member.name!r} has sha256 {digest.hexdigest()}, the manifest says {entry.get('sha256')} "
                             "(a corrupted object)")

