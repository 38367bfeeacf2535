"""Quickstart: a real Airflow 3 with this provider runs the sequential example end to end.

Run through ``bash scripts/quickstart.sh`` (which prepares the virtual environment). Starts, all
on 127.0.0.1 and stopped again on exit (also on Ctrl-C or an error):

* Airflow (api-server, scheduler, dag-processor, triggerer; LocalExecutor, SQLite metadata
  database, a temporary AIRFLOW_HOME) with the example DAGs of ``dags/``;
* unless ``AIRFLOW_CONN_HISHAMOS_DEFAULT`` is set: the LOCAL HishamOS STAND-IN from the tests
  (``tests/servers/hishamos.py``), not the real HishamOS;
* unless ``AIRFLOW_CONN_GITHUB_DEFAULT`` or ``AIRFLOW_CONN_GITLAB_DEFAULT`` is set: a local git
  smart-HTTP server (``tests/servers/git_http.py``) to push the generated repository to.

Then it triggers the example through the REST API with the DAG's own Params (filling in
``hishamos_project``, ``target``, ``git_url`` and ``archive_dir`` when the DAG declares them), shows
each task's progress and prints where the generated project, the pushed repository and the
archive are. The temporary folder with those results is kept; everything else is stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.e2e.examples import collect_results, conf_for, find_example, local_git_settings  # noqa: E402
from tests.e2e.stack import AirflowStack, free_port  # noqa: E402


def say(message: str) -> None:
    print(f"[quickstart] {message}", flush=True)


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds through the ExitStack, which stops everything


def start_hishamos_stand_in(stack: ExitStack, home: Path) -> dict[str, Any]:
    """``python -m tests.servers.hishamos`` as a child process; returns what it prints."""
    log = open(home / "hishamos-stand-in.log", "w+")  # noqa: SIM115 - closed by the ExitStack
    stack.callback(log.close)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.servers.hishamos", "--port", str(free_port()), "--lifetime", "7200"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    stack.callback(_stop_process, proc)
    text, deadline = "", time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        text += line
        try:
            return json.loads(text)
        except ValueError:
            continue
    log.seek(0)
    raise RuntimeError(f"the local HishamOS stand-in did not start:\n{text}{log.read()[-2000:]}")


def _stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)


def start_git_server(stack: ExitStack, home: Path, repository: str) -> tuple[Any, str, str]:
    from tests.servers.git_http import GitHttpServer

    token = secrets.token_urlsafe(24)
    server = GitHttpServer(token, max_lifetime=7200).start()
    stack.callback(server.stop)
    server.create_bare(repository)
    return server, server.repo_url(repository), token


def find_dag(airflow: AirflowStack, headers: dict[str, str], wanted: str) -> dict[str, Any]:
    """The DAG called ``wanted``, or the one example tagged with it (``sequential``)."""
    import requests

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        airflow.check_alive()
        dags = requests.get(f"{airflow.api_url}/api/v2/dags", params={"limit": 1000},
                            headers=headers, timeout=10).json()["dags"]
        found = find_example(dags, wanted)
        if len(found) > 1:
            raise RuntimeError(f"{wanted!r} matches several DAGs: {', '.join(d['dag_id'] for d in found)}")
        if found:
            dag_id = found[0]["dag_id"]
            return requests.get(f"{airflow.api_url}/api/v2/dags/{dag_id}/details", headers=headers, timeout=10).json()
        time.sleep(1)
    errors = requests.get(f"{airflow.api_url}/api/v2/importErrors", headers=headers, timeout=10).json()
    raise RuntimeError(f"no DAG called or tagged {wanted!r} was parsed; import errors: {json.dumps(errors, indent=1)}")


def follow(airflow: AirflowStack, rest: Any, dag_id: str, run_id: str, timeout: float) -> Any:
    """Print each task's state changes until the run finishes; return the RunResult."""
    from tests.e2e.rest import FINISHED

    seen: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        airflow.check_alive()
        for ti in rest.task_instances.get_task_instances(dag_id, run_id, limit=100).task_instances:
            state = str(getattr(ti.state, "value", ti.state) or "waiting")
            if seen.get(ti.task_id) != state:
                seen[ti.task_id] = state
                say(f"  {ti.task_id:<32} {state}")
        run = rest.dag_runs.get_dag_run(dag_id, run_id)
        if str(getattr(run.state, "value", run.state)) in FINISHED:
            return rest.wait(dag_id, run_id, timeout=10)
        time.sleep(1)
    raise TimeoutError(f"{dag_id} did not finish in {timeout:.0f} s")


def parse_conf(text: str) -> dict[str, Any]:
    """``--conf``: a JSON object, or a one-line error (before anything starts)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"not valid JSON ({exc.msg} at column {exc.colno}); give an object, e.g. --conf '{{\"name\": \"value\"}}'"
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object ({{...}}), not {type(value).__name__}")
    return value


def wait_until_interrupted(airflow: AirflowStack) -> None:
    """``--keep-running``: leave everything up for the UI until Ctrl-C (or SIGTERM)."""
    say(f"everything keeps running for you to explore: {airflow.api_url} ; press Ctrl-C to stop it all")
    try:
        while True:
            airflow.check_alive()
            time.sleep(2)
    except KeyboardInterrupt:
        say("stopping on request")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dag", default="sequential",
                        help="DAG id, or a pattern tag of the examples: sequential (default), parallel, conditional, "
                             "agents (requirements agent -> a story per requirement -> coding agent -> pushed repository)")
    parser.add_argument("--bundle", action="append", default=[], help="extra DAG folder(s) besides dags/")
    parser.add_argument("--conf", default={}, type=parse_conf, help="JSON object merged over what the quickstart fills in")
    parser.add_argument("--home", default=None, help="AIRFLOW_HOME to use (default: a new temporary folder)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the run")
    parser.add_argument("--keep-running", action="store_true",
                        help="after the run, keep Airflow and the stand-ins up (UI to explore) until Ctrl-C")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)

    home = Path(args.home or tempfile.mkdtemp(prefix="hisham-quickstart-"))
    home.mkdir(parents=True, exist_ok=True)
    say(f"AIRFLOW_HOME (kept after exit: generated projects, archives, logs): {home}")
    env: dict[str, str] = {}
    overrides: dict[str, Any] = {"archive_dir": str(home / "archives")}
    repository = "quickstart-project"
    started = time.monotonic()
    with ExitStack() as stack:
        if os.environ.get("AIRFLOW_CONN_HISHAMOS_DEFAULT"):
            say("HishamOS: the real service from AIRFLOW_CONN_HISHAMOS_DEFAULT")
            env["AIRFLOW_CONN_HISHAMOS_DEFAULT"] = os.environ["AIRFLOW_CONN_HISHAMOS_DEFAULT"]
        else:
            info = start_hishamos_stand_in(stack, home)
            say(f"HishamOS: LOCAL STAND-IN from the tests (not the real HishamOS) at {info['url']}, "
                f"user {info['email']}")
            env["AIRFLOW_CONN_HISHAMOS_DEFAULT"] = info["AIRFLOW_CONN_HISHAMOS_DEFAULT"]
            overrides.update(hishamos_project=info.get("demo_project_id"), user_id=info.get("user_id"))
        git = None
        for name, target in (("AIRFLOW_CONN_GITHUB_DEFAULT", "github"), ("AIRFLOW_CONN_GITLAB_DEFAULT", "gitlab")):
            if os.environ.get(name):
                say(f"repository: the real {target} from {name}")
                env[name] = os.environ[name]
                overrides["target"] = target
                break
        else:
            try:
                git, git_url, token = start_git_server(stack, home, repository)
            except (ImportError, RuntimeError) as exc:
                say(f"no local git server ({exc}); the DAG's own repository target is used")
        if git is not None:
            say(f"repository: local git smart-HTTP server at {git.url} (stand-in for GitHub/GitLab)")
            git_env, git_params = local_git_settings(git_url, token, repository)
            env.update(git_env)
            overrides.update(git_params)
        overrides.update(args.conf)

        bundles = {"dags-folder": REPO_ROOT / "dags"}
        bundles.update({f"extra-{i}": Path(p).resolve() for i, p in enumerate(args.bundle)})
        bundles = {name: path for name, path in bundles.items() if path.is_dir()}
        say("starting Airflow 3 (api-server, scheduler, dag-processor, triggerer; SQLite) on 127.0.0.1 ...")
        password = secrets.token_urlsafe(12)
        airflow = AirflowStack(home=home, database="sqlite", bundles=bundles, extra_env=env, admin_password=password)
        stack.callback(airflow.stop)
        airflow.start()
        say(f"Airflow UI and REST API: {airflow.api_url} (user admin, password {password})")

        from tests.e2e.rest import Rest

        headers = {"Authorization": f"Bearer {airflow.token()}"}
        dag = find_dag(airflow, headers, args.dag)
        conf = conf_for(dag.get("params") or {}, overrides)
        rest = Rest(airflow.client())
        from airflow_client.client.exceptions import BadRequestException

        try:
            run_id = rest.trigger(dag["dag_id"], conf)
        except BadRequestException as exc:  # a conf the DAG's Params refuse: say which, and how to fix it
            detail = json.loads(exc.body or "{}").get("detail", exc.body) if exc.body else exc.reason
            say(f"the REST API refused the conf {json.dumps(conf)} for {dag['dag_id']}: {detail}")
            say("give the missing or corrected Params with --conf '{\"name\": value}' "
                f"(the DAG's Params: {', '.join(sorted(dag.get('params') or {}))})")
            return 2
        say(f"triggered {dag['dag_id']} through the REST API (run {run_id}) with conf {json.dumps(conf)}")
        result = follow(airflow, rest, dag["dag_id"], run_id, args.timeout)
        found = collect_results(rest, result)
        if result.state != "success":
            for task_id, state in result.states().items():
                if state == "failed":
                    say(f"task {task_id} failed; its log: {airflow.api_url}/dags/{dag['dag_id']}/runs/{run_id}/tasks/{task_id}")
                    for line in rest.errors(result, task_id):
                        say(f"    {line}")
            say(f"the run FAILED after {time.monotonic() - started:.0f} s")
            if args.keep_running:
                wait_until_interrupted(airflow)
            return 1
        say(f"the run succeeded in {time.monotonic() - started:.0f} s")
        for key, value in found.items():
            say(f"  {key}: {value}")
        if git is not None and git.head(repository):
            copy = home / "pushed-repository"
            subprocess.run(["git", "clone", "-q", str(git.root / f"{repository}.git"), str(copy)], check=True)
            say(f"pushed repository: {git.repo_url(repository)} at commit {git.head(repository)} "
                f"({'it keeps running' if args.keep_running else 'the server stops now'}; a clone is kept at {copy})")
        if args.keep_running:
            wait_until_interrupted(airflow)
        say("stopping everything the quickstart started ...")
    say("done")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("interrupted; everything started was stopped")
        sys.exit(130)
