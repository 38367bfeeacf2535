"""Pytest fixtures for the local API stand-ins (registered in tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.servers.hishamos import HishamOSServer


@pytest.fixture(scope="session")
def hishamos_server() -> Iterator[HishamOSServer]:
    """One HishamOS stand-in per test process; prefer ``hishamos`` (reset for each test)."""
    with HishamOSServer() as server:
        yield server


@pytest.fixture
def hishamos(hishamos_server: HishamOSServer) -> HishamOSServer:
    """The HishamOS stand-in, back in its seeded state, checking its responses against the schema."""
    hishamos_server.reset()
    hishamos_server.state.validate_responses = True
    yield hishamos_server
    errors = list(hishamos_server.state.response_errors)
    hishamos_server.state.validate_responses = False
    assert not errors, f"the stand-in answered outside the schema: {errors}"


@pytest.fixture
def hishamos_conn(hishamos: HishamOSServer, monkeypatch: pytest.MonkeyPatch):
    """Factory: ``hishamos_conn(auth_mode="password", conn_id="hishamos_default", **extra)`` sets an
    ``AIRFLOW_CONN_*`` variable for the stand-in and returns the connection id."""

    def make(auth_mode: str = "password", conn_id: str = "hishamos_default", **kwargs) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(hishamos.connection(auth_mode, **kwargs)))
        return conn_id

    return make
