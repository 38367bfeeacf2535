"""Fixtures of the fault suite: the results log, the repository stand-ins, and the runs' logs
kept under artifacts/logs/ with the credentials they used, for the report's secret scan."""

from __future__ import annotations

import pytest

from tests.faults.results import fault_log, register_secrets, save_log  # noqa: F401 - fixture
from tests.servers.repo_fixtures import *  # noqa: F403 - fixtures
from tests.servers.repo_fixtures import TOKEN
from tests.export.fixtures import github_conn, gitlab_conn  # noqa: F401 - with git_host


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":  # dag.test() writes the task logs to the captured console
        save_log(f"faults-{item.nodeid}", report.capstdout + report.capstderr + report.caplog)


@pytest.fixture(autouse=True)
def credentials_to_scan(request: pytest.FixtureRequest):
    yield
    values = {TOKEN}
    if "hishamos" in request.fixturenames:
        values |= request.getfixturevalue("hishamos_server").state.secrets()
    register_secrets(values)
