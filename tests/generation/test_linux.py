"""The Linux-only calls behind their checks: renameat2 exchange, fork only without threads."""

from __future__ import annotations

import ctypes
import json
import errno
import sys
import threading
from pathlib import Path

import pytest

from airflow_provider_hisham.generation import ProjectGenerator, linux, writer


def _two_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("from a")
    (b / "y").write_text("from b")
    return a, b


@pytest.mark.skipif(sys.platform != "linux", reason="renameat2 is Linux's")
def test_exchange_swaps_two_folders(tmp_path):
    a, b = _two_folders(tmp_path)
    assert linux.exchange(str(a), str(b)) is True
    assert (a / "y").read_text() == "from b" and (b / "x").read_text() == "from a"


class _Libc:
    """libc without ``renameat2`` (old glibc), or one whose call fails with ``err``."""

    def __init__(self, err=None):
        if err is not None:
            self.renameat2 = lambda *args: (ctypes.set_errno(err), -1)[1]


@pytest.mark.parametrize("libc", [_Libc(), _Libc(errno.EINVAL), _Libc(errno.ENOSYS), _Libc(errno.ENOTSUP)],
                         ids=["no-renameat2", "EINVAL", "ENOSYS", "ENOTSUP"])
def test_exchange_says_it_cannot_and_moves_nothing(tmp_path, monkeypatch, libc):
    """The fallback's side: no RENAME_EXCHANGE (old libc or kernel, a file system without it)."""
    monkeypatch.setattr(linux.sys, "platform", "linux")
    monkeypatch.setattr(linux, "_c", lambda: libc)
    a, b = _two_folders(tmp_path)
    assert linux.exchange(str(a), str(b)) is False
    assert (a / "x").read_text() == "from a" and (b / "y").read_text() == "from b"


def test_exchange_raises_for_a_real_failure(tmp_path):
    with pytest.raises(OSError):
        linux.exchange(str(tmp_path / "missing"), str(tmp_path))


def test_nothing_linux_only_runs_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setattr(linux.sys, "platform", "darwin")
    assert linux.exchange(str(tmp_path), str(tmp_path)) is False
    assert "only done on Linux (this is darwin)" in linux.fork_refusal()
    linux.die_with_parent()  # a no-op, not an AttributeError


def test_fork_is_refused_while_another_thread_runs():
    assert (linux.fork_refusal() is None) is (threading.active_count() == 1)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert "other thread(s) are running" in linux.fork_refusal()
    finally:
        stop.set()
        thread.join()


def test_a_large_plan_is_written_on_one_process_while_threads_run(tmp_path, monkeypatch, caplog):
    def no_fork():
        raise AssertionError("forked while another thread was running")

    monkeypatch.setattr(writer.os, "fork", no_fork)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    caplog.set_level("INFO", logger=writer.__name__)
    try:
        structure = {f"d{i % 5}/f{i:04d}.txt": f"file {i}" for i in range(writer.PARALLEL_MIN_FILES + 10)}
        result = ProjectGenerator(str(tmp_path / "out"), workers=2).generate("p", structure=structure)
    finally:
        stop.set()
        thread.join()
    assert result.summary["total_files"] == len(structure)
    assert "on one process: " in caplog.text and "other thread(s) are running" in caplog.text


def test_two_processes_write_the_same_tree_and_manifest_as_one(tmp_path, monkeypatch):
    """The forked worker's half (rows back through the pipe) merges into exactly the one-process result."""
    forks = []
    real_fork = writer.os.fork
    monkeypatch.setattr(writer.os, "fork", lambda: forks.append(1) or real_fork())
    # a thread an earlier test left running would make the writer refuse to fork (tested above)
    monkeypatch.setattr(writer, "fork_refusal", lambda: None)
    n = writer.PARALLEL_MIN_FILES * 2 + 3
    structure = {f"d{i // 37:02d}/f{i:04d}.txt": f"file {i}\n" * (i % 4) for i in range(n)}
    structure.update({"bin/blob.dat": bytes(range(256)), "empty/": {}, "z/last.txt": "last"})
    results = [ProjectGenerator(str(tmp_path / f"out{w}"), workers=w).generate("p", structure=structure) for w in (1, 2)]
    assert forks == [1]
    one, two = (Path(r.manifest_path).read_bytes() for r in results)
    assert one == two and json.loads(one)["totals"]["files"] == n + 2
    assert all((Path(results[1].output_dir) / f["path"]).stat().st_size == f["size"] for f in json.loads(two)["files"])


@pytest.mark.parametrize("workers", [1, 2])
def test_folders_are_made_whichever_process_needs_them(tmp_path, workers):
    """Folders above only the worker's files, above both halves, and empty ones (declared deep
    below an undeclared parent) all exist, listed once in the manifest."""
    n = writer.PARALLEL_MIN_FILES * 2
    structure = {f"a/{'x' if i < n // 2 else 'y'}/{i // 50}/f{i:04d}.txt": "x" for i in range(n)}
    structure.update({"a/x/empty/": {}, "z/deep/er/": {}, "m/": {}})
    result = ProjectGenerator(str(tmp_path / "out"), workers=workers).generate("p", structure=structure)
    out = Path(result.output_dir)
    dirs = result.manifest["directories"]
    assert dirs == sorted(set(dirs)) and {"a", "a/x", "a/y", "a/x/empty", "z", "z/deep", "z/deep/er", "m"} <= set(dirs)
    assert all((out / d).is_dir() for d in dirs) and len(list(out.rglob("*.txt"))) == n
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_dir()) == dirs
