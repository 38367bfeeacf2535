"""Dry runs of factory-built DAGs: the ``dry_run`` Param in both config formats."""

from __future__ import annotations

import pytest

from airflow_provider_hisham.workflow import build_dag
from airflow_provider_hisham.workflow.errors import WorkflowConfigError
from airflow_provider_hisham.workflow.hishamos_definition import compile_source
from airflow_provider_hisham.workflow.source import parse_text
from tests.workflow.hishamos_stub import stub_registry

ECHO = [{"id": "a", "type": "api_call", "config": {"action": "list_stories"}}]


def test_every_factory_built_dag_has_a_boolean_dry_run_param():
    dag = build_dag({"dag_id": "dr_param", "params": {"who": {"type": "string", "default": "x"}}, "steps": ECHO})
    assert dag.params.dump() == {"who": "x", "dry_run": False}
    assert dag.params.get_param("dry_run").schema["type"] == "boolean"


def test_a_user_declared_boolean_dry_run_is_kept_and_another_meaning_refused():
    dag = build_dag({"dag_id": "dr_own", "params": {"dry_run": {"type": "boolean", "default": True,
                                                                "description": "mine"}}, "steps": ECHO})
    assert dag.params.dump()["dry_run"] is True
    assert dag.params.get_param("dry_run").description == "mine"
    with pytest.raises(WorkflowConfigError, match="param 'dry_run' is the dry-run switch"):
        build_dag({"dag_id": "dr_bad", "params": {"dry_run": {"type": "string", "default": "no"}}, "steps": ECHO})


def test_hishamos_definitions_get_it_too_and_a_reference_to_it_is_boolean():
    from airflow_provider_hisham.workflow.dag_builder import build_dag_from_plan

    text = ("name: Dry Flow\nversion: '1.0'\nsteps:\n  - id: a\n    agent: Coding Agent\n    max_retries: 0\n"
            "    inputs:\n      flag: '{{input.dry_run}}'\n")
    registry = stub_registry()
    plan = compile_source(parse_text(text, "wf.yaml"), registry)
    assert plan.params["dry_run"]["type"] == "boolean"
    dag = build_dag_from_plan(plan, registry)
    assert dag.params.dump()["dry_run"] is False
    plain = compile_source(parse_text(text.replace("{{input.dry_run}}", "x"), "wf2.yaml"), registry)
    assert "dry_run" not in plain.params and build_dag_from_plan(plain, registry).params.dump() == {"dry_run": False}
