"""tests/conftest.py's helpers themselves (the harness: not a test of the provider)."""

import pytest
from airflow.utils.state import DagRunState

from tests.conftest import run_dag, xcom

pytestmark = pytest.mark.harness  # the test harness, not the provider


def test_run_dag_runs_a_real_dag_and_reads_its_xcom():
    dr = run_dag(
        """
        import pendulum
        from airflow.sdk import DAG, task

        with DAG("conftest_smoke", schedule=None, start_date=pendulum.datetime(2025, 1, 1)) as dag:
            @task
            def a():
                return {"x": 1}

            @task
            def b(v):
                return v["x"] + 1

            b(a())
        """
    )
    assert dr.state == DagRunState.SUCCESS
    assert xcom(dr, "a") == {"x": 1}
    assert xcom(dr, "b") == 2
