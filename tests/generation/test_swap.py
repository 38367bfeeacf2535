"""The one folder swap (``generation/atomic.py``): ``swap_in`` puts a new tree in place and says
where the previous one went; ``swap_back`` undoes it. Both with renameat2 and with two renames."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airflow_provider_hisham.generation import atomic
from airflow_provider_hisham.generation.atomic import swap_back, swap_in


@pytest.fixture(params=[True, False], ids=["renameat2", "two-renames"])
def trees(request, tmp_path, monkeypatch):
    if not request.param:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    (tmp_path / "aside").mkdir()
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "v").write_text("2")
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "v").write_text("1")
    return tmp_path


def test_swap_in_puts_the_new_tree_in_place_and_returns_the_previous_one(trees):
    old = swap_in(str(trees / "new"), str(trees / "target"), str(trees / "aside"), "old-")
    assert (trees / "target" / "v").read_text() == "2"
    assert (Path(old) / "v").read_text() == "1"
    if old != str(trees / "new"):  # two renames: the previous tree waits in the aside folder
        assert Path(old).parent == trees / "aside" and Path(old).name.startswith("old-")
        assert not (trees / "new").exists()


def test_swap_back_restores_both_trees(trees):
    old = swap_in(str(trees / "new"), str(trees / "target"), str(trees / "aside"), "old-")
    swap_back(str(trees / "new"), str(trees / "target"), old)
    assert (trees / "target" / "v").read_text() == "1" and (trees / "new" / "v").read_text() == "2"
    assert os.listdir(trees / "aside") == []


def test_swap_in_without_a_previous_tree_is_one_rename(trees):
    (trees / "target" / "v").unlink()
    (trees / "target").rmdir()
    assert swap_in(str(trees / "new"), str(trees / "target"), str(trees / "aside"), "old-") is None
    assert (trees / "target" / "v").read_text() == "2" and not (trees / "new").exists()
    swap_back(str(trees / "new"), str(trees / "target"), None)
    assert not (trees / "target").exists() and (trees / "new" / "v").read_text() == "2"


def test_a_failing_second_rename_puts_the_previous_tree_back(trees, monkeypatch):
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    real = os.rename

    def refuse_the_new_tree(src, dst):
        if str(src).endswith("new"):
            raise OSError(13, "Permission denied")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "rename", refuse_the_new_tree)
    with pytest.raises(OSError, match="Permission denied"):
        swap_in(str(trees / "new"), str(trees / "target"), str(trees / "aside"), "old-")
    monkeypatch.setattr(atomic.os, "rename", real)
    assert (trees / "target" / "v").read_text() == "1" and (trees / "new" / "v").read_text() == "2"
    assert os.listdir(trees / "aside") == []
