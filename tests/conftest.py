"""Test session set-up: a real, migrated Airflow metadata database in a private AIRFLOW_HOME.

The environment is fixed before anything imports Airflow, so every test (and every
``dag.test()`` run) uses this throw-away home, never the developer's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import textwrap
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest_plugins = ["tests.servers.fixtures"]

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HISHAM_SHARED_DIR") or REPO_ROOT.parent / "shared")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

_HOME = Path(tempfile.mkdtemp(prefix="hisham-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
TEST_DAGS = _HOME / "test_dags"
TEST_DAGS.mkdir()
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
# Three bundles: the shipped example DAGs, DAG files kept for tests, and DAG files that tests
# write on the fly (``run_dag``). ``dag.test()`` needs the DAG to be parsed from a bundle.
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {"name": name, "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {"path": str(path)}}
        for name, path in (("dags-folder", REPO_ROOT / "dags"), ("tests", REPO_ROOT / "tests" / "dags"), ("generated", TEST_DAGS))
    ]
)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", "o_ZzDXQ0BgqR6b9_JZlB3lPb1xhWQ2yVqOuk8kGzLx4=")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ["AIRFLOW__HISHAM__GENERATED_PROJECTS_ROOT"] = str(_HOME / "generated-projects")
# Test servers are on 127.0.0.1; never send their traffic through a proxy.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Migrate the metadata DB once per test process (about 4 s on SQLite)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)


def skip_or_fail(reason: str) -> None:
    """Skip a test whose local service is missing; under CI=true the same condition fails it."""
    if IN_CI:
        pytest.fail(f"required under CI=true: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared contracts (``../shared``), for the tests that compare our vendored copies
    with them. A checkout elsewhere has no ``../shared``: those comparisons skip (the vendored copies
    the other tests use are in the repository), wherever they run."""
    if not SHARED.is_dir():
        pytest.skip(f"the shared contracts folder {SHARED} is not beside this checkout")
    return SHARED


def run_dag(source: str, *, conf: dict | None = None, name: str | None = None):
    """Write ``source`` as a DAG file into the test bundle, parse it and run it with ``dag.test()``.

    ``source`` must define exactly one DAG at module level. Returns the finished DagRun; use
    ``xcom(dag_run, task_id)`` for results. Earlier generated files are removed first so each
    run parses only its own file.
    """
    from airflow.sdk import DAG

    source = textwrap.dedent(source)
    stem = name or f"dag_{abs(hash(source)) & 0xFFFFFFFF:x}"
    for old in TEST_DAGS.glob("*.py"):
        old.unlink()
    path = TEST_DAGS / f"{stem}.py"
    path.write_text("# airflow dag\n" + source)
    spec = importlib.util.spec_from_file_location(f"hisham_test_dag_{stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dags = [v for v in vars(module).values() if isinstance(v, DAG)]
    assert len(dags) == 1, f"{path} must define exactly one DAG, found {len(dags)}"
    return dags[0].test(run_conf=conf)


def xcom(dag_run, task_id: str, key: str = "return_value", map_index: int = -1):
    """The XCom value a task of a finished ``dag.test()`` run pushed."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=dag_run.run_id, key=key, dag_ids=dag_run.dag_id, task_ids=task_id, map_indexes=map_index
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)
