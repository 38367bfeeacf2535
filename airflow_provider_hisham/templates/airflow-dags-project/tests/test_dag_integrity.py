import os

import pytest

DAGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dags")


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=DAGS)


def test_no_import_errors(dag_bag):
    assert dag_bag.import_errors == {}


def test_dag_shape(dag_bag):
    dag = dag_bag.dags[{{ dag_id | pyrepr }}]
    assert {t.task_id for t in dag.tasks} == {"extract", "transform", "load"}
    assert dag.get_task("transform").upstream_task_ids == {"extract"}
    assert dag.default_args["retries"] == {{ retries }}
    assert sorted(dag.tags) == sorted({{ tags | pyrepr }})
