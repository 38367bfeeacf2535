"""Workflow configs can hand a generated project to ``repo_creation`` through storage (by reference)."""

from __future__ import annotations

import textwrap

import pytest

from airflow_provider_hisham.workflow.errors import WorkflowConfigError
from airflow_provider_hisham.workflow.plan import compile_workflow
from airflow_provider_hisham.workflow.registry import StepTypeRegistry
from airflow_provider_hisham.workflow.source import parse_text

HANDOFF = """\
dag_id: handoff
steps:
  - {id: generate, type: file_generation, config: {project_id: demo}}
  - id: export
    type: repo_creation
    config:
      source_dir: "{{ steps.generate.output.output_dir }}"
      target: zip
      source_storage_url: "{{ steps.generate.output.storage_url }}"
      source_manifest_sha256: "{{ steps.generate.output.manifest_sha256 }}"
"""


def _compile(text: str):
    return compile_workflow(parse_text(textwrap.dedent(text), "wf.yaml"), StepTypeRegistry())


def test_repo_creation_steps_accept_the_storage_reference():
    plan = _compile(HANDOFF)
    assert plan.tasks["export"].upstream == ["generate"]


def test_a_non_string_storage_reference_is_refused_naming_the_field():
    with pytest.raises(WorkflowConfigError) as info:
        _compile(HANDOFF.replace('"{{ steps.generate.output.storage_url }}"', "[1, 2]"))
    assert "source_storage_url" in str(info.value)
