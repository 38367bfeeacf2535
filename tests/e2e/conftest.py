"""Fixtures that run a real Airflow deployment (tests/e2e/stack.py) for the e2e tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.e2e.rest import Rest
from tests.e2e.stack import REPO_ROOT, AirflowStack, postgres_available, redis_available

# The bundles a deployment would mount (dags/) plus the DAG files kept for tests.
E2E_BUNDLES = {"dags-folder": REPO_ROOT / "dags", "tests": REPO_ROOT / "tests" / "dags"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


def start_stack(executor: str, **kwargs) -> tuple[AirflowStack, Path]:
    reason = postgres_available() or (redis_available() if executor == "CeleryExecutor" else None)
    if reason:
        skip_or_fail(reason)
    home = Path(tempfile.mkdtemp(prefix=f"hisham-e2e-{executor.lower()}-"))
    bundles = {name: path for name, path in E2E_BUNDLES.items() if path.is_dir()}
    stack = AirflowStack(home=home, executor=executor, bundles=bundles, **kwargs)
    stack.__enter__()
    return stack, home


@contextmanager
def running_stack(executor: str, **kwargs) -> Iterator[AirflowStack]:
    """:func:`start_stack` for a ``with`` block: stopped and its home removed afterwards."""
    stack, home = start_stack(executor, **kwargs)
    try:
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module", params=["LocalExecutor", "CeleryExecutor"])
def stack(request: pytest.FixtureRequest):
    """One deployment per executor; the module's tests run against each in turn."""
    stack, home = start_stack(request.param)
    try:
        yield stack
    finally:
        stack.stop()
        if request.session.testsfailed == 0:
            shutil.rmtree(home, ignore_errors=True)
        else:
            print(f"\nkept the failed stack's home for inspection: {home}")


@pytest.fixture(scope="module")
def rest(stack: AirflowStack) -> Rest:
    return Rest(stack.client())
