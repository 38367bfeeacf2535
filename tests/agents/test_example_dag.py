"""dags/workflows/hishamos_agents_to_repository.yaml under ``dag.test()``: the shipped loader, the
HishamOS stand-in's real agents and the real git smart-HTTP server.

Feature request -> requirements agent (JSON list) -> one story per requirement (mapped api_call)
-> coding agent's files -> generated project -> pushed commit. The e2e suite runs the same DAG over
the REST API (tests/e2e/test_examples.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from airflow.utils.state import DagRunState

from tests.conftest import REPO_ROOT, xcom
from tests.servers.repo_fixtures import TOKEN, git_server  # noqa: F401 - fixture

DAG_ID = "hishamos_agents_to_repository"
FEATURE = "Customers can export orders as CSV; Exports include the totals; Admins see who exported"


def test_the_agents_example_files_one_story_per_requirement_and_pushes_the_coding_agents_files(
        hishamos, hishamos_conn, git_server, monkeypatch, airflow_home, tmp_path):  # noqa: F811
    from airflow.dag_processing.dagbag import DagBag

    hishamos_conn("password")
    git_server.create_bare("agents-example")
    url = git_server.repo_url("agents-example")
    monkeypatch.setenv("AIRFLOW_CONN_GIT_DEFAULT", json.dumps(
        {"conn_type": "generic", "host": url.split("/", 3)[0] + "//" + url.split("/", 3)[2],
         "login": "x-access-token", "password": TOKEN}))
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"), bundle_path=REPO_ROOT / "dags", bundle_name="dags-folder")
    assert bag.import_errors == {}, bag.import_errors
    dag = bag.dags[DAG_ID]
    assert "agents" in dag.tags
    stories_before = set(hishamos.state.stories)
    dr = dag.test(run_conf={"hishamos_project": hishamos.state.demo_project_id, "feature": FEATURE,
                            "project_slug": "agents-example", "git_url": url})
    assert dr.state == DagRunState.SUCCESS, {ti.task_id: ti.state for ti in dr.get_task_instances()}

    requirements = xcom(dr, "requirements")["requirements"]
    assert [r["title"] for r in requirements] == [c.strip() for c in FEATURE.split(";")]
    created = [hishamos.state.stories[s] for s in set(hishamos.state.stories) - stories_before]
    assert sorted(s["title"] for s in created) == sorted(r["title"] for r in requirements)  # one each
    mapped = [ti for ti in dr.get_task_instances() if ti.task_id == "create_story"]
    assert sorted(ti.map_index for ti in mapped) == [0, 1, 2]
    assert [s["title"] for s in xcom(dr, "stories")] == [r["title"] for r in requirements]

    generated = Path(xcom(dr, "generate")["output_dir"])
    files = sorted(str(p.relative_to(generated)) for p in generated.rglob("*") if p.is_file())
    assert files == ["README.md", "src/customers_can.py", "tests/test_customers_can.py"], files
    sha = xcom(dr, "publish")["commit_sha"]
    assert git_server.head("agents-example") == sha
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(git_server.root / "agents-example.git"), str(clone)], check=True)
    assert (clone / "src" / "customers_can.py").read_bytes() == (generated / "src" / "customers_can.py").read_bytes()
