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


def test_dagbag_loads_valid_configs_and_files_each_invalid_one_as_its_own_import_error(dag_folder):
    bag = parse(dag_folder)
    assert sorted(bag.dag_ids) == ["wf_good_json", "wf_good_yaml"]
    assert sorted(bag.import_errors) == ["workflows/bad_type.yaml", "workflows/nested/bad_ref.yml"]
    assert (
        "workflows/bad_type.yaml:6: step 'second': field 'steps[1].type': unknown step type 'mail'; "
        "known step types: agent, api_call, approval, combine_projects, echo, file_generation, pull_request, repo_creation"
    ) in bag.import_errors["workflows/bad_type.yaml"]
    assert (
        "workflows/nested/bad_ref.yml:6: step 'first': field 'steps[0].config.value': refers to step 'later', "
        "which does not run before this step"
    ) in bag.import_errors["workflows/nested/bad_ref.yml"]
    assert "loaded by hisham_workflows.py" in bag.import_errors["workflows/bad_type.yaml"]


def test_loader_in_a_subfolder_keys_errors_relative_to_the_bundle(dag_folder, tmp_path):
    sub = dag_folder / "team_a"
    sub.mkdir()
    shutil.move(str(dag_folder / "hisham_workflows.py"), sub / "hisham_workflows.py")
    shutil.move(str(dag_folder / "workflows"), sub / "workflows")
    bag = parse(dag_folder)
    assert sorted(bag.import_errors) == ["team_a/workflows/bad_type.yaml", "team_a/workflows/nested/bad_ref.yml"]
    assert sorted(bag.dag_ids) == ["wf_good_json", "wf_good_yaml"]


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
    assert dag.task_dict["b"].value == "{{ (ti.xcom_pull(task_ids='a')['value']) | hisham_keep_type }}"  # run time


def test_import_errors_reach_the_metadata_db_and_valid_dags_stay_schedulable(dag_folder):
    """What the dag processor stores: one import error per invalid config (the UI lists them),
    while the loader's valid DAGs are neither stale nor flagged with import errors."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db
    from airflow.models.dag import DagModel
    from airflow.models.errors import ParseImportError
    from airflow.utils.session import create_session
    from sqlalchemy import select

    DagBundlesManager().sync_bundles_to_db()
    bag = parse(dag_folder)
    sync_bag_to_db(bag, "generated", None)  # a bundle the test Airflow knows
    with create_session() as session:
        rows = {
            r.filename: r.stacktrace
            for r in session.scalars(select(ParseImportError).where(ParseImportError.bundle_name == "generated"))
        }
        assert "workflows/bad_type.yaml:6: step 'second'" in rows["workflows/bad_type.yaml"]
        assert "refers to step 'later'" in rows["workflows/nested/bad_ref.yml"]
        assert "hisham_workflows.py" not in rows
        for dag_id in ("wf_good_yaml", "wf_good_json"):
            model = session.scalar(select(DagModel).where(DagModel.dag_id == dag_id))
            assert model.has_import_errors is False and model.is_stale is False, dag_id
            assert model.relative_fileloc == "hisham_workflows.py"


def test_fixing_the_configs_clears_the_import_error(dag_folder):
    (dag_folder / "workflows" / "bad_type.yaml").unlink()
    shutil.rmtree(dag_folder / "workflows" / "nested")
    bag = parse(dag_folder)
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["wf_good_json", "wf_good_yaml"]


def test_duplicate_dag_ids_across_configs_are_an_error(dag_folder):
    (dag_folder / "workflows" / "z_copy.json").write_text(GOOD_JSON)
    bag = parse(dag_folder)
    assert "workflows/z_copy.json: field 'dag_id': dag_id 'wf_good_json' is already used by workflows/good.json" in bag.import_errors["workflows/z_copy.json"]
    assert "wf_good_json" in bag.dag_ids


def test_load_dags_outside_a_dagbag_returns_errors_and_warns(dag_folder):
    from airflow_provider_hisham.workflow.import_errors import WorkflowConfigWarning

    register()
    namespace = {"__file__": str(dag_folder / "hisham_workflows.py")}
    with pytest.warns(WorkflowConfigWarning, match="unknown step type 'mail'"):
        result = load_dags(dag_folder / "workflows", namespace)
    assert sorted(result.dags) == ["wf_good_json", "wf_good_yaml"]
    assert sorted(result.errors) == ["workflows/bad_type.yaml", "workflows/nested/bad_ref.yml"]
    assert namespace["hisham_workflow__wf_good_yaml"] is result.dags["wf_good_yaml"]


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


def test_the_dag_processor_parse_reports_per_config_errors_and_serializes_valid_dags(dag_folder):
    """The function a dag-processor child runs for one file: its result goes to the manager."""
    import logging

    from airflow.dag_processing.processor import DagFileParseRequest, _parse_file

    request = DagFileParseRequest(file=str(dag_folder / "hisham_workflows.py"), bundle_path=dag_folder, bundle_name="generated")
    result = _parse_file(request, logging.getLogger("test"))
    assert sorted(d.dag_id for d in result.serialized_dags) == ["wf_good_json", "wf_good_yaml"]
    assert sorted(result.import_errors) == ["workflows/bad_type.yaml", "workflows/nested/bad_ref.yml"]


# -- the frame walk behind per-config import errors is gated on the tested Airflow series ----------
def test_the_installed_airflow_is_a_tested_series():
    from airflow_provider_hisham.workflow import import_errors

    assert import_errors.airflow_series() in import_errors.TESTED_AIRFLOW


@pytest.mark.parametrize("series, why", [
    ((3, 4), "only done on Airflow 3.3.x (installed: 3.4)"),
    (None, "only done on Airflow 3.3.x (installed: not found)"),
])
def test_an_untested_airflow_gets_warnings_and_a_logged_reason(dag_folder, monkeypatch, caplog, series, why):
    from airflow_provider_hisham.workflow import import_errors

    monkeypatch.setattr(import_errors, "airflow_series", lambda: series)
    caplog.set_level("ERROR", logger=import_errors.__name__)
    bag = parse(dag_folder)
    assert sorted(bag.dag_ids) == ["wf_good_json", "wf_good_yaml"]  # valid DAGs still load
    assert bag.import_errors == {}  # nothing filed through internals that were not tested
    warned = " ".join(w for ws in bag.captured_warnings.values() for w in ws)
    assert "unknown step type 'mail'" in warned and "refers to step 'later'" in warned
    assert "2 invalid workflow config(s) loaded by" in caplog.text and why in caplog.text


def test_a_dagbag_without_the_expected_importer_result_is_logged(dag_folder, monkeypatch, caplog):
    from airflow_provider_hisham.workflow import import_errors

    monkeypatch.setattr(import_errors, "_same_file", lambda reported, loader: False)
    caplog.set_level("ERROR", logger=import_errors.__name__)
    bag = parse(dag_folder)
    assert bag.import_errors == {} and sorted(bag.dag_ids) == ["wf_good_json", "wf_good_yaml"]
    assert "a DagBag is parsing, but its importer result is not where Airflow 3.3 keeps it" in caplog.text
