"""Pattern semantics under real Airflow (``dag.test()``): order, parallel results, branches."""

from __future__ import annotations

import json

import pytest
from airflow.utils.state import DagRunState, TaskInstanceState

from tests.conftest import run_dag, xcom

HEADER = """
from tests.workflow.echo import register
register()
from airflow_provider_hisham.workflow import build_dag
dag = build_dag({config})
"""


def run_config(config: dict, conf: dict | None = None):
    return run_dag(HEADER.format(config=json.dumps(config).replace("null", "None").replace("true", "True").replace("false", "False")), conf=conf, name=config["dag_id"])


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def echo(step_id: str, value, **extra) -> dict:
    return {"id": step_id, "type": "echo", "config": {"value": value}, **extra}


def test_sequential_steps_run_in_order_and_see_earlier_outputs_and_params():
    dr = run_config(
        {
            "dag_id": "wf_sequential",
            "params": {"who": {"type": "string", "default": "hisham"}},
            "steps": [
                echo("first", "{{ params.who }}"),
                echo("second", "{{ steps.first.output.value }}-2"),
                echo("third", "{{ steps.second.output }}"),
            ],
        }
    )
    assert dr.state == DagRunState.SUCCESS
    first, second, third = (xcom(dr, t) for t in ("first", "second", "third"))
    assert first["value"] == "hisham"
    assert second["value"] == "hisham-2"
    assert third["value"] == second  # a whole output keeps its type (native rendering)
    assert first["at"] < second["at"] < third["at"]


def test_parallel_lanes_all_reach_the_combine_step():
    dr = run_config(
        {
            "dag_id": "wf_parallel",
            "steps": [
                echo("start", 1),
                {
                    "parallel": {
                        "id": "fan",
                        "steps": [
                            echo("code", "c"),
                            echo("tests_lane", "t"),
                            {"sequential": {"steps": [echo("docs", "d"), echo("docs_index", "{{ steps.docs.output.value }}i")]}},
                        ],
                        "combine": echo("combine", "{{ steps.fan.output }}"),
                    }
                },
            ],
        }
    )
    assert dr.state == DagRunState.SUCCESS
    combined = xcom(dr, "combine")["value"]
    assert set(combined) == {"code", "tests_lane", "docs_index"}
    assert combined["code"]["value"] == "c" and combined["tests_lane"]["value"] == "t"
    assert combined["docs_index"]["value"] == "di"
    start = xcom(dr, "start")["at"]
    assert all(start < lane["at"] < xcom(dr, "combine")["at"] for lane in combined.values())


CONDITIONAL = {
    "dag_id": "wf_conditional",
    "params": {"target": {"type": "string", "enum": ["github", "gitlab", "zip", "none"], "default": "zip"}},
    "steps": [
        echo("generate", {"files": 3}),
        {
            "conditional": {
                "id": "choose",
                "branches": [
                    {"when": "params.target == 'github'", "steps": [echo("to_github", "gh"), echo("gh_after", "x")]},
                    {"when": "params.target == 'gitlab' and steps.generate.output.value.files > 0", "steps": [echo("to_gitlab", "gl")]},
                ],
                "otherwise": [echo("to_zip", "zip")],
                "join": echo("join", "done"),
            }
        },
        echo("after", "{{ steps.join.output.value }}"),
    ],
}


@pytest.mark.parametrize(
    ("target", "ran", "skipped"),
    [
        ("github", {"to_github", "gh_after"}, {"to_gitlab", "to_zip"}),
        ("gitlab", {"to_gitlab"}, {"to_github", "gh_after", "to_zip"}),
        ("zip", {"to_zip"}, {"to_github", "gh_after", "to_gitlab"}),
    ],
)
def test_conditional_runs_one_branch_skips_the_others_and_joins(target, ran, skipped):
    dr = run_config(CONDITIONAL, conf={"target": target})
    assert dr.state == DagRunState.SUCCESS
    got = states(dr)
    assert {t for t in ran if got[t] == TaskInstanceState.SUCCESS} == ran
    assert {t for t in skipped if got[t] == TaskInstanceState.SKIPPED} == skipped
    assert got["join"] == TaskInstanceState.SUCCESS and got["after"] == TaskInstanceState.SUCCESS
    assert xcom(dr, "after")["value"] == "done"


def test_conditional_without_a_match_or_otherwise_still_runs_the_join():
    config = json.loads(json.dumps(CONDITIONAL))
    config["dag_id"] = "wf_conditional_no_match"
    del config["steps"][1]["conditional"]["otherwise"]
    dr = run_config(config, conf={"target": "none"})
    assert dr.state == DagRunState.SUCCESS
    got = states(dr)
    assert got["to_github"] == got["to_gitlab"] == TaskInstanceState.SKIPPED
    assert got["join"] == TaskInstanceState.SUCCESS


def test_nested_conditional_inside_a_parallel_lane():
    dr = run_config(
        {
            "dag_id": "wf_nested",
            "params": {"flag": {"type": "boolean", "default": False}},
            "steps": [
                {
                    "parallel": {
                        "id": "fan",
                        "steps": [
                            echo("plain", 1),
                            {
                                "conditional": {
                                    "id": "inner",
                                    "branches": [{"when": "params.flag", "steps": [echo("flagged", 2)]}],
                                    "otherwise": [echo("unflagged", 3)],
                                    "join": echo("inner_join", "j"),
                                }
                            },
                        ],
                        "combine": echo("combine", "{{ steps.fan.output }}"),
                    }
                }
            ],
        }
    )
    assert dr.state == DagRunState.SUCCESS
    got = states(dr)
    assert got["flagged"] == TaskInstanceState.SKIPPED and got["unflagged"] == TaskInstanceState.SUCCESS
    assert set(xcom(dr, "combine")["value"]) == {"plain", "inner_join"}


def test_a_failed_branch_fails_the_join():
    config = json.loads(json.dumps(CONDITIONAL))
    config["dag_id"] = "wf_conditional_fail"
    config["steps"][1]["conditional"]["otherwise"] = [{"id": "to_zip", "type": "echo", "config": {"fail": True}}]
    dr = run_config(config, conf={"target": "zip"})
    got = states(dr)
    assert got["to_zip"] == TaskInstanceState.FAILED
    assert got["join"] == TaskInstanceState.UPSTREAM_FAILED
    assert dr.state == DagRunState.FAILED


def test_rest_style_conf_is_validated_against_the_params():
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="bitbucket"):
        run_config(CONDITIONAL, conf={"target": "bitbucket"})


def test_params_carry_their_schema_for_the_trigger_form():
    from tests.workflow.echo import register

    from airflow_provider_hisham.workflow import build_dag

    register()
    dag = build_dag(
        {
            "dag_id": "wf_params_form",
            "params": {
                "target": {"type": "string", "enum": ["github", "zip"], "default": "zip", "title": "Export to", "description": "where"},
                "count": {"type": "integer", "minimum": 1, "default": 1},
                "name": {"type": "string", "minLength": 3},
            },
            "steps": [echo("a", "{{ params.target }}")],
        }
    )
    dumped = dag.params.dump()
    assert dumped["target"] == "zip" and dumped["count"] == 1
    target = dag.params.get_param("target")
    assert target.schema == {"type": "string", "enum": ["github", "zip"], "title": "Export to"}
    assert target.description == "where"
    with pytest.raises(Exception, match="is not one of"):
        target.resolve("gitlab")
    with pytest.raises(Exception, match="less than the minimum"):
        dag.params.get_param("count").resolve(0)
    with pytest.raises(Exception, match="No value passed|required"):
        dag.params.get_param("name").resolve()
