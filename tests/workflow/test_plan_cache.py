"""The validated-plan cache: hits for unchanged configs, never for changed ones or changed types."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_hisham.workflow.dag_builder import load_plan
from airflow_provider_hisham.workflow.plan_cache import PlanCache
from airflow_provider_hisham.workflow.registry import StepType, StepTypeRegistry

CONFIG = """\
dag_id: cached
params: {target: {type: string, default: zip}}
steps:
  - {id: a, type: api_call, config: {action: x}}
  - conditional:
      id: c
      branches: [{when: "params.target == 'zip'", steps: [{id: b, type: api_call}]}]
      join: {id: j, type: api_call}
"""


def test_unchanged_config_is_served_from_the_cache_with_the_same_plan(tmp_path: Path):
    path = tmp_path / "wf.yaml"
    path.write_text(CONFIG)
    reg, cache = StepTypeRegistry(), PlanCache(tmp_path / "cache")
    fresh = load_plan(path, "wf.yaml", reg, cache)
    entries = list((tmp_path / "cache").glob("*.json"))
    assert len(entries) == 1
    cached = cache.load(entries[0].stem, reg)
    assert cached is not None
    assert cached.tasks == fresh.tasks and cached.dag == fresh.dag and cached.params == fresh.params
    assert cached.source.line_of(("steps", 1, "conditional", "join")) == fresh.source.line_of(("steps", 1, "conditional", "join")) == 8


def test_a_changed_config_or_a_changed_step_type_misses(tmp_path: Path):
    path = tmp_path / "wf.yaml"
    path.write_text(CONFIG)
    reg, cache = StepTypeRegistry(), PlanCache(tmp_path / "cache")
    load_plan(path, "wf.yaml", reg, cache)
    key = PlanCache.key(path.read_bytes(), "wf.yaml")
    assert cache.load(key, reg) is not None
    assert PlanCache.key(path.read_bytes() + b"\n", "wf.yaml") != key
    assert PlanCache.key(path.read_bytes(), "other.yaml") != key
    reg.register(StepType("api_call", "somewhere.Else"), replace=True)
    assert cache.load(key, reg) is None


def test_an_unwritable_cache_does_not_break_loading(tmp_path: Path):
    path = tmp_path / "wf.yaml"
    path.write_text(CONFIG)
    blocker = tmp_path / "cache"
    blocker.write_text("a file, not a directory")
    plan = load_plan(path, "wf.yaml", StepTypeRegistry(), PlanCache(blocker))
    assert "j" in plan.tasks


def test_a_cached_plan_keeps_the_text_and_reads_its_lines_again_only_for_an_error(tmp_path: Path):
    import json

    path = tmp_path / "wf.yaml"
    path.write_text(CONFIG)
    reg, cache = StepTypeRegistry(), PlanCache(tmp_path / "cache")
    load_plan(path, "wf.yaml", reg, cache)
    entry = json.loads(next((tmp_path / "cache").glob("*.json")).read_text())
    assert entry["text"] == CONFIG and "lines" not in entry
    cached = load_plan(path, "wf.yaml", reg, cache)
    assert cached.source.lines is None  # not parsed again while nothing needs a line
    assert cached.source.line_of(("steps", 0, "config", "action")) == 4
    assert cached.source.lines


def test_a_freshly_validated_plan_keeps_only_the_text_too(tmp_path: Path):
    path = tmp_path / "wf.yaml"
    path.write_text(CONFIG)
    plan = load_plan(path, "wf.yaml", StepTypeRegistry(), None)
    assert plan.source.data is None and plan.source.lines is None  # freed for the DAG build
    assert plan.source.line_of(("steps", 1, "conditional", "join")) == 8
