"""The one atomic file write: whole or not at all, private until complete, one writer per file."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import stat

import pytest

from airflow_provider_hisham import atomic_write
from airflow_provider_hisham.atomic_write import SymlinkTargetError, WriteInProgressError, write_file_atomic


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_bytes_replace_the_file_with_the_given_mode_and_leave_nothing_beside(tmp_path):
    target = tmp_path / "f.json"
    target.write_bytes(b"old")
    write_file_atomic(target, b"new content", 0o600)
    assert target.read_bytes() == b"new content" and _mode(target) == 0o600
    write_file_atomic(str(target), b"again")  # a str path too; the default mode
    assert target.read_bytes() == b"again" and _mode(target) == 0o640
    assert os.listdir(tmp_path) == ["f.json"]


def test_a_failing_writer_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "a.zip"
    target.write_bytes(b"previous archive")

    def half_then_disk_full(out) -> None:
        out.write(b"half of it")
        raise OSError(28, "No space left on device")

    for exclusive in (False, True):
        with pytest.raises(OSError, match="No space"):
            write_file_atomic(target, half_then_disk_full, exclusive=exclusive)
        assert target.read_bytes() == b"previous archive"
        assert os.listdir(tmp_path) == ["a.zip"]


def test_the_temporary_file_is_private_until_it_is_complete(tmp_path):
    seen = []

    def writer(out) -> None:
        out.write(b"x")
        seen.append(_mode(tmp_path / ".pub.partial"))

    write_file_atomic(tmp_path / "pub", writer, 0o644, exclusive=True)
    assert seen == [0o600] and _mode(tmp_path / "pub") == 0o644


def test_a_symbolic_link_is_refused_not_followed_or_replaced(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    (tmp_path / "link").symlink_to(victim)
    with pytest.raises(SymlinkTargetError, match="symbolic link"):
        write_file_atomic(tmp_path / "link", b"evil")
    assert victim.read_bytes() == b"keep" and (tmp_path / "link").is_symlink()


def test_fsync_is_asked_for_only_when_wanted(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(atomic_write.os, "fsync", lambda fd: synced.append(fd))
    write_file_atomic(tmp_path / "a", b"1")
    assert synced == []
    write_file_atomic(tmp_path / "b", b"2", fsync=True)
    assert len(synced) == 1


def test_exclusive_reuses_a_killed_writers_partial_file(tmp_path):
    (tmp_path / ".out.tar.gz.partial").write_bytes(b"a much longer half of an archive from a killed try")
    write_file_atomic(tmp_path / "out.tar.gz", lambda out: out.write(b"whole"), exclusive=True)
    assert (tmp_path / "out.tar.gz").read_bytes() == b"whole"
    assert os.listdir(tmp_path) == ["out.tar.gz"]


def test_exclusive_fails_at_once_while_another_process_writes(tmp_path):
    target = tmp_path / "out.zip"
    with open(tmp_path / ".out.zip.partial", "wb") as busy:
        fcntl.flock(busy, fcntl.LOCK_EX)
        with pytest.raises(WriteInProgressError, match="being written by another process"):
            write_file_atomic(target, b"second writer", exclusive=True)
    assert not target.exists()


def test_exclusive_never_empties_a_file_the_previous_writer_just_renamed_in(tmp_path, monkeypatch):
    """Between our open and our lock the previous writer renamed the same inode into place: it must
    not be truncated and written as if it were still the temporary file."""
    target, partial = tmp_path / "out.zip", tmp_path / ".out.zip.partial"
    partial.write_bytes(b"the previous writer's finished archive")
    real = fcntl.flock
    calls = []

    def previous_writer_finishes_first(fd, op):
        if not calls:
            os.replace(partial, target)
        calls.append(op)
        return real(fd, op)

    monkeypatch.setattr(atomic_write.fcntl, "flock", previous_writer_finishes_first)
    inode = os.stat(partial).st_ino
    write_file_atomic(target, b"ours", exclusive=True)
    assert len(calls) == 2  # the name was opened afresh
    assert target.read_bytes() == b"ours" and os.stat(target).st_ino != inode


def _killed_while_writing(path: str) -> None:
    def writer(out) -> None:
        out.write(b"half")
        out.flush()
        os._exit(9)

    write_file_atomic(path, writer, exclusive=True)


def test_a_killed_writer_leaves_the_old_file_and_the_retry_finishes(tmp_path):
    target = tmp_path / "out.zip"
    target.write_bytes(b"old")
    proc = multiprocessing.get_context("fork").Process(target=_killed_while_writing, args=(str(target),))
    proc.start()
    proc.join(30)
    assert proc.exitcode == 9
    assert target.read_bytes() == b"old" and (tmp_path / ".out.zip.partial").read_bytes() == b"half"
    write_file_atomic(target, b"new", exclusive=True)
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == ["out.zip"]
