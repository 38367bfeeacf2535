"""Deterministic, atomic ZIP and TAR.GZ archives."""

from __future__ import annotations

import os
import tarfile
import time
import zipfile

import pytest

from airflow_provider_hisham.export.archive import archive_target, write_archive
from airflow_provider_hisham.export.errors import ArchivePathError, ExportError
from airflow_provider_hisham.export.git import commit_tree
from tests.servers.repo_fixtures import write_project


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_same_bytes_twice_git_excluded_modes_normalised(tmp_path, fmt):
    src = write_project(tmp_path / "proj", 7)
    commit_tree(src)  # keeps its repository outside the folder: nothing of git reaches the archive
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


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_links_inside_the_folder_are_kept_as_links(tmp_path, fmt):
    src = write_project(tmp_path / "proj", 1)
    (src / "docs").mkdir()
    (src / "docs" / "readme").symlink_to("../README.md")
    path = write_archive(src, tmp_path / f"p.{fmt}", fmt)
    if fmt == "zip":
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("docs/readme")
            assert info.external_attr >> 16 & 0o170000 == 0o120000 and zf.read(info) == b"../README.md"
    else:
        with tarfile.open(path) as tf:
            member = tf.getmember("docs/readme")
            assert member.issym() and member.linkname == "../README.md"


def test_zip64_records_for_files_past_the_limit(tmp_path, monkeypatch):
    """zipfile writes ZIP64 records when a file's size passes ZIP64_LIMIT (2 GiB); forced lower here."""
    src = tmp_path / "proj"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(4096))
    (src / "small.txt").write_text("x")
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 2048)
    path = write_archive(src, tmp_path / "big.zip", "zip")
    raw = path.read_bytes()
    assert b"PK\x06\x06" in raw  # the ZIP64 end of central directory record
    monkeypatch.undo()
    with zipfile.ZipFile(path) as zf:
        assert zf.read("big.bin") == (src / "big.bin").read_bytes() and zf.testzip() is None


def test_archive_target_confined_to_its_root(tmp_path):
    root = tmp_path / "exports"
    assert archive_target(root, None, "bundle", "zip") == root.resolve() / "bundle.zip"
    assert archive_target(root, "2026/01", "b", "tar.gz") == root.resolve() / "2026" / "01" / "b.tar.gz"
    assert archive_target(root, str(root / "sub"), "b", "zip") == root.resolve() / "sub" / "b.zip"
    for folder in ("..", "../elsewhere", "/etc", str(tmp_path)):
        with pytest.raises(ArchivePathError, match="^archive_dir .* is outside the archive root"):
            archive_target(root, folder, "b", "zip")
    for name in ("../../escaped", "/etc/passwd", "a/b", ".hidden", "..", "x\x00y"):
        with pytest.raises(ArchivePathError, match="^repository_name cannot name an archive"):
            archive_target(root, None, name, "zip")
    root.mkdir()
    (root / "link.zip").symlink_to(tmp_path / "victim")
    with pytest.raises(ArchivePathError, match="symbolic link"):
        archive_target(root, None, "link", "zip")


def test_retry_after_a_killed_write_leaves_one_archive(tmp_path):
    src = write_project(tmp_path / "proj", 2)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".bundle.zip.partial").write_bytes(b"half of an archive from a killed try")
    (out / "other.zip").write_bytes(b"another project's archive")
    path = write_archive(src, out / "bundle.zip", "zip")
    assert sorted(os.listdir(out)) == ["bundle.zip", "other.zip"]
    assert (out / "other.zip").read_bytes() == b"another project's archive"
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None and "README.md" in zf.namelist()


def test_two_writers_of_one_archive_do_not_mix(tmp_path):
    import fcntl

    src = write_project(tmp_path / "proj", 1)
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".bundle.zip.partial", "wb") as busy:
        fcntl.flock(busy, fcntl.LOCK_EX)
        with pytest.raises(ExportError, match="is being written by another task"):
            write_archive(src, out / "bundle.zip", "zip")
    assert not (out / "bundle.zip").exists()
