"""HishamOSApiCallOperator in real Airflow (``dag.test()``) against the HishamOS stand-in."""

from __future__ import annotations

import json

import pytest
from airflow.utils.state import DagRunState, TaskInstanceState

from airflow_provider_hisham.api.errors import HishamOSConfigError
from airflow_provider_hisham.operators.api_call import ACTIONS, HishamOSApiCallOperator
from tests.conftest import run_dag, xcom

STORIES = "/api/v1/projects/stories/"
DAG_HEAD = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_hisham.operators.api_call import HishamOSApiCallOperator

with DAG("{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False) as dag:
"""


def _dag(dag_id: str, body: str, head: str = DAG_HEAD) -> str:
    return head.format(dag_id=dag_id) + "\n".join("    " + line for line in body.strip().splitlines()) + "\n"


def _ti(dag_run, task_id: str):
    from airflow.utils.session import create_session

    with create_session() as session:
        dag_run = session.merge(dag_run)
        ti = dag_run.get_task_instance(task_id, session=session)
        session.expunge(ti)
        return ti


def _rendered(dag_run, task_id: str) -> dict:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.query(RTIF).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id).one()
        return dict(row.rendered_fields)


def test_create_story_action_with_templated_data_and_result_path(hishamos, hishamos_conn):
    hishamos_conn("password")
    project = hishamos.state.demo_project_id
    dr = run_dag(_dag("api_call_create_story", """
story = HishamOSApiCallOperator(
    task_id="create_story",
    action="create_story",
    data={"project": "{{ dag_run.conf['project'] }}", "title": "{{ dag_run.conf['title'] }}",
          "description": "As a buyer I want to pay", "acceptance_criteria": "Given a cart...", "priority": "high"},
)
number = HishamOSApiCallOperator(
    task_id="list_numbers",
    action="list_stories",
    data={"project": "{{ dag_run.conf['project'] }}"},
    result_path="0.number",
    response_check=lambda stories: len(stories) == 1,
)
story >> number
"""), conf={"project": project, "title": "Checkout"})
    assert dr.state == DagRunState.SUCCESS
    story = xcom(dr, "create_story")
    assert story["title"] == "Checkout" and story["project"] == project and story["priority"] == "high"
    assert hishamos.state.stories[story["id"]]["custom_fields"]["airflow_idempotency_key"].startswith("af1-")
    assert xcom(dr, "list_numbers") == "STORY-1"
    rendered = _rendered(dr, "create_story")
    assert rendered["data"]["title"] == "Checkout" and rendered["data"]["project"] == project


def test_task_retry_after_a_lost_create_response_does_not_create_a_second_story(hishamos, hishamos_conn,
                                                                                   hishamos_retry_waits):
    """Try 1: the POST is committed but its response is lost, and the recovery lookup fails (500),
    so the try fails. Try 2 (an Airflow task retry) finds the story by its marker."""
    hishamos_conn("password")
    project = hishamos.state.demo_project_id
    hishamos.inject("drop_after_commit", method="POST", path=STORIES)
    hishamos.inject("status", status=500, method="GET", path=STORIES, skip=1)
    dr = run_dag(_dag("api_call_idempotent", """
HishamOSApiCallOperator(
    task_id="create_story",
    action="create_story",
    retries=2,
    retry_delay=pendulum.duration(seconds=0),
    data={"project": "{{ dag_run.conf['project'] }}", "title": "Only once",
          "description": "d", "acceptance_criteria": "a"},
)
"""), conf={"project": project})
    assert dr.state == DagRunState.SUCCESS
    assert _ti(dr, "create_story").try_number == 2
    stories = hishamos.state.stories_of(project)
    assert len(stories) == 1 and len(hishamos.requests_to("POST", STORIES)) == 1
    assert xcom(dr, "create_story")["id"] == stories[0]["id"]
    # one wait: after the lost answer, before the retry's recovery lookup (whose 500 fails the try);
    # RetryPolicy's first backoff (half of base 0.5 s plus jitter), recorded instead of slept
    assert len(hishamos_retry_waits) == 1 and 0.25 <= hishamos_retry_waits[0] <= 0.5, hishamos_retry_waits


def test_mapped_creates_get_one_story_each(hishamos, hishamos_conn):
    hishamos_conn("password")
    project = hishamos.state.demo_project_id
    dr = run_dag(_dag("api_call_mapped", f"""
HishamOSApiCallOperator.partial(task_id="create", action="create_story").expand(
    data=[{{"project": "{project}", "title": t, "description": "d", "acceptance_criteria": "a"}}
          for t in ("one", "two")]
)
"""))
    assert dr.state == DagRunState.SUCCESS
    stories = hishamos.state.stories_of(project)
    assert sorted(s["title"] for s in stories) == ["one", "two"]
    assert len({s["custom_fields"]["airflow_idempotency_key"] for s in stories}) == 2


def test_jwt_mode_acts_as_the_user_from_the_run_conf(hishamos, hishamos_conn):
    hishamos_conn("jwt_secret")
    st = hishamos.state
    bob = st.user_by_name("bob")
    with st.lock:
        st.projects[st.demo_project_id]["members"].append(bob.id)
    dr = run_dag(_dag("api_call_jwt", """
HishamOSApiCallOperator(
    task_id="create_story",
    action="create_story",
    user_id="{{ dag_run.conf['user_id'] }}",
    data={"project": "{{ dag_run.conf['project'] }}", "title": "By bob", "description": "d",
          "acceptance_criteria": "a"},
)
HishamOSApiCallOperator(task_id="me", endpoint="/api/v1/auth/me/", user_id="{{ dag_run.conf['user_id'] }}",
                        result_path="email")
"""), conf={"user_id": bob.id, "project": st.demo_project_id})
    assert dr.state == DagRunState.SUCCESS
    assert xcom(dr, "create_story")["created_by"] == bob.id and xcom(dr, "me") == bob.email


def test_raw_calls_query_and_response_check(hishamos, hishamos_conn):
    """``query`` is the query string; ``params`` keeps Airflow's meaning and never reaches the URL."""
    hishamos_conn("api_key")
    dr = run_dag(_dag("api_call_raw", """
HishamOSApiCallOperator(task_id="agents", method="GET", endpoint="api/v1/agents/",
                        query={"search": "{{ dag_run.conf['q'] }}"}, result_path="results.0.name",
                        params={"airflow_param": "{{ dag_run.conf['q'] }}"})
HishamOSApiCallOperator(task_id="sprint", action="create_sprint",
                        data={"project": "{{ dag_run.conf['project'] }}", "name": "Sprint 1", "sprint_number": 1,
                              "start_date": "2026-02-02", "end_date": "2026-02-15"}, result_path="id")
HishamOSApiCallOperator(task_id="rejected", endpoint="/api/v1/auth/me/",
                        response_check=lambda me: me["is_superuser"])
HishamOSApiCallOperator(task_id="not_found", endpoint="/api/v1/projects/42/")
"""), conf={"q": "QA", "project": hishamos.state.demo_project_id})
    assert xcom(dr, "agents") == "QA Engineer"
    assert xcom(dr, "sprint") in hishamos.state.sprints
    assert _rendered(dr, "agents")["query"] == {"search": "QA"}
    assert [r.query for r in hishamos.state.requests if r.path == "/api/v1/agents/"] == ["search=QA"]
    assert _ti(dr, "rejected").state == TaskInstanceState.FAILED
    assert _ti(dr, "not_found").state == TaskInstanceState.FAILED


def test_no_secret_reaches_logs_xcom_rendered_fields_or_errors(hishamos, hishamos_conn, capfd, caplog):
    """Every credential of the run (password, JWT secret, API key, every token issued or sent) is
    absent from the task logs, the XComs and the rendered template fields.

    ``dag.test()`` runs tasks in-process without Airflow's supervisor, which is what masks task log
    files (with the Task SDK's secrets masker that ``mask_secret`` feeds). So the captured log is
    checked twice: the provider's own lines and error messages must hold no secret even unmasked,
    and the whole log, masked as the supervisor masks it, must hold none either (this catches a
    token we forgot to register: the ``leak_attempt`` task logs the live credentials on purpose).
    """
    from airflow.sdk._shared.secrets_masker import redact

    caplog.set_level("INFO")
    for mode, conn_id in (("password", "hs_password"), ("jwt_secret", "hs_jwt"), ("api_key", "hs_key")):
        hishamos_conn(mode, conn_id=conn_id)
    dr = run_dag(_dag("api_call_secrets", """
import logging
from airflow.sdk import task
from airflow_provider_hisham.hooks.hishamos import HishamOSHook

for conn_id in ("hs_password", "hs_jwt", "hs_key"):
    HishamOSApiCallOperator(task_id=f"me_{conn_id}", hishamos_conn_id=conn_id, endpoint="/api/v1/auth/me/",
                            data=None, query={"conn": conn_id})
    HishamOSApiCallOperator(task_id=f"fail_{conn_id}", hishamos_conn_id=conn_id, endpoint="/api/v1/nope/")
HishamOSApiCallOperator(task_id="login_raw", hishamos_conn_id="hs_jwt", method="POST",
                        endpoint="/api/v1/auth/login/",
                        data={"email": "{{ conn.hs_password.login }}", "password": "{{ conn.hs_password.password }}"})

@task
def leak_attempt():
    for conn_id in ("hs_password", "hs_jwt", "hs_key"):
        hook = HishamOSHook(conn_id)
        hook.call("GET", "/api/v1/auth/me/")
        logging.getLogger("airflow.task").info("credentials in use: %s", hook._auth.headers())
    return "done"

leak_attempt()
"""))
    out = capfd.readouterr()
    raw = out.out + out.err + caplog.text
    own = "\n".join(line for line in raw.splitlines() if "HishamOS" in line or "hishamos" in line)
    logs = redact(raw)
    st = hishamos.state
    assert "HishamOS GET /api/v1/auth/me/ -> 200" in own and "credentials in use: {'" in raw
    assert "no such endpoint /api/v1/nope/" in own
    assert xcom(dr, "login_raw")["access"] == "***" and xcom(dr, "login_raw")["user"]["email"] == st.user.email
    secrets = st.secrets()
    assert len(secrets) >= 8  # 5 passwords, JWT secret, API key, tokens
    stored = json.dumps([xcom(dr, t) for t in ("me_hs_password", "me_hs_jwt", "me_hs_key", "login_raw",
                                               "leak_attempt")], default=str)
    rendered = json.dumps([_rendered(dr, t) for t in ("me_hs_password", "login_raw", "fail_hs_key")], default=str)
    for secret in secrets:
        assert secret not in own, "a credential appeared in the provider's own log lines or errors"
        assert secret not in logs, "a credential appeared in the (masked) task log"
        assert secret not in stored, "a credential appeared in XCom"
        assert secret not in rendered, "a credential appeared in rendered template fields"


def test_arguments_are_checked_at_parse_time_and_run_time():
    with pytest.raises(HishamOSConfigError, match="give either action or endpoint"):
        HishamOSApiCallOperator(task_id="t")
    with pytest.raises(HishamOSConfigError, match="unknown action 'create_storey'"):
        HishamOSApiCallOperator(task_id="t", action="create_storey")
    assert {"create_story", "list_stories", "update_story_status", "create_sprint", "update_sprint", "get_project",
            "create_project", "execute_agent"} <= set(ACTIONS)


def test_missing_action_argument_names_it(hishamos, hishamos_conn):
    hishamos_conn("password")
    dr = run_dag(_dag("api_call_missing", """
HishamOSApiCallOperator(task_id="status", action="update_story_status", data={"story_id": "x"})
"""))
    assert dr.state == DagRunState.FAILED and not hishamos.state.requests


def test_actions_chain_project_story_status_sprint_agent(hishamos, hishamos_conn, hishamos_retry_waits):
    hishamos_conn("password")
    # The project create loses its response once and the recovery lookup fails: the task retry
    # must find the project by the marker in its tags instead of creating a second one.
    hishamos.inject("drop_after_commit", method="POST", path="/api/v1/projects/")
    hishamos.inject("status", status=500, method="GET", path="/api/v1/projects/", skip=1)
    dr = run_dag(_dag("api_call_actions", """
project = HishamOSApiCallOperator(
    task_id="project", action="create_project", retries=1, retry_delay=pendulum.duration(seconds=0),
    data={"name": "Shop", "start_date": "2026-03-01", "end_date": "2026-05-31"}, result_path="id")
story = HishamOSApiCallOperator(
    task_id="story", action="create_story", result_path="id",
    data={"project": "{{ ti.xcom_pull('project') }}", "title": "Pay", "description": "d",
          "acceptance_criteria": "a"})
status = HishamOSApiCallOperator(
    task_id="status", action="update_story_status",
    data={"story_id": "{{ ti.xcom_pull('story') }}", "status": "in_progress"}, result_path="updated_count")
sprint = HishamOSApiCallOperator(
    task_id="sprint", action="create_sprint", retries=1, retry_delay=pendulum.duration(seconds=0),
    data={"project": "{{ ti.xcom_pull('project') }}", "name": "Sprint 1", "sprint_number": 1,
          "start_date": "2026-03-02", "end_date": "2026-03-15"})
agent = HishamOSApiCallOperator(
    task_id="agent", action="execute_agent", result_path="output",
    data={"agent": "Legal Counsel", "prompt": "plan {{ ti.xcom_pull('story') }}"})
project >> story >> status >> sprint >> agent
"""))
    assert dr.state == DagRunState.SUCCESS
    st = hishamos.state
    shops = [p for p in st.projects.values() if p["name"] == "Shop"]
    assert len(shops) == 1 and xcom(dr, "project") == shops[0]["id"] and _ti(dr, "project").try_number == 2
    # one wait: after the lost answer, before the retry's recovery lookup (whose 500 fails the try);
    # RetryPolicy's first backoff (half of base 0.5 s plus jitter), recorded instead of slept
    assert len(hishamos_retry_waits) == 1 and 0.25 <= hishamos_retry_waits[0] <= 0.5, hishamos_retry_waits
    assert st.stories[xcom(dr, "story")]["status"] == "in_progress" and xcom(dr, "status") == 1
    assert xcom(dr, "sprint")["project_name"] == "Shop"
    assert xcom(dr, "agent") == f"[Legal Counsel] plan {xcom(dr, 'story')}"


def test_failures_a_retry_cannot_fix_fail_the_task_at_once(hishamos_trial, hishamos_conn):
    """An agent run HishamOS fails (500) and a tier refusal: reported with HishamOS's words,
    the task fails on its first try although it has retries, and each call was sent once."""
    hishamos_conn("password")
    hishamos_conn("api_key", conn_id="hs_trial_key")
    agent = next(iter(hishamos_trial.state.agents.values()))
    execute = f"/api/v1/agents/{agent['id']}/execute/"
    hishamos_trial.inject("status", status=500, method="POST", path=execute, times=5)
    dr = run_dag(_dag("api_call_not_retried", f"""
HishamOSApiCallOperator(task_id="agent", action="execute_agent", retries=3,
                        retry_delay=pendulum.duration(seconds=0), data={{"agent": "{agent['id']}", "prompt": "go"}})
HishamOSApiCallOperator(task_id="tier", hishamos_conn_id="hs_trial_key", endpoint="/api/v1/auth/me/", retries=3,
                        retry_delay=pendulum.duration(seconds=0))
"""))
    assert dr.state == DagRunState.FAILED
    for task_id in ("agent", "tier"):
        ti = _ti(dr, task_id)
        assert ti.state == TaskInstanceState.FAILED and ti.try_number == 1, task_id
    assert len(hishamos_trial.requests_to("POST", execute)) == 1
    assert len(hishamos_trial.requests_to("GET", "/api/v1/auth/me/")) == 1


def test_query_must_be_a_mapping(hishamos, hishamos_conn):
    hishamos_conn("api_key")
    dr = run_dag(_dag("api_call_query_type", """
HishamOSApiCallOperator(task_id="bad", endpoint="/api/v1/agents/", query="{{ 'search=QA' }}")
"""))
    assert _ti(dr, "bad").state == TaskInstanceState.FAILED
    assert not any(r.path == "/api/v1/agents/" for r in hishamos.state.requests)  # refused before sending
