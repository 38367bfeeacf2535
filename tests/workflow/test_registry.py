"""Step type registry: built-ins, Python registration, entry points, unknown names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_provider_hisham.workflow import StepType, UnknownStepTypeError
from airflow_provider_hisham.workflow.registry import ENTRY_POINT_GROUP, StepTypeRegistry

REPO = Path(__file__).resolve().parents[2]


def test_builtins_map_to_the_provider_operators_by_path():
    reg = StepTypeRegistry()
    assert reg.get("api_call").operator == "airflow_provider_hisham.operators.api_call.HishamOSApiCallOperator"
    assert reg.get("file_generation").operator == "airflow_provider_hisham.operators.file_generation.HishamOSFileGenerationOperator"
    assert reg.get("repo_creation").operator == "airflow_provider_hisham.operators.repo_creation.HishamOSRepoCreationOperator"


def test_unknown_type_lists_the_known_ones():
    with pytest.raises(UnknownStepTypeError, match="unknown step type 'sms'; known step types: agent, api_call, approval, combine_projects, file_generation, pull_request, repo_creation"):
        StepTypeRegistry().get("sms")


def test_register_from_python_and_refuse_silent_redefinition():
    reg = StepTypeRegistry()
    mine = reg.register(StepType("notify", "my.module.NotifyOperator", to_kwargs=lambda c: {"text": c["message"]}))
    assert reg.get("notify") is mine and "notify" in reg.names()
    assert mine.operator_kwargs({"message": "hi"}) == {"text": "hi"}
    with pytest.raises(ValueError, match="already registered"):
        reg.register(StepType("notify", "other.Operator"))
    reg.register(StepType("notify", "other.Operator"), replace=True)
    assert reg.get("notify").operator == "other.Operator"


def test_entry_point_group_adds_step_types(tmp_path):
    """A real installed distribution (dist-info on sys.path) publishing a step type."""
    (tmp_path / "hisham_plugin_demo.py").write_text(
        textwrap.dedent(
            """
            from airflow_provider_hisham.workflow import StepType
            SLACK = StepType("slack_message", "hisham_plugin_demo.SlackOperator", {"type": "object"})
            """
        )
    )
    dist = tmp_path / "hisham_plugin_demo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hisham-plugin-demo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nslack = hisham_plugin_demo:SLACK\n")
    script = "import json; from airflow_provider_hisham.workflow import registry; print(json.dumps([registry.names(), registry.get('slack_message').operator]))"
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{tmp_path}")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    names, operator = json.loads(out.stdout)
    assert names == ["agent", "api_call", "approval", "combine_projects", "file_generation", "pull_request", "repo_creation", "slack_message"]
    assert operator == "hisham_plugin_demo.SlackOperator"
