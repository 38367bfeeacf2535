"""Run-time rendering under real Airflow (``dag.test()``): the workflow sandbox, conf values as data."""

from __future__ import annotations

import time

from airflow.utils.state import DagRunState, TaskInstanceState

from tests.conftest import run_dag, xcom
from tests.workflow.test_patterns import echo, run_config, states


def test_conf_values_reach_the_operator_as_written_never_rendered_again():
    started = time.monotonic()
    dr = run_config(
        {
            "dag_id": "wf_conf_literal",
            "params": {"x": {"type": "string", "default": "a"}, "hang": {"type": "string", "default": "b"}},
            "steps": [
                echo("whole", "{{ params.x }}"),
                echo("text", "pre {{ params.x }}"),
                echo("nested", {"k": ["{{ params.x }}"]}),
                echo("hang", "{{ params.hang }}"),
                echo("output", "{{ steps.whole.output.value }}"),
            ],
        },
        conf={"x": "{{ 7*7 }}", "hang": "{{ 9**(9**9) }}{% for a in range(10**9) %}{% endfor %}"},
    )
    assert dr.state == DagRunState.SUCCESS
    assert xcom(dr, "whole")["value"] == "{{ 7*7 }}"
    assert xcom(dr, "text")["value"] == "pre {{ 7*7 }}"
    assert xcom(dr, "nested")["value"] == {"k": ["{{ 7*7 }}"]}
    assert xcom(dr, "hang")["value"] == "{{ 9**(9**9) }}{% for a in range(10**9) %}{% endfor %}"
    assert xcom(dr, "output")["value"] == "{{ 7*7 }}"  # a step's output is data too
    assert time.monotonic() - started < 60


def test_an_escape_that_skips_the_parse_time_check_fails_in_the_sandbox(tmp_path):
    """A plan whose config was changed after validation (a tampered cache entry, a plugin that
    builds its own plan) still renders in the sandbox: the task fails, nothing runs."""
    mark = tmp_path / "pwned"
    dr = run_dag(
        f"""
        from tests.workflow.echo import register
        register()
        from airflow_provider_hisham.workflow.dag_builder import build_dag_from_plan
        from airflow_provider_hisham.workflow.plan import compile_workflow
        from airflow_provider_hisham.workflow.source import ConfigSource

        plan = compile_workflow(ConfigSource("tampered.yaml", {{
            "dag_id": "wf_tampered", "steps": [{{"id": "a", "type": "echo", "config": {{"value": "x"}}}}]}}, {{}}))
        plan.tasks["a"].config["value"] = "{{{{ cycler.__init__.__globals__.os.system('id > {mark}') }}}}"
        dag = build_dag_from_plan(plan)
        """,
        name="wf_tampered",
    )
    assert states(dr) == {"a": TaskInstanceState.FAILED}
    assert not mark.exists()
