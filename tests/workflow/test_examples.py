"""The shipped example DAGs (dags/workflows/*.yaml) end to end under ``dag.test()``.

Parsed by a real DagBag through the shipped loader (dags/hisham_workflows.py), run against the
HishamOS stand-in, the git smart-HTTP server and the GitHub/GitLab stand-ins: real projects,
real pushes, real archives.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from airflow.utils.state import DagRunState, TaskInstanceState

from tests.conftest import REPO_ROOT, xcom
from tests.servers.repo_fixtures import TOKEN, git_server, github_api, gitlab_api  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def example_dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"), bundle_path=REPO_ROOT / "dags", bundle_name="dags-folder")
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags


@pytest.fixture
def connections(hishamos, hishamos_conn, git_server, github_api, gitlab_api, monkeypatch):  # noqa: F811
    """The default connection ids the examples use, pointing at the local stand-ins."""
    hishamos_conn("password")  # hishamos_default
    for conn_id, body in {
        "github_default": {"conn_type": "github", "host": github_api.url, "password": TOKEN,
                           "extra": {"seconds_between_requests": 0, "seconds_between_writes": 0, "secondary_rate_wait": 1,
                                     "git_host": git_server.url}},
        "gitlab_default": {"conn_type": "gitlab", "host": gitlab_api.url, "password": TOKEN, "extra": {"token_type": "private", "git_host": git_server.url}},
        "git_default": {"conn_type": "generic", "host": git_server.url, "login": "x-access-token", "password": TOKEN},
    }.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(body))
    return hishamos


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def test_sequential_story_generate_push(example_dags, connections, git_server, airflow_home):  # noqa: F811
    hishamos = connections
    git_server.create_bare("hisham/order-history-export")
    conf = {
        "hishamos_project": hishamos.state.demo_project_id,
        "git_url": git_server.repo_url("hisham/order-history-export"),
    }
    dr = example_dags["hisham_story_to_repository"].test(run_conf=conf)
    assert dr.state == DagRunState.SUCCESS, states(dr)
    story = xcom(dr, "create_story")
    stored = [s for s in hishamos.state.stories.values() if s["project"] == hishamos.state.demo_project_id]
    assert [s["id"] for s in stored] == [story["id"]]
    assert stored[0]["title"] == "Customers can export their order history as CSV"
    generated = xcom(dr, "generate")
    out = Path(generated["output_dir"])
    assert out == airflow_home / "generated-projects" / "order-history-export"
    assert f"Story {story['number']} in HishamOS" in (out / "README.md").read_text()
    assert generated["generated_project_id"] in hishamos.state.generated_projects
    export = xcom(dr, "export")
    assert export["commit_sha"] == git_server.head("hisham/order-history-export")
    assert export["url"] == conf["git_url"] and TOKEN not in json.dumps(export)
    archive = Path(xcom(dr, "archive")["archive_path"])
    assert archive == airflow_home / "generated-projects" / "order-history-export.zip"
    with zipfile.ZipFile(archive) as zf:
        assert sorted(n for n in zf.namelist() if not n.endswith("/")) == ["README.md", "src/app.py", "tests/test_app.py"]
    # A plain git remote has no HishamOS export type; the archive is recorded.
    exports = [e for e in hishamos.state.repository_exports.values()
               if e["generated_project"] == generated["generated_project_id"]]
    assert [e["export_type"] for e in exports] == ["zip"]


def test_parallel_code_tests_docs_combined_and_archived(example_dags, airflow_home):
    dr = example_dags["hisham_code_tests_docs"].test(run_conf={"project_slug": "inventory-service"})
    assert dr.state == DagRunState.SUCCESS, states(dr)
    combined = xcom(dr, "combine")
    assert combined["output_dir"] == str(airflow_home / "generated-projects" / "inventory-service")
    assert {"src/service.py", "tests/test_service.py", "README.md", "docs/usage.md"} <= set(combined["files"])
    lanes = {t: xcom(dr, t)["output_dir"] for t in ("code", "tests", "docs")}
    assert len(set(lanes.values())) == 3  # three separate lane projects were generated
    archive = Path(xcom(dr, "export")["archive_path"])
    assert archive.suffix == ".zip"
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
    assert {"src/service.py", "tests/test_service.py", "README.md", "docs/usage.md"} <= names


@pytest.mark.parametrize(
    ("export_to", "ran"),
    [("zip", "to_zip"), ("github", "to_github"), ("gitlab", "to_gitlab")],
)
def test_conditional_export_by_choice(example_dags, connections, github_api, gitlab_api, export_to, ran):  # noqa: F811
    hishamos = connections
    slug = f"billing-api-{export_to}"
    conf = {"hishamos_project": hishamos.state.demo_project_id, "project_slug": slug, "export_to": export_to}
    dr = example_dags["hisham_export_by_choice"].test(run_conf=conf)
    assert dr.state == DagRunState.SUCCESS, states(dr)
    got = states(dr)
    branches = {"to_zip", "to_github", "to_gitlab"}
    assert got[ran] == TaskInstanceState.SUCCESS
    assert {t for t in branches - {ran} if got[t] == TaskInstanceState.SKIPPED} == branches - {ran}
    assert got["list_exports"] == TaskInstanceState.SUCCESS
    result = xcom(dr, ran)
    generated_id = xcom(dr, "generate")["generated_project_id"]
    if export_to == "zip":
        assert Path(result["archive_path"]).is_file()
    elif export_to == "github":
        assert result["commit_sha"] == github_api.state.git.head(f"octo-user/{slug}")
    else:
        assert result["url"] and result["commit_sha"]
    listed = xcom(dr, "list_exports")
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [r["export_type"] for r in rows if r["generated_project"] == generated_id] == [export_to]
