"""A REST trigger's ``conf`` is validated against the workflow's params (real Airflow API app)."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import TEST_DAGS

CONFIG = """\
dag_id: wf_rest_params
params:
  export_to: {type: string, enum: [github, gitlab, zip], default: zip, title: Export to}
  count: {type: integer, minimum: 1, default: 1}
steps:
  - {id: a, type: echo, config: {value: "{{ params.export_to }}"}}
"""


@pytest.fixture(scope="module")
def api():
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from fastapi.testclient import TestClient

    folder = TEST_DAGS / "rest_workflows"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "workflows").mkdir(parents=True)
    (folder / "workflows" / "rest.yaml").write_text(CONFIG)
    (folder / "loader.py").write_text(
        "# airflow dag\nfrom tests.workflow.echo import register\nregister()\n"
        "from airflow_provider_hisham.workflow import load_dags\n"
        "load_dags(__import__('pathlib').Path(__file__).parent / 'workflows', globals())\n"
    )
    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=str(folder), bundle_path=TEST_DAGS, bundle_name="generated")
    assert "wf_rest_params" in bag.dags, bag.import_errors
    sync_bag_to_db(bag, "generated", None)
    from airflow.api_fastapi.app import create_app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
        client = TestClient(create_app("core"))
        response = client.get("/auth/token")
        assert response.status_code in (200, 201), response.text
        client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        client.patch("/api/v2/dags/wf_rest_params", json={"is_paused": False})
        yield client
    shutil.rmtree(folder, ignore_errors=True)


def test_rest_conf_breaking_a_param_is_refused_and_a_good_one_accepted(api):
    bad = api.post("/api/v2/dags/wf_rest_params/dagRuns", json={"logical_date": None, "conf": {"export_to": "bitbucket"}})
    assert bad.status_code == 400, bad.text
    assert "bitbucket" in bad.text and "is not one of" in bad.text
    bad_count = api.post("/api/v2/dags/wf_rest_params/dagRuns", json={"logical_date": None, "conf": {"count": 0}})
    assert bad_count.status_code == 400 and "minimum" in bad_count.text
    good = api.post("/api/v2/dags/wf_rest_params/dagRuns", json={"logical_date": None, "conf": {"export_to": "github"}})
    assert good.status_code == 200, good.text
    assert good.json()["conf"] == {"export_to": "github"}  # defaults fill in at run time


def test_trigger_form_gets_each_param_schema(api):
    details = api.get("/api/v2/dags/wf_rest_params/details")
    assert details.status_code == 200, details.text
    params = details.json()["params"]
    assert params["export_to"]["schema"]["enum"] == ["github", "gitlab", "zip"]
    assert params["export_to"]["value"] == "zip" and params["count"]["schema"]["minimum"] == 1
