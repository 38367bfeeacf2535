"""A real ``dag.test()`` run of a generate-and-export workflow in a child process.

A child, because Airflow builds its Stats backend and loads the OpenLineage listener once per
process from the configuration: the child gets ``[metrics]`` / ``[openlineage]`` settings of its
own, whatever this test process ran before. It inherits the test session's AIRFLOW_HOME,
metadata DB and connections, and reaches the stand-ins of this process on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from tests.conftest import REPO_ROOT, TEST_DAGS

CHILD = """
import importlib.util, json, sys
from airflow.sdk import DAG
from airflow_provider_hisham.api.retry import RetryPolicy
# The HishamOS hook's waits between retries, recorded instead of slept (as the hishamos_retry_waits
# fixture does in the test process): through RetryPolicy.retrying's public sleep argument.
retry_waits = []
_retrying = RetryPolicy.retrying
RetryPolicy.retrying = lambda self, **kw: _retrying(self, **{**kw, "sleep": kw.get("sleep") or retry_waits.append})
spec = importlib.util.spec_from_file_location("observed_dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
dag = next(v for v in vars(module).values() if isinstance(v, DAG))
run = dag.test(run_conf=json.loads(sys.argv[2]))
states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
print("CHILD_RESULT " + json.dumps({"state": str(run.state), "run_id": run.run_id, "tasks": states,
                                    "retry_waits": retry_waits}))
"""

#: The imports and DAG line of the tests' workflows (``DAG_ID`` replaced by each).
HEADER = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_hisham.operators.agent import HishamOSAgentOperator
from airflow_provider_hisham.operators.api_call import HishamOSApiCallOperator
from airflow_provider_hisham.operators.file_generation import HishamOSFileGenerationOperator
from airflow_provider_hisham.operators.repo_creation import HishamOSRepoCreationOperator

with DAG("DAG_ID", schedule=None, start_date=pendulum.datetime(2025, 1, 1)) as dag:
"""
#: A story is created, a project generated from a template for it and registered in HishamOS,
#: an agent reviews it, and the project is pushed to a git repository.
WORKFLOW = HEADER + """
    story = HishamOSApiCallOperator(
        task_id="story", hishamos_conn_id="CONN_ID", action="create_story",
        data={"project": "{{ dag_run.conf['project'] }}", "title": "{{ dag_run.conf['title'] }}",
              "description": "Observed", "acceptance_criteria": "It works"})
    generate = HishamOSFileGenerationOperator(
        task_id="generate", project_id="observed-DAG_ID", template="python-package",
        context={"project_name": "Observed", "story_id": "{{ ti.xcom_pull('story')['id'] }}"},
        hishamos_conn_id="CONN_ID", hishamos_project_id="{{ dag_run.conf['project'] }}")
    review = HishamOSAgentOperator(task_id="review", hishamos_conn_id="CONN_ID", agent="qa-testing-agent",
                                   inputs={"task_description": "review", "story_id": "{{ ti.xcom_pull('story')['id'] }}"})
    push = HishamOSRepoCreationOperator(task_id="push", source_dir="{{ ti.xcom_pull('generate')['output_dir'] }}",
                                target="git", git_url="GIT_URL", allow_local_remote=True)
    story >> generate >> review >> push
"""


def workflow(dag_id: str, conn_id: str, git_url: str) -> str:
    return WORKFLOW.replace("DAG_ID", dag_id).replace("CONN_ID", conn_id).replace("GIT_URL", git_url)


def run_in_child(source: str, conf: dict, env: dict[str, str], *, timeout: float = 300) -> dict:
    """Run the DAG in ``source`` with ``dag.test()`` in a child Python; its result and output.

    The result's ``retry_waits`` are the HishamOS hook's waits between retries, recorded in the
    child instead of slept."""
    for old in TEST_DAGS.glob("*.py"):
        old.unlink()
    path = TEST_DAGS / "observed.py"
    path.write_text("# airflow dag\n" + textwrap.dedent(source))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), json.dumps(conf)], cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env}, capture_output=True,
                          text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("CHILD_RESULT ")), None)
    assert proc.returncode == 0 and line, f"child run failed ({proc.returncode}):\n{out[-6000:]}"
    return {**json.loads(line.removeprefix("CHILD_RESULT ")), "output": out}


class StatsdListener:
    """A StatsD server on 127.0.0.1 (UDP) keeping every line it receives; stops with the block
    (its socket times out every 0.2 s, so the thread never outlives the test)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            self.lines.extend(data.decode("utf-8", "replace").splitlines())

    def __enter__(self) -> StatsdListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def metrics(self) -> list[tuple[str, dict[str, str], float, str]]:
        """``(name, tags, value, type)`` of each line (influx-style tags ``name,k=v:value|type``)."""
        out = []
        for line in self.lines:
            stat, _, rest = line.rpartition(":")
            value, _, kind = rest.partition("|")
            name, *pairs = stat.split(",")
            out.append((name, dict(p.split("=", 1) for p in pairs), float(value), kind.split("|")[0]))
        return out


def git_bare(tmp: Path) -> str:
    bare = tmp / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    return str(bare)
