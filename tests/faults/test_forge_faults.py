"""Real ``dag.test()`` runs of repository export with retries while GitHub, GitLab or the git
server misbehave: rate limits, 5xx, stalls past the timeout, resets, answers lost after the
repository was created, and pushes refused by a real ``pre-receive`` hook.

Each run ends successful (exactly one repository, holding the pushed commit) or failed with an
error naming the cause; a refused push leaves no branch behind.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import run_dag, xcom
from tests.servers.repo_fixtures import TOKEN

HEAD = """
from datetime import datetime, timedelta
from airflow.sdk import DAG
from airflow_provider_hisham.operators.repo_creation import HishamOSRepoCreationOperator

with DAG("{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         default_args={{"retries": {retries}, "retry_delay": timedelta(seconds=0)}}) as dag:
    HishamOSRepoCreationOperator(task_id="export", {kwargs})
"""

# Push retries record their waits instead of sleeping them (the operators' default backoff).
pytestmark = pytest.mark.usefixtures("push_retry_waits")


def _run(dag_id: str, kwargs: str, retries: int = 3):
    return run_dag(HEAD.format(dag_id=dag_id, kwargs=kwargs, retries=retries))


def _queue(state, method: str, prefix: str, kind: str, count: int, delay: float) -> list:
    """Queue ``count`` faults (HTTP answers through ``fail_next``, network ones through ``fail_network``)."""
    if kind in ("stall", "reset", "drop_after_commit"):
        state.fail_network(method, prefix, kind, count, delay=delay)
        return state.network_faults
    state.fail_next(method, prefix, kind, count)
    return state.faults


def _retarget(monkeypatch, conn_id: str, **extra) -> None:
    """The test connection with extra fields (e.g. a short ``timeout`` for the stall faults)."""
    key = f"AIRFLOW_CONN_{conn_id.upper()}"
    body = json.loads(os.environ[key])
    body["extra"].update(extra)
    monkeypatch.setenv(key, json.dumps(body))


# forge -> (the create call, the account repositories are created under)
FORGES = {"github": ("/user/repos", "octo-user"), "gitlab": ("/api/v4/projects", "gl-user")}
FORGE_FAULTS = [("github", "5xx", 2), ("github", "secondary429", 1), ("github", "primary429", 1),
                ("github", "reset", 2), ("github", "drop_after_commit", 1), ("github", "stall", 1),
                ("gitlab", "429", 2), ("gitlab", "5xx", 1), ("gitlab", "reset", 1),
                ("gitlab", "drop_after_commit", 1), ("gitlab", "stall", 1)]
# (forge, fault) -> the hook's waits before its retries (recorded, not slept). GitHub (urllib3,
# backoff_factor 1): none before the first retry of an error, then 1 * 2 ** (errors - 1) s;
# Retry-After (secondary limit: 1 s) first; a primary limit until x-ratelimit-reset + 1 s (1-2 s,
# checked apart). GitLab (python-gitlab): Retry-After (1 s) for a 429, else 0.1 * 2 ** retries s.
FORGE_WAITS = {("github", "5xx"): [2], ("github", "secondary429"): [1], ("github", "reset"): [2],
               ("github", "drop_after_commit"): [], ("github", "stall"): [],
               ("gitlab", "429"): [1, 1], ("gitlab", "5xx"): [0.1], ("gitlab", "reset"): [0.1],
               ("gitlab", "drop_after_commit"): [0.1], ("gitlab", "stall"): [0.1]}


def _created(forge: str, api, name: str) -> list[str]:
    """The repositories the forge holds whose name starts with ``name``."""
    if forge == "github":
        return [n for n in api.state.repos if n.split("/", 1)[1].startswith(name)]
    return [p["path_with_namespace"] for p in api.state.projects.values() if p["path"].startswith(name)]


@pytest.mark.parametrize(("forge", "kind", "count"), FORGE_FAULTS)
def test_repository_created_once(forge, kind, count, request, make_project, monkeypatch, fault_log,
                                 push_retry_waits, forge_retry_waits):
    conn_id, api = request.getfixturevalue(f"{forge}_conn"), request.getfixturevalue(f"{forge}_api")
    create, owner = FORGES[forge]
    name = f"{forge}-fault-{kind}".replace("_", "-")
    _retarget(monkeypatch, conn_id, timeout=1)
    queue = _queue(api.state, "POST", create, kind, count, delay=2.5)
    before = len(queue)
    run = _run(f"fault_{name.replace('-', '_')}", f"source_dir={str(make_project(4, name))!r}, target={forge!r}, "
                                                  f"{forge}_conn_id={conn_id!r}")
    fault_log.inject(f"{forge} POST {create}", kind, before - len(queue))
    assert run.state == "success"
    assert _created(forge, api, name) == [f"{owner}/{name}"]
    assert api.state.git.head(f"{owner}/{name}") == xcom(run, "export")["commit_sha"]
    assert push_retry_waits == []  # the faults hit the create call: the push went through at once
    if (forge, kind) == ("github", "primary429"):
        assert len(forge_retry_waits) == 1 and 1 <= forge_retry_waits[0] <= 2, forge_retry_waits
    else:
        assert forge_retry_waits == pytest.approx(FORGE_WAITS[forge, kind])
    fault_log.survived("success")


@pytest.fixture
def git_conn(git_server, monkeypatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_GIT_FAULTS", json.dumps(
        {"conn_type": "generic", "host": git_server.url, "login": "x-access-token", "password": TOKEN}))
    return "git_faults"


def _pushes(git_server, path: str) -> int:
    """receive-pack POSTs nginx logged for ``path`` (each is one push attempt)."""
    log = (git_server.run / "access.log").read_text()
    return sum(1 for line in log.splitlines() if f"/{path}.git/git-receive-pack" in line and '"POST' in line)


def test_push_refused_for_good_fails_clearly_and_leaves_no_branch(git_server, git_conn, make_project, capfd,
                                                                   caplog, fault_log, push_retry_waits):
    path = "plain/refused"
    git_server.create_bare(path)
    git_server.set_push_hook(path, refuse="push refused by policy: protected repository")
    run = _run("fault_push_refused", f"source_dir={str(make_project(3, 'refused'))!r}, target='git', "
                                     f"git_conn_id={git_conn!r}, git_url={git_server.repo_url(path)!r}", retries=1)
    attempts = _pushes(git_server, path)
    fault_log.inject("git receive-pack", "pre-receive declined", attempts)
    assert run.state == "failed"
    output = capfd.readouterr()
    text = output.out + output.err + caplog.text
    assert "push refused by policy: protected repository" in text or "pre-receive hook declined" in text
    assert git_server.head(path) is None  # nothing half-pushed
    assert TOKEN not in text
    # each of the two task tries: push_retries=3 retries, push_backoff=2 s doubling (recorded, not slept)
    assert push_retry_waits == [2, 4, 8] * 2 and attempts == 8
    fault_log.survived("failed: pre-receive hook declined")


def test_push_refused_once_then_accepted_on_retry(git_server, git_conn, make_project, fault_log, push_retry_waits):
    path = "plain/refused-once"
    git_server.create_bare(path)
    # The hook removes itself after refusing once: the next push (a retry) is accepted.
    git_server.set_push_hook(path, refuse="temporarily read-only", once=True)
    hook = git_server.root / f"{path}.git" / "hooks" / "pre-receive"
    run = _run("fault_push_refused_once", f"source_dir={str(make_project(3, 'refused-once'))!r}, target='git', "
                                          f"git_conn_id={git_conn!r}, git_url={git_server.repo_url(path)!r}")
    fault_log.inject("git receive-pack", "pre-receive declined", 1 if not hook.exists() else 0)
    assert run.state == "success"
    sha = xcom(run, "export")["commit_sha"]
    assert git_server.head(path) == sha
    commits = subprocess.run(["git", "-C", str(git_server.root / f"{path}.git"), "rev-list", "--count", sha], capture_output=True, text=True)
    assert commits.stdout.strip() == "1"  # one commit, not one per attempt
    assert push_retry_waits == [2]  # one retry, after push_backoff (2 s, recorded instead of slept)
    fault_log.survived("success")
