"""HishamOSAgentOperator in real Airflow (``dag.test()``) against the HishamOS stand-in's 16 agents."""

from __future__ import annotations

import json

import pytest
from airflow.utils.state import DagRunState, TaskInstanceState

from airflow_provider_hisham.agents import AgentNotFoundError
from airflow_provider_hisham.api.idempotency import MARKER_FIELD
from airflow_provider_hisham.operators.agent import clear_agent_cache, resolve_agents
from tests.conftest import run_dag, xcom
from tests.operators.test_api_call import _dag, _ti
from tests.servers.hishamos_agents import EXECUTE_PATH, usage

DAG_HEAD = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_hisham.operators.agent import HishamOSAgentOperator
from airflow_provider_hisham.operators.file_generation import HishamOSFileGenerationOperator

with DAG("{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False) as dag:
"""
NO_RETRY_DELAY = "retry_delay=pendulum.duration(seconds=0)"


@pytest.fixture(autouse=True)
def fresh_agent_cache():
    clear_agent_cache()
    yield
    clear_agent_cache()


def _output(capfd) -> str:
    """What the run printed (the Task SDK logs task failures to stdout through structlog)."""
    out, err = capfd.readouterr()
    return out + err


def _run(dag_id: str, body: str, **kw):
    return run_dag(_dag(dag_id, body, head=DAG_HEAD), **kw)


def test_references_resolve_and_json_keys_feed_a_later_template(hishamos, hishamos_conn):
    hishamos_conn("password", agents={"Architect Agent": "coding-agent"})
    dr = _run("agent_resolution", """
triage = HishamOSAgentOperator(task_id="triage", agent="Bug Triage Agent",
                               inputs={"bug_report": "Checkout crashes with error 500", "project": "shop"})
assign = HishamOSAgentOperator(task_id="assign", agent="Project Manager Agent",
                               prompt="Assign a bug of severity {{ ti.xcom_pull('triage')['severity'] }}")
qa = HishamOSAgentOperator(task_id="qa", agent="QA Agent", agents={"QA Agent": "qa-testing-agent"},
                           inputs={"task_description": "test the checkout", "other": "x"})
design = HishamOSAgentOperator(task_id="design", agent="Architect Agent")
legal = HishamOSAgentOperator(task_id="legal", agent="{{ dag_run.conf['who'] }}",
                              prompt="severity={{ ti.xcom_pull('triage')['severity'] }}")
triage >> [assign, qa, design, legal]
""", conf={"who": "legal-agent"})
    assert dr.state == DagRunState.SUCCESS
    st = hishamos.state
    triage = xcom(dr, "triage")
    assert triage["severity"] == 4 and triage["agent"] == "bug-triage-agent" and triage["success"] is True
    assert triage["text"] == triage["content"] and "```json" in triage["text"]
    recorded = st.executions_of("bug-triage-agent")[0]
    assert triage["tokens_used"] == recorded["tokens_used"] and triage["cost"] == float(recorded["cost"])
    # HishamOS's engine rule: the first non-empty string input is the prompt; the inputs are the context
    assert recorded["input_data"]["prompt"] == "Checkout crashes with error 500"
    assert recorded["context"]["project"] == "shop" and recorded["context"][MARKER_FIELD].startswith("af1-")
    assert xcom(dr, "assign")["developer"] == "alice"
    assert st.executions_of("project-manager")[0]["input_data"]["prompt"] == "Assign a bug of severity 4"
    qa = xcom(dr, "qa")
    assert qa["passed"] is True and st.executions_of("qa-testing-agent")[0]["input_data"]["prompt"] == \
        "test the checkout"
    assert st.executions_of("coding-agent")[0]["input_data"]["prompt"] == "Execute Architect Agent task"
    assert xcom(dr, "legal")["text"] == "[Legal Counsel] severity=4" and "json" not in xcom(dr, "legal")
    assert xcom(dr, "legal", key="hisham_agent_usage")["agent"] == "legal-agent"
    # one agent list call for the whole run (cached per process and connection)
    assert len(hishamos.requests_to("GET", "/api/v1/agents/")) == 1


def test_an_unresolved_agent_fails_with_the_agents_the_backend_has(hishamos, hishamos_conn, capfd):
    hishamos_conn("password")
    with pytest.raises(AgentNotFoundError) as err:
        resolve_agents(["Coding Agent", "Architect Agent", "QA Agent"])
    text = str(err.value)
    assert "'Architect Agent', 'QA Agent' not found" in text and "QA Engineer (qa-testing-agent)" in text
    assert "Senior Software Engineer (coding-agent)" in text and err.value.unresolved == ["Architect Agent",
                                                                                        "QA Agent"]
    found = resolve_agents(["Architect Agent"], agents={"Architect Agent": "Senior Software Engineer"})
    assert found["Architect Agent"]["agent_id"] == "coding-agent"
    dr = _run("agent_unresolved", f"""
HishamOSAgentOperator(task_id="design", agent="Architect Agent", retries=2, {NO_RETRY_DELAY})
""")
    assert dr.state == DagRunState.FAILED
    ti = _ti(dr, "design")
    assert ti.state == TaskInstanceState.FAILED and ti.try_number == 1  # not retried
    assert "'Architect Agent' not found" in _output(capfd)
    assert hishamos.state.executions == []


def test_a_retry_after_the_answer_was_lost_reuses_the_recorded_execution(hishamos, hishamos_conn):
    hishamos_conn("password")
    hishamos.inject("drop_after_commit", method="POST", path=EXECUTE_PATH)
    dr = _run("agent_durable", f"""
HishamOSAgentOperator(task_id="code", agent="coding-agent", prompt="todo list api", retries=2, {NO_RETRY_DELAY})
""")
    assert dr.state == DagRunState.SUCCESS
    assert _ti(dr, "code").try_number == 2
    runs = hishamos.state.executions_of("coding-agent")
    assert len(runs) == 1 and len(hishamos.requests_to("POST", EXECUTE_PATH)) == 1
    result = xcom(dr, "code")
    assert result["text"] == runs[0]["output_data"]["output"] and result["tokens_used"] == runs[0]["tokens_used"]
    assert result["execution_time"] == pytest.approx(runs[0]["execution_time"] * 1000)
    assert xcom(dr, "code", key="hisham_agent_usage")["reused"] is True


def test_hishamos_500_is_reported_and_not_retried(hishamos, hishamos_conn, capfd):
    hishamos_conn("password")
    hishamos.state.inject_agent_fault("async_context", times=5)
    dr = _run("agent_500", f"""
HishamOSAgentOperator(task_id="triage", agent="bug-triage-agent", prompt="crash", retries=2, {NO_RETRY_DELAY})
""")
    assert dr.state == DagRunState.FAILED and _ti(dr, "triage").try_number == 1
    assert len(hishamos.requests_to("POST", EXECUTE_PATH)) == 1
    log = _output(capfd)
    assert "You cannot call this from an async context" in log and "not retried" in log


def test_budget_fails_the_step_that_would_pass_it_with_what_was_spent(hishamos, hishamos_conn, capfd):
    hishamos_conn("password")
    first_prompt, second_prompt = "contract one", "contract two"
    first_tokens, first_cost, _ = usage(first_prompt, f"[Legal Counsel] {first_prompt}")
    second_tokens, second_cost, _ = usage(second_prompt, f"[Legal Counsel] {second_prompt}")
    dr = _run("agent_budget", f"""
one = HishamOSAgentOperator(task_id="one", agent="legal-agent", prompt="{first_prompt}", max_tokens={first_tokens + 1})
two = HishamOSAgentOperator(task_id="two", agent="legal-agent", prompt="{second_prompt}", max_tokens={first_tokens + 1})
three = HishamOSAgentOperator(task_id="three", agent="legal-agent", prompt="three", max_tokens={first_tokens + 1},
                              trigger_rule="all_done", retries=1, {NO_RETRY_DELAY})
one >> two >> three
""")
    assert dr.state == DagRunState.FAILED
    assert _ti(dr, "one").state == TaskInstanceState.SUCCESS
    # two paid (one step under budget before), then took the run over: failed, its usage kept
    assert _ti(dr, "two").state == TaskInstanceState.FAILED
    assert xcom(dr, "two", key="hisham_agent_usage")["tokens"] == second_tokens
    total = first_tokens + second_tokens
    log = _output(capfd)
    assert (f"agent step 'two' took this run over budget (max_tokens {first_tokens + 1}): it spent cost "
            f"{second_cost:.6f} and {second_tokens} tokens; the run's agent steps spent cost "
            f"{first_cost + second_cost:.6f} and {total} tokens in all") in log
    # three is refused before paying, not retried
    assert _ti(dr, "three").state == TaskInstanceState.FAILED and _ti(dr, "three").try_number == 1
    assert (f"agent step 'three' not run: this run's agent steps already spent cost {first_cost + second_cost:.6f} "
            f"and {total} tokens over 2 agent step(s)") in log
    assert len(hishamos.state.executions_of("legal-agent")) == 2


def test_agent_output_becomes_files_on_disk(hishamos, hishamos_conn, tmp_path, capfd):
    hishamos_conn("password")
    out = tmp_path / "out"
    dr = _run("agent_files", f"""
code = HishamOSAgentOperator(task_id="code", agent="Coding Agent", prompt="todo list api")
files = HishamOSFileGenerationOperator(task_id="files", project_id="todo", structure_from=code.output, source_step="code",
                               output_root={str(out)!r})
""")
    assert dr.state == DagRunState.SUCCESS
    project = out / "todo"
    assert sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()) == [
        "README.md", "src/todo_list.py", "tests/test_todo_list.py"]
    assert "def run() -> str:" in (project / "src/todo_list.py").read_text()
    assert xcom(dr, "files")["total_files"] == 3
    bad = json.dumps("```python src/ok.py\nx = 1\n```\n```python ../../escape.py\nboom\n```")
    dr = _run("agent_files_refused", f"""
HishamOSFileGenerationOperator(task_id="files", project_id="evil", structure_from={bad}, source_step="coder",
                       output_root={str(out)!r})
""")
    assert dr.state == DagRunState.FAILED
    assert "output of step 'coder': block at line 4: unsafe path '../../escape.py'" in _output(capfd)
    assert not (out / "evil").exists() and not (tmp_path / "escape.py").exists()


def test_agent_steps_in_a_workflow_config(hishamos, hishamos_conn, tmp_path):
    from tests.workflow.test_patterns import run_config

    hishamos_conn("password")
    out = tmp_path / "out"
    dr = run_config({"dag_id": "wf_agents", "steps": [
        {"id": "triage", "type": "agent", "config": {"agent": "Bug Triage Agent",
                                                     "inputs": {"bug": "Login page crashes"}}},
        {"id": "plan", "type": "agent", "config": {"agent": "QA Agent", "agents": {"QA Agent": "qa-testing-agent"},
                                                   "prompt": "severity {{ steps.triage.output.severity }}",
                                                   "max_tokens": 10000}},
        {"id": "code", "type": "agent", "config": {"agent": "coding-agent", "prompt": "login form"}},
        {"id": "files", "type": "file_generation", "config": {"project_id": "login", "output_root": str(out),
                                                              "structure_from": "{{ steps.code.output }}",
                                                              "source_step": "code"}},
    ]})
    assert dr.state == DagRunState.SUCCESS
    assert hishamos.state.executions_of("qa-testing-agent")[0]["input_data"]["prompt"] == "severity 4"
    assert (out / "login" / "src" / "login_form.py").is_file() and xcom(dr, "files")["total_files"] == 3


def test_mapped_agent_steps_each_have_their_marker_and_count_in_the_budget(hishamos, hishamos_conn, capfd):
    hishamos_conn("password")
    tokens, cost, _ = usage("a", "[Legal Counsel] a")
    dr = _run("agent_mapped", """
req = HishamOSAgentOperator.partial(task_id="req", agent="legal-agent").expand(prompt=["a", "b", "c"])
last = HishamOSAgentOperator(task_id="last", agent="legal-agent", prompt="d", max_tokens=6)
req >> last
""")
    runs = hishamos.state.executions_of("legal-agent")
    assert sorted(r["input_data"]["prompt"] for r in runs) == ["a", "b", "c"]
    assert len({r["context"][MARKER_FIELD] for r in runs}) == 3
    assert _ti(dr, "last").state == TaskInstanceState.FAILED
    assert f"already spent cost {3 * cost:.6f} and {3 * tokens} tokens over 3 agent step(s)" in _output(capfd)


def test_the_runs_conf_maps_agents_below_the_tasks_mapping_and_above_the_connections(hishamos, hishamos_conn, capfd):
    """Precedence: task ``agents`` > ``dag_run.conf["agents"]`` > connection extra ``agents``."""
    hishamos_conn("password", agents={"Helper": "legal-agent", "Writer": "hr-agent"})
    qa_id = hishamos.state.agent_by_slug("qa-testing-agent")["id"]
    body = f"""
fixed = HishamOSAgentOperator(task_id="fixed", agent="Helper", agents={{"Helper": "qa-testing-agent"}}, prompt="p")
by_conf = HishamOSAgentOperator(task_id="by_conf", agent="Helper", prompt="p")
by_conn = HishamOSAgentOperator(task_id="by_conn", agent="Writer", prompt="p")
by_id = HishamOSAgentOperator(task_id="by_id", agent="{qa_id}", prompt="p")
"""
    dr = _run("agent_conf_mapping", body, conf={"agents": {"Helper": "ux-designer", qa_id: "coding-agent"}})
    assert dr.state == DagRunState.SUCCESS
    assert xcom(dr, "fixed")["agent"] == "qa-testing-agent"   # the task's own mapping wins
    assert xcom(dr, "by_conf")["agent"] == "ux-designer"      # the run's conf over the connection
    assert xcom(dr, "by_conn")["agent"] == "hr-agent"         # the connection fills the rest
    assert xcom(dr, "by_id")["agent"] == "qa-testing-agent"   # an id (a definition's resolved agent) is final
    clear_agent_cache()
    paid = len(hishamos.requests_to("POST", EXECUTE_PATH))
    dr = _run("agent_conf_mapping_bad", body, conf={"agents": {"Helper": ["not", "a", "string"]}})
    assert dr.state == DagRunState.FAILED
    assert "dag_run.conf['agents']: target" in _output(capfd)
    # refused before any agent ran, but for the step naming an id (the conf does not apply to it)
    assert len(hishamos.requests_to("POST", EXECUTE_PATH)) == paid + 1


def test_a_definitions_resolver_uses_the_runs_conf_mapping(hishamos, hishamos_conn):
    """``resolve_agents`` (the first task of a HishamOS definition) reads ``dag_run.conf["agents"]``."""
    from types import SimpleNamespace

    from airflow_provider_hisham.workflow.hishamos_definition import resolve_agents as first_task

    hishamos_conn("password")
    run = SimpleNamespace(conf={"agents": {"QA Agent": "qa-testing-agent", "Architect Agent": "nobody"}})
    got = first_task(["QA Agent", "Architect Agent"], {"Architect Agent": "coding-agent"}, dag_run=run)
    assert got["QA Agent"]["agent_id"] == "qa-testing-agent" and got["Architect Agent"]["agent_id"] == "coding-agent"
    with pytest.raises(AgentNotFoundError, match="'QA Agent'"):
        first_task(["QA Agent"], {}, dag_run=SimpleNamespace(conf={}))
