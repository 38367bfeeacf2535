"""combine_projects: merging parallel lanes' generated trees into one project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow.utils.state import DagRunState

from airflow_provider_hisham.workflow.combine import MANIFEST_NAME, CombineError, merge_directories
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
