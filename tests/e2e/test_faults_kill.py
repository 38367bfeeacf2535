"""A task process SIGKILLed mid-generation, mid-push and mid-agent call, then retried by the
scheduler: a real LocalExecutor deployment on PostgreSQL (tests/e2e/stack.py).

Each task writes its process id when it starts (``on_execute_callback``, which runs in the task
process); the test waits until the task is inside the step (files being written, a push inside
the git server's hook, an agent call held by the HishamOS stand-in), SIGKILLs that process and
lets Airflow retry. Afterwards: the run succeeded, one agent execution, one generated-project
record, one commit, no temporary tree, and the project matches its manifest.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.e2e.rest import Rest
from tests.faults.manifest import manifest_mismatches
from tests.faults.results import fault_log, register_secrets  # noqa: F401 - fixture
from tests.faults.stack import bundle_stack
from tests.servers.hishamos_agents import EXECUTE_PATH

pytestmark = pytest.mark.timeout(900)  # the stack's start and three killed-and-retried runs
FILES = 4000  # enough small files that generation takes seconds even on a fast machine
DAGS = '''
import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG
from airflow_provider_hisham.operators.agent import HishamOSAgentOperator
from airflow_provider_hisham.operators.file_generation import HishamOSFileGenerationOperator
from airflow_provider_hisham.operators.repo_creation import HishamOSRepoCreationOperator


def note_pid(context):
    """Runs in the task process: the test SIGKILLs the process id written here."""
    ti = context["ti"]
    Path(os.environ["HISHAM_FAULT_PIDS"], f"{ti.dag_id}.{ti.try_number}.pid").write_text(str(os.getpid()))


def dag(dag_id, delay=3):
    return DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
               default_args={"retries": 2, "retry_delay": timedelta(seconds=delay), "on_execute_callback": note_pid})


with dag("kill_generation"):
    HishamOSFileGenerationOperator(task_id="generate", project_id="killed-generation", hishamos_conn_id="hishamos_default",
                           hishamos_project_id="{{ dag_run.conf['project'] }}",
                           structure={f"pkg{i % 40}/module_{i}.py": f"VALUE = {i}\\n" for i in range(FILES)})

with dag("kill_push"):
    HishamOSRepoCreationOperator(task_id="export", source_dir="{{ dag_run.conf['source'] }}", target="git",
                         git_url="{{ dag_run.conf['git_url'] }}", git_conn_id="git_faults", push_backoff=0.5,
                         commit_date=datetime(2026, 1, 1))

# The retry waits until the stand-in has committed the call the killed try was waiting for.
with dag("kill_agent", delay=12):
    HishamOSAgentOperator(task_id="code", agent="coding-agent", prompt="todo list api")
'''.replace("FILES", str(FILES))


@pytest.fixture(scope="module")
def services():
    from tests.servers.git_http import GitHttpServer, missing_tools
    from tests.servers.hishamos import HishamOSServer

    if missing_tools():
        skip_or_fail(f"the local git server needs {missing_tools()}")
    token = secrets.token_urlsafe(24)
    with HishamOSServer(rate_limits=False) as hishamos, GitHttpServer(token) as git:
        yield {"hishamos": hishamos, "git": git, "token": token}
        register_secrets({token, *hishamos.state.secrets()})  # for the report's scan of the kept logs


@pytest.fixture(scope="module")
def kill_stack(services, tmp_path_factory):
    pids = tmp_path_factory.mktemp("pids")
    hishamos, git = services["hishamos"], services["git"]
    env = {"HISHAM_FAULT_PIDS": str(pids),
           "AIRFLOW_CONN_HISHAMOS_DEFAULT": hishamos.connection_json("password", timeout=60),
           "AIRFLOW_CONN_GIT_FAULTS": json.dumps({"conn_type": "generic", "host": git.url,
                                                  "login": "x-access-token", "password": services["token"]})}
    with bundle_stack("LocalExecutor", {"hisham_kill_dags.py": DAGS}, extra_env=env) as stack:
        stack.wait_for_dags("kill_generation", "kill_push", "kill_agent", timeout=180)
        yield stack, Rest(stack.client()), pids


def _wait_for(predicate, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _kill_try_one(pids: Path, dag_id: str, inside, what: str) -> int:
    """SIGKILL try 1's task process once ``inside()`` says it is in the middle of the step."""
    pid_file = pids / f"{dag_id}.1.pid"
    _wait_for(pid_file.exists, f"{dag_id}'s task process to start")
    pid = int(pid_file.read_text())
    _wait_for(inside, what)
    os.kill(pid, signal.SIGKILL)
    return pid


def _finish(rest: Rest, dag_id: str, run_id: str, task_id: str):
    result = rest.wait(dag_id, run_id, timeout=300)
    ti = result.tasks[task_id]
    assert result.state == "success", (result.states(), rest.errors(result, task_id))
    assert ti.try_number >= 2, "the killed try was not retried"
    return result


def test_sigkill_mid_generation_then_retry(kill_stack, services, fault_log):
    stack, rest, pids = kill_stack
    hishamos = services["hishamos"]
    root = Path(stack.env["AIRFLOW__HISHAM__GENERATED_PROJECTS_ROOT"])
    state = root / ".hisham" / "killed-generation"

    def writing() -> bool:  # a temporary tree with some files in it: generation is under way
        return any(sum(1 for _ in tmp.rglob("*.py")) > 50 for tmp in state.glob("tmp-*")) if state.exists() else False

    run_id = rest.trigger("kill_generation", {"project": hishamos.state.demo_project_id})
    _kill_try_one(pids, "kill_generation", writing, "files to be written")
    fault_log.inject("task process", "SIGKILL mid-generation", 1)
    result = _finish(rest, "kill_generation", run_id, "generate")
    summary = rest.xcom(result, "generate")
    assert summary["total_files"] == FILES and manifest_mismatches(summary) == []
    assert [p.name for p in state.iterdir() if p.name.startswith("tmp-")] == []  # no half-written tree left
    (record,) = [r for r in hishamos.state.generated_projects.values()]  # one record, not one per try
    assert record["status"] == "completed" and record["id"] == summary["generated_project_id"]
    fault_log.survived("success")


def test_sigkill_mid_push_then_retry(kill_stack, services, fault_log, tmp_path):
    stack, rest, pids = kill_stack
    git = services["git"]
    path = "plain/killed-push"
    git.create_bare(path)
    reached = tmp_path / "push-reached-hook"
    git.set_push_hook(path, stall=8, once=True, mark=reached)
    source = Path(stack.env["AIRFLOW__HISHAM__GENERATED_PROJECTS_ROOT"]) / "push-source"
    for i in range(20):
        (source / f"pkg{i % 3}").mkdir(parents=True, exist_ok=True)
        (source / f"pkg{i % 3}" / f"m{i}.py").write_text(f"V = {i}\n")
    run_id = rest.trigger("kill_push", {"source": str(source), "git_url": git.repo_url(path)})
    _kill_try_one(pids, "kill_push", reached.exists, "the push to reach the git server's hook")
    fault_log.inject("task process", "SIGKILL mid-push", 1)
    result = _finish(rest, "kill_push", run_id, "export")
    sha = rest.xcom(result, "export")["commit_sha"]
    assert git.head(path) == sha
    count = subprocess.run(["git", "-C", str(git.root / f"{path}.git"), "rev-list", "--count", "--all"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert count == "1"  # one commit, whatever the killed push left
    fault_log.survived("success")


def test_sigkill_mid_agent_call_then_retry(kill_stack, services, fault_log):
    stack, rest, pids = kill_stack
    hishamos = services["hishamos"]
    fault = hishamos.inject("delay", method="POST", path=EXECUTE_PATH, delay=6)
    run_id = rest.trigger("kill_agent", {})
    _kill_try_one(pids, "kill_agent", lambda: fault.hits > 0, "the agent call to reach HishamOS")
    fault_log.inject("task process", "SIGKILL mid-agent call", 1)
    result = _finish(rest, "kill_agent", run_id, "code")
    runs = hishamos.state.executions_of("coding-agent")
    assert len(runs) == 1, runs  # the retry reused the execution the killed try started
    assert rest.xcom(result, "code")["text"] == runs[0]["output_data"]["output"]
    fault_log.survived("success")
