"""Deterministic, atomic ZIP and TAR.GZ archives."""

from __future__ import annotations

import os
import tarfile
import time
import zipfile

import pytest

from airflow_provider_hisham.export.archive import write_archive
from airflow_provider_hisham.export.errors import ExportError
from airflow_provider_hisham.export.git import commit_tree
from tests.servers.repo_fixtures import write_project


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_same_bytes_twice_git_excluded_modes_normalised(tmp_path, fmt):
    src = write_project(tmp_path / "proj", 7)
    commit_tree(src)  # creates .git, which must stay out of the archive
    first = write_archive(src, tmp_path / "out" / f"proj.{fmt}", fmt).read_bytes()
    for path in src.rglob("*"):  # new timestamps and a different umask must not matter
        os.utime(path, (time.time() + 100, time.time() + 100))
    (src / "README.md").chmod(0o600)
    second_path = write_archive(src, tmp_path / "out" / f"proj.{fmt}", fmt)
    assert second_path.read_bytes() == first
    assert sorted(os.listdir(tmp_path / "out")) == [f"proj.{fmt}"]  # replaced, no temp files left
    if fmt == "zip":
        with zipfile.ZipFile(second_path) as zf:
            names = zf.namelist()
            modes = {i.filename: i.external_attr >> 16 & 0o777 for i in zf.infolist()}
            assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    else:
        with tarfile.open(second_path) as tf:
            names = [m.name + ("/" if m.isdir() else "") for m in tf.getmembers()]
            modes = {m.name + ("/" if m.isdir() else ""): m.mode for m in tf.getmembers()}
            assert {(m.mtime, m.uid, m.gid, m.uname) for m in tf.getmembers()} == {(315532800, 0, 0, "")}
    assert not any(n.startswith(".git") for n in names)
    expected = ["README.md", "run.sh"]
    for k in range(3):
        expected += [f"pkg{k}/"] + sorted(f"pkg{k}/module_{i}.py" for i in range(7) if i % 3 == k)
    assert names == expected  # sorted, folder by folder
    assert "README.md" in names and "pkg0/module_0.py" in names
    assert modes["README.md"] == 0o644 and modes["run.sh"] == 0o755 and modes["pkg0/"] == 0o755


def test_bad_format_and_archive_inside_source(tmp_path):
    src = write_project(tmp_path / "proj", 1)
    with pytest.raises(ExportError, match="archive format 'rar'"):
        write_archive(src, tmp_path / "x.rar", "rar")
    with pytest.raises(ExportError, match="lies inside source_dir"):
        write_archive(src, src / "self.zip", "zip")


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    src = write_project(tmp_path / "proj", 2)
    out = tmp_path / "out"
    import airflow_provider_hisham.export.archive as archive

    def boom(root, fileobj):
        fileobj.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(archive, "_write_zip", boom)
    with pytest.raises(OSError, match="disk full"):
        write_archive(src, out / "proj.zip", "zip")
    assert list(out.iterdir()) == []
