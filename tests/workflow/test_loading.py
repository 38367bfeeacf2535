"""Loading a folder of configs through one DAG file, parsed by a real DagBag."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from airflow_provider_hisham.workflow import build_dag, load_dags
from airflow_provider_hisham.workflow.errors import WorkflowConfigError
from tests.workflow.echo import register

REPO = Path(__file__).resolve().parents[2]

LOADER = """\
# airflow dag file used by the tests: the shipped loader plus the test-only echo step type
from tests.workflow.echo import register
register()
""" + (REPO / "dags" / "hisham_workflows.py").read_text()

GOOD_YAML = """\
# yaml-language-server: $schema=../../airflow_provider_hisham/workflow/schema/workflow.schema.json
dag_id: wf_good_yaml
description: a good one
tags: [hisham, test]
schedule: "@daily"
default_args: {retries: 2, retry_delay_seconds: 5, execution_timeout_seconds: 60}
params:
  who: {type: string, default: me, description: who runs it}
steps:
  - {id: a, type: echo, config: {value: "{{ params.who }}"}}
  - {id: b, type: echo, config: {value: "{{ steps.a.output.value }}"}}
"""
GOOD_JSON = '{"dag_id": "wf_good_json", "steps": [{"id": "only", "type": "echo"}]}'
BAD_TYPE = """\
dag_id: wf_bad_type
steps:
  - id: first
    type: echo
  - id: second
    type: mail
"""
BAD_REF = """\
dag_id: wf_bad_ref
steps:
  - id: first
    type: echo
    config:
      value: "{{ steps.later.output.x }}"
  - {id: later, type: echo}
"""


@pytest.fixture
def dag_folder(tmp_path: Path) -> Path:
    (tmp_path / "hisham_workflows.py").write_text(LOADER)
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "good.yaml").write_text(GOOD_YAML)
    (workflows / "good.json").write_text(GOOD_JSON)
    (workflows / "bad_type.yaml").write_text(BAD_TYPE)
    (workflows / "nested").mkdir()
    (workflows / "nested" / "bad_ref.yml").write_text(BAD_REF)
    (workflows / "notes.txt").write_text("not a config")
    return tmp_path


def parse(folder: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder), bundle_path=folder, bundle_name="tests-tmp", safe_mode=True)


def test_dagbag_loads_valid_configs_and_reports_invalid_ones_as_an_import_error(dag_folder):
    bag = parse(dag_folder)
    assert sorted(bag.dag_ids) == ["wf_good_json", "wf_good_yaml"]
    assert list(bag.import_errors) == ["hisham_workflows.py"]
    error = bag.import_errors["hisham_workflows.py"]
    assert "2 invalid workflow config(s)" in error
    assert (
        "workflows/bad_type.yaml:6: step 'second': field 'steps[1].type': unknown step type 'mail'; "
        "known step types: api_call, combine_projects, echo, file_generation, repo_creation"
    ) in error
    assert (
        "workflows/nested/bad_ref.yml:6: step 'first': field 'steps[0].config.value': refers to step 'later', "
        "which does not run before this step"
    ) in error


def test_loaded_dag_has_settings_params_and_dependencies(dag_folder):
    import datetime

    from airflow.sdk import Param

    dag = parse(dag_folder).dags["wf_good_yaml"]
    assert dag.description == "a good one" and set(dag.tags) == {"hisham", "test"}
    assert dag.default_args["retries"] == 2
    assert dag.default_args["retry_delay"] == datetime.timedelta(seconds=5)
    assert dag.task_dict["a"].execution_timeout == datetime.timedelta(seconds=60)
    assert dag.task_dict["a"].retries == 2
    param = dag.params.get_param("who")
    assert isinstance(param, Param) and param.value == "me" and param.description == "who runs it"
    assert dag.task_dict["b"].upstream_task_ids == {"a"}
    assert dag.task_dict["b"].value == "{{ ti.xcom_pull(task_ids='a')['value'] }}"  # resolved at run time


def test_import_error_is_recorded_in_the_metadata_db_for_the_ui(dag_folder):
    from airflow.dag_processing.dagbag import sync_bag_to_db
    from airflow.models.errors import ParseImportError
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    bag = parse(dag_folder)
    sync_bag_to_db(bag, "generated", None)  # a bundle the test Airflow knows
    with create_session() as session:
        rows = session.scalars(
            select(ParseImportError).where(ParseImportError.bundle_name == "generated", ParseImportError.filename == "hisham_workflows.py")
        ).all()
        assert [r.filename for r in rows] == ["hisham_workflows.py"]
        assert "workflows/bad_type.yaml:6: step 'second'" in rows[0].stacktrace


def test_fixing_the_configs_clears_the_import_error(dag_folder):
    (dag_folder / "workflows" / "bad_type.yaml").unlink()
    shutil.rmtree(dag_folder / "workflows" / "nested")
    bag = parse(dag_folder)
    assert bag.import_errors == {}
    assert "hisham_invalid_workflow_configs" not in bag.dag_ids


def test_duplicate_dag_ids_across_configs_are_an_error(dag_folder):
    (dag_folder / "workflows" / "z_copy.json").write_text(GOOD_JSON)
    bag = parse(dag_folder)
    assert "workflows/z_copy.json: field 'dag_id': dag_id 'wf_good_json' is already used by workflows/good.json" in bag.import_errors["hisham_workflows.py"]
    assert "wf_good_json" in bag.dag_ids


def test_load_dags_without_namespace_returns_dags_and_errors(dag_folder):
    register()
    result = load_dags(dag_folder / "workflows")
    assert sorted(result.dags) == ["wf_good_json", "wf_good_yaml"]
    assert sorted(result.errors) == ["workflows/bad_type.yaml", "workflows/nested/bad_ref.yml"]


def test_template_in_a_field_the_operator_does_not_template_is_rejected():
    register_plain = {
        "dag_id": "wf_untemplated",
        "steps": [{"id": "a", "type": "echo"}, {"id": "b", "type": "echo", "config": {"note": "{{ steps.a.output.value }}"}}],
    }
    register()
    with pytest.raises(WorkflowConfigError, match=r"step 'b': field 'steps\[1\].config.note': 'note' is not a template field of EchoOperator"):
        build_dag(register_plain)


def test_build_dag_from_a_dict():
    register()
    dag = build_dag({"dag_id": "wf_dict", "steps": [{"id": "a", "type": "echo", "config": {"value": 1}}]})
    assert dag.dag_id == "wf_dict" and dag.task_dict["a"].value == 1
