"""combine_projects: merging parallel lanes' generated trees into one project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow.utils.state import DagRunState

from airflow_provider_hisham.generation import Limits, UnsafePathError, atomic
from airflow_provider_hisham.generation.paths import check_project_id
from airflow_provider_hisham.workflow.combine import MANIFEST_NAME, CombineError, combined_project_id, merge_directories
from tests.conftest import run_dag, xcom


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_merge_combines_lanes_and_is_repeatable(tmp_path):
    code = tree(tmp_path / "p-code", {"src/a.py": "a", "README.md": "same"})
    docs = tree(tmp_path / "p-docs", {"docs/x.md": "x", "README.md": "same"})
    target = tmp_path / "p"
    first = merge_directories({"code": code, "docs": docs}, target, root=tmp_path)
    assert first["files"] == ["README.md", "docs/x.md", "src/a.py"] and first["total_bytes"] == 6
    manifest = json.loads((target / MANIFEST_NAME).read_text())
    assert {f["path"]: f["lane"] for f in manifest["files"]}["docs/x.md"] == "docs"
    (target / "stale.txt").write_text("left over from an earlier run")
    again = merge_directories({"code": code, "docs": docs}, target, root=tmp_path)
    assert again["files"] == first["files"] and not (target / "stale.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_replacing_a_combined_project_uses_the_generation_swap_and_leaves_nothing_beside(tmp_path, monkeypatch, exchange):
    swaps = []
    real = atomic.swap_in
    monkeypatch.setattr("airflow_provider_hisham.workflow.combine.swap_in",
                        lambda *args: swaps.append(args) or real(*args))
    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    code = tree(tmp_path / "p-code", {"a.txt": "1"})
    target = tree(tmp_path / "p", {"old.txt": "previous combine"})
    merge_directories({"code": code}, target, root=tmp_path)
    assert sorted(p.name for p in target.iterdir()) == [MANIFEST_NAME, "a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p", "p-code"]
    assert [(Path(a[1]), a[3]) for a in swaps] == [(target, ".p.old-")]


@pytest.mark.parametrize("project_id", ["wfc", "My Project", "proj\u00e9t", "a.b-c_d", "x" * 200])
def test_the_combined_project_id_follows_generations_rule(project_id):
    assert combined_project_id(project_id) == check_project_id(project_id, Limits()) == project_id


@pytest.mark.parametrize("project_id", [".hidden", "a/b", "..", "", "x" * 300, "a\nb", ".git", None, 3])
def test_a_project_id_generation_refuses_is_refused_by_combine_too(project_id):
    with pytest.raises(UnsafePathError):
        check_project_id(project_id, Limits())
    with pytest.raises(CombineError, match="project_id"):
        combined_project_id(project_id)


def test_conflicting_files_and_foreign_folders_fail_before_writing(tmp_path):
    a = tree(tmp_path / "a", {"same.txt": "1"})
    b = tree(tmp_path / "b", {"same.txt": "2"})
    with pytest.raises(CombineError, match="lanes 'a' and 'b' both produce same.txt with different content"):
        merge_directories({"a": a, "b": b}, tmp_path / "out", root=tmp_path)
    assert not (tmp_path / "out").exists()
    with pytest.raises(CombineError, match="is not a generated project under"):
        merge_directories({"etc": Path("/etc")}, tmp_path / "out", root=tmp_path)
    with pytest.raises(CombineError, match="outside"):
        merge_directories({"a": a}, tmp_path.parent / "elsewhere", root=tmp_path)


def test_combine_step_receives_every_lane_result_under_dag_test(airflow_home):
    root = airflow_home / "generated-projects"
    for lane in ("one", "two"):
        tree(root / f"wfc-{lane}", {f"{lane}.txt": lane})
    dr = run_dag(
        """
        from tests.workflow.echo import register
        register()
        from airflow_provider_hisham.workflow import build_dag
        dag = build_dag({
            "dag_id": "wf_combine",
            "steps": [{"parallel": {
                "id": "lanes",
                "steps": [
                    {"id": "one", "type": "echo", "config": {"value": {"output_dir": "%(root)s/wfc-one"}}},
                    {"id": "two", "type": "echo", "config": {"value": {"output_dir": "%(root)s/wfc-two"}}},
                ],
                "combine": {"id": "combine", "type": "combine_projects",
                            "config": {"project_id": "wfc", "sources": "{{ {'one': steps.one.output.value, 'two': steps.two.output.value} }}"}},
            }}],
        })
        """ % {"root": root},
        name="wf_combine",
    )
    assert dr.state == DagRunState.SUCCESS
    summary = xcom(dr, "combine")
    assert summary["output_dir"] == str(root / "wfc") and summary["files"] == ["one.txt", "two.txt"]
    assert (root / "wfc" / "two.txt").read_text() == "two"
