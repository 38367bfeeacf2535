"""Lock, temporary trees and manifest live in ``.hisham/<project_id>/``: no project can reach another's,
and a project's tree and manifest change together or not at all (failures injected at each step)."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from pathlib import Path

import pytest

from airflow_provider_hisham.generation import GenerationError, ProjectGenerator, RenderError, UnsafePathError
from airflow_provider_hisham.generation import atomic
from tests.generation.helpers import snapshot

# ids that broke each other when temp/lock/manifest names were derived from the id beside the tree
ADVERSARIAL_IDS = ["a", "a.tmp-b", "a.old-z", "a.lock", "a.manifest.json", "x", "x.manifest.json",
                   "hisham", "lock", "manifest.json", "tmp-a", "old-a", "a.hishamos.json"]


def _tree_matches_manifest(root: Path, project_id: str) -> dict:
    manifest = json.loads((root / ".hisham" / project_id / "manifest.json").read_text())
    on_disk = {
        str(p.relative_to(root / project_id)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (root / project_id).rglob("*") if p.is_file()
    }
    assert on_disk == {f["path"]: f["sha256"] for f in manifest["files"]}, project_id
    assert manifest["project_id"] == project_id
    return manifest


def _structure(project_id: str, round_no: int) -> dict:
    return {"id.txt": f"{project_id} {round_no}", "d": {f"f{i}.txt": f"{project_id}/{i}/{round_no}" for i in range(20)}}


def _generate(root: str, project_id: str, round_no: int) -> None:
    ProjectGenerator(root, workers=1).generate(project_id, structure=_structure(project_id, round_no))


def test_adversarial_ids_in_concurrent_rounds_never_touch_each_other(tmp_path):
    root = tmp_path / "root"
    ctx = multiprocessing.get_context("fork")
    for round_no in range(32):
        procs = [ctx.Process(target=_generate, args=(str(root), pid, round_no)) for pid in ADVERSARIAL_IDS for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * len(procs), f"round {round_no}"
        assert sorted(os.listdir(root)) == sorted([".hisham", *ADVERSARIAL_IDS])
        for pid in ADVERSARIAL_IDS:
            assert (root / pid / "id.txt").read_text() == f"{pid} {round_no}"
            _tree_matches_manifest(root, pid)
            assert sorted(os.listdir(root / ".hisham" / pid)) == ["lock", "manifest.json"], pid


@pytest.fixture
def previous(tmp_path):
    root = tmp_path / "root"
    ProjectGenerator(str(root)).generate("p", structure={"keep.txt": "generation 1"})
    return root, snapshot(root / "p"), (root / ".hisham" / "p" / "manifest.json").read_bytes()


def _assert_unchanged(root: Path, tree: dict, manifest: bytes) -> None:
    assert snapshot(root / "p") == tree
    assert (root / ".hisham" / "p" / "manifest.json").read_bytes() == manifest
    assert sorted(os.listdir(root / ".hisham" / "p")) == ["lock", "manifest.json"]
    assert sorted(os.listdir(root)) == [".hisham", "p"]


def test_disk_full_while_writing_the_manifest_changes_nothing(previous, monkeypatch):
    root, tree, manifest = previous
    real = atomic.write_file_atomic

    def full(path, data, mode=0o640):
        real(path, data[: len(data) // 2], mode)  # part written, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic, "write_file_atomic", full)
    with pytest.raises(OSError, match="No space"):
        ProjectGenerator(str(root)).generate("p", structure={"new.txt": "generation 2"})
    _assert_unchanged(root, tree, manifest)


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_failing_manifest_rename_undoes_the_swap(previous, monkeypatch, exchange):
    root, tree, manifest = previous
    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    real_replace = os.replace

    def failing(src, dst):
        if str(dst).endswith("manifest.json"):
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", failing)
    with pytest.raises(OSError, match="Input/output"):
        ProjectGenerator(str(root)).generate("p", structure={"new.txt": "generation 2"})
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    _assert_unchanged(root, tree, manifest)


def test_failing_swap_changes_nothing(previous, monkeypatch):
    root, tree, manifest = previous

    def broken(a, b):
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(atomic, "_exchange", broken)
    with pytest.raises(OSError, match="Permission denied"):
        ProjectGenerator(str(root)).generate("p", structure={"new.txt": "generation 2"})
    _assert_unchanged(root, tree, manifest)


def _crash_between_swap_and_manifest(root: str) -> None:
    real_replace = os.replace

    def crash(src, dst):
        if str(dst).endswith("manifest.json") and ".next" in str(src):
            os._exit(3)  # killed right after the tree was swapped in
        return real_replace(src, dst)

    atomic.os.replace = crash
    ProjectGenerator(root).generate("p", structure={"new.txt": "generation 2"})


def test_crash_between_swap_and_manifest_is_finished_by_the_next_run(previous):
    root, tree, manifest = previous
    proc = multiprocessing.get_context("fork").Process(target=_crash_between_swap_and_manifest, args=(str(root),))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 3
    assert snapshot(root / "p") == {"new.txt": b"generation 2"}  # the swap happened...
    assert (root / ".hisham" / "p" / "manifest.json").read_bytes() == manifest  # ...the rename did not
    # the next generation (even one that fails) repairs it under the lock before anything else
    with pytest.raises(RenderError):
        ProjectGenerator(str(root)).generate("p", structure={"bad.txt": "{{ nope }}"}, render_structure=True)
    assert _tree_matches_manifest(root, "p")["files"][0]["path"] == "new.txt"
    assert sorted(os.listdir(root / ".hisham" / "p")) == ["lock", "manifest.json"]


def test_crash_between_the_two_fallback_renames_puts_the_previous_tree_back(previous):
    root, tree, manifest = previous
    os.rename(root / "p", root / ".hisham" / "p" / "old-x1")  # the first of the two renames only
    with pytest.raises(RenderError):
        ProjectGenerator(str(root)).generate("p", structure={"bad.txt": "{{ nope }}"}, render_structure=True)
    _assert_unchanged(root, tree, manifest)


def test_symlinked_state_folder_is_refused(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / ".hisham")
    with pytest.raises(UnsafePathError, match=r"\.hisham"):
        ProjectGenerator(str(root)).generate("p", structure={"a.txt": "x"})
    assert list(outside.iterdir()) == [] and not (root / "p").exists()


def test_state_folder_that_is_a_file_is_refused(tmp_path):
    root = tmp_path / "root"
    (root / ".hisham").mkdir(parents=True)
    (root / ".hisham" / "p").write_text("not a folder")
    with pytest.raises(GenerationError, match="not a folder"):
        ProjectGenerator(str(root)).generate("p", structure={"a.txt": "x"})
