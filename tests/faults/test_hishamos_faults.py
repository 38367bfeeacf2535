"""Real ``dag.test()`` runs with retries against a HishamOS stand-in that misbehaves.

Each run ends successful, or failed with a clear error; the stand-in's own state then shows
exactly one story, agent run or generated-project record: no retry duplicated anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.utils.state import DagRunState

from tests.conftest import run_dag, xcom
from tests.faults.manifest import manifest_mismatches
from tests.servers.hishamos_agents import EXECUTE_PATH

STORIES = "/api/v1/projects/stories/"
GP = "/api/v1/projects/generated-projects/"
HEAD = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_hisham.operators.agent import HishamOSAgentOperator
from airflow_provider_hisham.operators.api_call import HishamOSApiCallOperator
from airflow_provider_hisham.operators.file_generation import HishamOSFileGenerationOperator
from airflow_provider_hisham.operators.repo_creation import HishamOSRepoCreationOperator

RETRY = dict(retries=3, retry_delay=pendulum.duration(seconds=0))
with DAG("{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False) as dag:
"""
CREATE_STORY = """
    HishamOSApiCallOperator(task_id="create_story", action="create_story", **RETRY,
        data={"project": "{{ dag_run.conf['project'] }}", "title": "Survives faults",
              "description": "d", "acceptance_criteria": "a"})
"""


def _run(dag_id: str, body: str, **kw):
    return run_dag(HEAD.format(dag_id=dag_id) + body, **kw)


# (fault kind, inject() arguments); "delay" stalls past the connection's 1 s timeout.
STORY_FAULTS = {
    "429_retry_after": [dict(kind="status", status=429, retry_after=1, times=2)],
    "503_then_502": [dict(kind="status", status=503), dict(kind="status", status=502)],
    "stall_past_timeout": [dict(kind="delay", delay=2.5)],
    "reset_before_processing": [dict(kind="reset", times=2)],
    "drop_after_commit": [dict(kind="drop_after_commit")],
    "drop_after_commit_then_lookup_500": [dict(kind="drop_after_commit"),
                                          dict(kind="status", status=500, method="GET", skip=1)],
}


@pytest.mark.parametrize("case", sorted(STORY_FAULTS))
def test_create_story_survives(case, hishamos, hishamos_conn, fault_log, hishamos_retry_waits):
    hishamos_conn("password", timeout=1)
    project = hishamos.state.demo_project_id
    injected = [hishamos.inject(f.pop("kind"), **{"method": "POST", "path": STORIES, **f})
                for f in [dict(f) for f in STORY_FAULTS[case]]]
    dr = _run(f"fault_story_{case}", CREATE_STORY, conf={"project": project})
    for fault in injected:
        fault_log.inject("hishamos POST/GET stories", fault.kind if fault.kind != "status" else str(fault.status),
                         fault.hits)
    assert dr.state == DagRunState.SUCCESS
    stories = hishamos.state.stories_of(project)
    assert [s["title"] for s in stories].count("Survives faults") == 1, stories
    assert xcom(dr, "create_story")["id"] == next(s["id"] for s in stories if s["title"] == "Survives faults")
    if case == "429_retry_after":  # each wait as long as HishamOS asked (Retry-After: 1), never earlier
        assert len(hishamos_retry_waits) == 2 and all(1 <= w <= 1.1 for w in hishamos_retry_waits), hishamos_retry_waits
    fault_log.survived("success")


@pytest.mark.parametrize("kind", ["drop_after_commit", "reset", "status"])
def test_agent_call_survives(kind, hishamos, hishamos_conn, fault_log, hishamos_retry_waits):
    hishamos_conn("password", timeout=5)
    fault = hishamos.inject(kind, method="POST", path=EXECUTE_PATH, status=503)
    dr = _run(f"fault_agent_{kind}", """
    HishamOSAgentOperator(task_id="code", agent="coding-agent", prompt="todo list api", **RETRY)
""")
    fault_log.inject("hishamos agent execute", kind if kind != "status" else "503", fault.hits)
    assert dr.state == DagRunState.SUCCESS
    runs = hishamos.state.executions_of("coding-agent")
    assert len(runs) == 1, runs  # never a second (charged) agent run
    assert xcom(dr, "code")["text"] == runs[0]["output_data"]["output"]
    fault_log.survived("success")


@pytest.mark.parametrize("kind", ["drop_after_commit", "reset", "status"])
def test_generation_record_survives(kind, hishamos, hishamos_conn, fault_log, airflow_home, hishamos_retry_waits):
    hishamos_conn("password", conn_id="hishamos_faults", timeout=5)
    project = hishamos.state.demo_project_id
    create = hishamos.inject(kind, method="POST", path=GP, status=502)
    complete = hishamos.inject("status", method="PATCH", path=GP + ".*", status=500)
    dr = _run(f"fault_gp_{kind}", """
    HishamOSFileGenerationOperator(task_id="generate", project_id="fault-gp", structure={"README.md": "# ok\\n"},
        hishamos_conn_id="hishamos_faults", hishamos_project_id="{{ dag_run.conf['project'] }}", **RETRY)
""", conf={"project": project})
    fault_log.inject("hishamos POST generated-projects", kind if kind != "status" else "502", create.hits)
    fault_log.inject("hishamos PATCH generated-projects", "500", complete.hits)
    assert dr.state == DagRunState.SUCCESS
    (record,) = hishamos.state.generated_projects.values()
    assert record["status"] == "completed"
    assert xcom(dr, "generate")["generated_project_id"] == record["id"]
    fault_log.survived("success")


EXPORTS = "/api/v1/projects/repository-exports/"
GENERATE_AND_ARCHIVE = """
    generate = HishamOSFileGenerationOperator(task_id="generate", project_id="fault-archived",
        structure={"README.md": "# archived\\n", "src/app.py": "print(1)\\n"},
        hishamos_conn_id="hishamos_faults", hishamos_project_id="{{ dag_run.conf['project'] }}", **RETRY)
    archive = HishamOSRepoCreationOperator(task_id="archive", target="zip", archive_dir="fault-archives",
        source_dir="{{ ti.xcom_pull('generate')['output_dir'] }}", hishamos_conn_id="hishamos_faults",
        generated_project_id="{{ ti.xcom_pull('generate')['generated_project_id'] }}", **RETRY)
    generate >> archive
"""


def test_generate_and_archive_survives_lost_answers(hishamos, hishamos_conn, fault_log, hishamos_retry_waits):
    """Each step loses an answer after HishamOS committed it, and a lookup fails: one record,
    one export record, one archive, and the tree still matches its manifest."""
    from airflow_provider_hisham.operators.file_generation import output_root_from_config

    hishamos_conn("password", conn_id="hishamos_faults", timeout=5)
    project = hishamos.state.demo_project_id
    faults = [("POST generated-projects", hishamos.inject("drop_after_commit", method="POST", path=GP)),
              ("POST repository-exports", hishamos.inject("drop_after_commit", method="POST", path=EXPORTS)),
              ("GET repository-exports", hishamos.inject("reset", method="GET", path=EXPORTS))]
    dr = _run("fault_generate_archive", GENERATE_AND_ARCHIVE, conf={"project": project})
    for target, fault in faults:
        fault_log.inject(f"hishamos {target}", fault.kind, fault.hits)
    assert dr.state == DagRunState.SUCCESS
    (record,) = hishamos.state.generated_projects.values()
    (export,) = hishamos.state.repository_exports.values()
    assert export["generated_project"] == record["id"]
    archives = list((Path(output_root_from_config()) / "fault-archives").glob("fault-archived*"))
    assert [a.name for a in archives] == ["fault-archived.zip"]
    assert manifest_mismatches(xcom(dr, "generate")) == []
    # each of the three faults costs the hook one retry, after RetryPolicy's first backoff (recorded)
    assert len(hishamos_retry_waits) == 3 and all(0.25 <= w <= 0.5 for w in hishamos_retry_waits), hishamos_retry_waits
    fault_log.survived("success")
