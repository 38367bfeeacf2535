"""A real Airflow 3 deployment on 127.0.0.1 for end-to-end tests and the quickstart.

``AirflowStack`` starts the same components as ``docker-compose.yaml`` (api-server, scheduler,
dag-processor, triggerer and, with CeleryExecutor, a Celery worker) as separate processes, each
in its own process group, sharing one Fernet key, JWT secret and API secret key. The metadata
database is a freshly created PostgreSQL database (dropped again on stop) or, for the quickstart,
SQLite. No component listens on anything but 127.0.0.1: the log servers of the scheduler,
triggerer and worker bind every interface and cannot be configured otherwise, so they are
skipped (``--skip-serve-logs``); all components share one log folder that the api-server reads.

The environment comes from ``deployment_env`` so that the e2e topology and the compose file use
the same settings (``tests/test_deployment.py`` checks that parity).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]

# Settings every deployment of this provider carries: docker-compose.yaml's x-airflow-common
# environment must define each of these (checked by tests/test_deployment.py).
DEPLOYMENT_KEYS = (
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__CORE__AUTH_MANAGER",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__CORE__TEST_CONNECTION",
    "AIRFLOW__HISHAM__GENERATED_PROJECTS_ROOT",
)
# Settings only a test stack needs (fast DAG discovery, few forked workers, no login).
TEST_ONLY_KEYS = (
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL",
    "AIRFLOW__CORE__PARALLELISM",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY",
    "AIRFLOW__OPERATORS__DEFAULT_QUEUE",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS",
    "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST",
)

PG_ADMIN_DSN = os.environ.get("HISHAM_E2E_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
REDIS_URL = os.environ.get("HISHAM_E2E_REDIS_URL", "redis://127.0.0.1:6379/0")


class StackError(RuntimeError):
    """A component did not start or stopped; the message carries the tail of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_available() -> str | None:
    """None when the local PostgreSQL accepts connections, else the reason."""
    try:
        import psycopg2

        psycopg2.connect(PG_ADMIN_DSN, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable here"
        return f"PostgreSQL at {PG_ADMIN_DSN!r} is not reachable: {exc}"
    return None


def redis_available() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        return f"Redis at {REDIS_URL} is not reachable: {exc}"
    return None


def deployment_env(
    *,
    executor: str,
    sql_alchemy_conn: str,
    api_port: int,
    generated_projects_root: str,
    broker_url: str = "",
    result_backend: str = "",
) -> dict[str, str]:
    """The deployment settings (``DEPLOYMENT_KEYS``) for a stack whose api-server is on ``api_port``."""
    return {
        "AIRFLOW__CORE__EXECUTOR": executor,
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_alchemy_conn,
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__HISHAM__GENERATED_PROJECTS_ROOT": generated_projects_root,
    }


@dataclass
class AirflowStack:
    """Airflow components as separate processes; use as a context manager (always cleans up)."""

    home: Path
    executor: str = "LocalExecutor"  # or "CeleryExecutor"
    database: str = "postgres"  # or "sqlite" (the quickstart)
    bundles: dict[str, Path] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    admin_password: str | None = None  # None: every user is admin, no login (tests)
    start_timeout: float = 120.0
    # CeleryExecutor: more workers, queue name -> environment overrides (e.g. their own local root)
    extra_workers: dict[str, dict[str, str]] = field(default_factory=dict)

    api_port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    _procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    _db_name: str | None = None
    _queue: str = ""

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> "AirflowStack":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        self.api_port = self.api_port or free_port()
        if self.database == "postgres":
            self._db_name = f"hisham_e2e_{uuid.uuid4().hex[:12]}"
            _create_database(self._db_name)
            conn = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{self._db_name}"
        else:
            conn = f"sqlite:///{self.home / 'airflow.db'}"
        self.env = self.build_env(conn)
        self._airflow("db", "migrate", timeout=300)
        if self.admin_password is not None:
            (self.home / "passwords.json").write_text(json.dumps({"admin": self.admin_password}))
        self._spawn("api-server", "api-server", "-H", "127.0.0.1", "-p", str(self.api_port))
        self._spawn("scheduler", "scheduler", "--skip-serve-logs")
        self._spawn("dag-processor", "dag-processor")
        self._spawn("triggerer", "triggerer", "--skip-serve-logs")
        if self.executor == "CeleryExecutor":
            self._spawn(
                "celery-worker", "celery", "worker", "--skip-serve-logs", "-q", self._queue,
                "--concurrency", self.env["AIRFLOW__CELERY__WORKER_CONCURRENCY"],
                "--without-mingle", "--without-gossip",
            )
            for queue, overrides in self.extra_workers.items():
                self._spawn(f"celery-worker-{queue}", "celery", "worker", "--skip-serve-logs", "-q", queue,
                            "--celery-hostname", f"{queue}@%h", "--concurrency", "2", "--without-mingle",
                            "--without-gossip", env={**self.env, **overrides})
        self._wait_healthy()

    def stop(self) -> None:
        """SIGTERM every process group, SIGKILL what is left after 30 s, drop the database."""
        for proc in self._procs.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self._procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc, signal.SIGKILL)  # also reaps children left behind by a clean exit
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._procs.clear()
        if self._db_name:
            _drop_database(self._db_name)
            self._db_name = None
        if self._queue and self.executor == "CeleryExecutor":
            try:
                import redis

                redis.Redis.from_url(REDIS_URL).delete(self._queue, *self.extra_workers)
            except Exception:  # noqa: BLE001 - best effort; the queue name is unique anyway
                pass

    # -- set-up --------------------------------------------------------------------------------
    def build_env(self, sql_alchemy_conn: str) -> dict[str, str]:
        """The components' environment: ours only, nothing inherited from a calling Airflow."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
        conn = sql_alchemy_conn
        celery = self.executor == "CeleryExecutor"
        self._queue = f"hisham-e2e-{uuid.uuid4().hex[:8]}"
        env.update(
            deployment_env(
                executor=self.executor,
                sql_alchemy_conn=conn,
                api_port=self.api_port,
                generated_projects_root=str(self.home / "generated-projects"),
                broker_url=REDIS_URL if celery else "",
                result_backend=f"db+{conn}" if celery else "",
            )
        )
        bundles = self.bundles or {"dags-folder": REPO_ROOT / "dags"}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(next(iter(bundles.values()))),
                "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
                    [
                        {"name": name, "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                         "kwargs": {"path": str(path)}}
                        for name, path in bundles.items()
                    ]
                ),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "3",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
                # A queue of our own: other test runs may share this Redis.
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self._queue,
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])),
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        if self.admin_password is None:
            env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
        else:
            env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = "admin:admin"
            env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(self.home / "passwords.json")
        env.update(self.extra_env)
        return env

    def _airflow(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=self.env, cwd=self.home,
            capture_output=True, text=True, timeout=timeout,
        )
        if result.returncode:
            raise StackError(f"airflow {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result.stdout

    def _spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = open(self.home / f"{name}.log", "wb")  # noqa: SIM115 - owned by the child process
        self._procs[name] = subprocess.Popen(
            [sys.executable, "-m", "airflow", *args], env=env or self.env, cwd=self.home,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        wanted = {"metadatabase", "scheduler", "dag_processor", "triggerer"}
        last: Any = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                last = requests.get(f"{self.api_url}/api/v2/monitor/health", timeout=5).json()
                if all((last.get(k) or {}).get("status") == "healthy" for k in wanted):
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(1)
        raise StackError(f"Airflow not healthy after {self.start_timeout:.0f} s: {last}\n{self.logs_tail()}")

    # -- use -------------------------------------------------------------------------------------
    def check_alive(self) -> None:
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                raise StackError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def logs_tail(self) -> str:
        return "\n".join(f"--- {name}\n{self.log_tail(name, 1500)}" for name in self._procs)

    def token(self) -> str:
        """A JWT for the REST API (any password works when every user is admin)."""
        resp = requests.post(
            f"{self.api_url}/auth/token",
            json={"username": "admin", "password": self.admin_password or "unused"},
            timeout=10,
        )
        resp.raise_for_status()
        return resp.json()["access_token"]

    def client(self):
        """An ``airflow_client.client.ApiClient`` for the official Python client."""
        import airflow_client.client as ac

        return ac.ApiClient(ac.Configuration(host=self.api_url, access_token=self.token()))

    def wait_for_dags(self, *dag_ids: str, timeout: float = 90) -> None:
        """Wait until the dag-processor has serialized the DAGs (else fail with import errors)."""
        headers = {"Authorization": f"Bearer {self.token()}"}
        deadline = time.monotonic() + timeout
        missing: set[str] = set(dag_ids)
        while time.monotonic() < deadline:
            self.check_alive()
            for dag_id in list(missing):
                if requests.get(f"{self.api_url}/api/v2/dags/{dag_id}/details", headers=headers, timeout=10).ok:
                    missing.discard(dag_id)
            if not missing:
                return
            time.sleep(1)
        errors = requests.get(f"{self.api_url}/api/v2/importErrors", headers=headers, timeout=10).json()
        raise StackError(f"DAGs never parsed: {sorted(missing)}; import errors: {errors}\n{self.log_tail('dag-processor')}")


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _admin_connection():
    import psycopg2

    conn = psycopg2.connect(PG_ADMIN_DSN, connect_timeout=5)
    conn.autocommit = True
    return conn


def _admin_sql(statement: str) -> None:
    conn = _admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def _create_database(name: str) -> None:
    _admin_sql(f'CREATE DATABASE "{name}"')


def _drop_database(name: str) -> None:
    _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
