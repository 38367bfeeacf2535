"""Hostile storage references, manifests and archives, each in a confined child
(tests/security/harness.py): refused with a clear error, nothing written outside the fetch's
temporary folder, bounded memory and time."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from airflow_provider_hisham.generation.limits import Limits
from airflow_provider_hisham.storage import IntegrityError, StorageConfigError
from airflow_provider_hisham.storage.store import Store, extract_verified
from tests.security.harness import assert_refused, files_under, run_confined

DIGEST = "a" * 64
BASE = "s3://bucket/hisham"


def _store() -> Store:
    from fsspec.implementations.local import LocalFileSystem

    return Store.remote(LocalFileSystem(), "/nonexistent-hisham-base", BASE)


@pytest.mark.parametrize("url", [
    "s3://elsewhere/projects/demo/{d}", "{base}/projects/../x/{d}", "{base}/projects/demo/{d}/extra",
    "{base}/projects/.hisham/{d}", "{base}/projects/demo/" + "0" * 64,
    "{base}/projects/" + "x" * 5000 + "/{d}", "{base}/projects/demo\x00/{d}", None, 42,
])
def test_hostile_references_are_refused(url):
    text = url.format(base=BASE, d=DIGEST) if isinstance(url, str) else url
    assert_refused(run_confined(lambda: _store().parse_ref(text, DIGEST)), StorageConfigError)


@pytest.mark.parametrize("digest", ["not-a-digest", "A" * 64, "a" * 63, None, "a" * 64 + "\n"])
def test_hostile_digests_are_refused(digest):
    assert_refused(run_confined(lambda: _store().parse_ref(f"{BASE}/projects/demo/{DIGEST}", digest)),
                   StorageConfigError, "64 lowercase hex")


def _tar(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> str:
    path = tmp_path / "project.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return str(path)


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _entry(name: str, data: bytes) -> dict:
    return {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "executable": False}


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


CASES = {
    "entry climbs out": ([], [{"path": "../escape.txt", "size": 1, "sha256": "0" * 64}], "unusable entry"),
    "absolute entry": ([], [{"path": "/etc/passwd", "size": 1, "sha256": "0" * 64}], "unusable entry"),
    "git folder entry": ([], [{"path": "a/.git/config", "size": 1, "sha256": "0" * 64}], "unusable entry"),
    "size not a number": ([], [{"path": "x", "size": "many", "sha256": "0"}], "unusable entry"),
    "case collision": ([], [_entry("A.txt", b"1"), _entry("a.txt", b"2")], "unusable entry"),
    "symlink member": ([_link("x", "/etc/passwd")], [_entry("x", b"")], "does not list as a file"),
    "hard link member": ([_link("x", "/etc/passwd", tarfile.LNKTYPE)], [_entry("x", b"")], "does not list as a file"),
    "member not in manifest": ([_file("../../evil", b"x")], [_entry("ok", b"x")], "does not list"),
    "member twice": ([_file("ok", b"x"), _file("ok", b"x")], [_entry("ok", b"x")], "lists once"),
    "size differs": ([_file("ok", b"xx")], [_entry("ok", b"x")], "bytes in the archive"),
    "missing file": ([_file("ok", b"x")], [_entry("ok", b"x"), _entry("gone", b"y")], "lacks 1 file"),
    "manifest over the limits": ([], [{"path": "big", "size": 1 << 40, "sha256": "0" * 64}], "exceeds the limits"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_archives_and_manifests_are_refused(tmp_path, case):
    members, files, match = CASES[case]
    archive = _tar(tmp_path, members)
    dest = tmp_path / "dest"
    dest.mkdir()
    outcome = run_confined(extract_verified, archive, str(dest), {"files": files, "directories": []}, Limits())
    assert_refused(outcome, IntegrityError, match)
    assert all(p.is_relative_to(dest) for p in files_under(tmp_path) - {tmp_path / "project.tar.gz", dest})
    assert not any(p.is_symlink() for p in files_under(dest))


def test_gzip_bomb_is_refused_without_inflating(tmp_path):
    """200 MiB of zeros in a small archive, the manifest claiming 1 byte: refused at the header."""
    path = tmp_path / "project.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("bomb")
        info.size = 200 << 20

        class Zeros(io.RawIOBase):
            left = info.size

            def read(self, n=-1):
                n = min(self.left, 1 << 20 if n is None or n < 0 else n)
                self.left -= n
                return b"\0" * n

        tar.addfile(info, Zeros())
    dest = tmp_path / "dest"
    dest.mkdir()
    outcome = run_confined(extract_verified, str(path), str(dest), {"files": [_entry("bomb", b"x")],
                                                                    "directories": []}, Limits(), memory_mb=128,
                           timeout=10)
    assert_refused(outcome, IntegrityError, "bytes in the archive")
    assert files_under(dest) == set()
    assert json.dumps(outcome.message)  # the message is plain text
