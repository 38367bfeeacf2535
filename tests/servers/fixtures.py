"""Pytest fixtures for the local API stand-ins (registered in tests/conftest.py).

HishamOS subscription tier: ``hishamos`` puts alice's organization on ``hishamos_tier``, which is
``"professional"`` unless a test parametrizes it. Run a test on both tiers with ``@both_tiers``
(``pytest.mark.parametrize("hishamos_tier", TIERS)``), or on trial only with ``hishamos_trial``.

Rate limits follow the real backend (the middleware's 100 requests a minute from one address,
DRF's anon 100/h and user 1000/h). A test that makes many calls says so: ``hishamos_unthrottled``,
or ``hishamos.state.rate_limits = False``, or moves the server's clock on with
``hishamos.state.advance_clock(61)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.servers.hishamos import TIERS, HishamOSServer

both_tiers = pytest.mark.parametrize("hishamos_tier", TIERS)


#: The session's stand-in lives as long as a whole test run may (CI stops at 90 minutes); the
#: default 30-minute self-stop is for servers of one test or module. Past this it still stops by
#: itself, and with the test process in any case (its threads are daemons).
SESSION_LIFETIME = 2 * 3600.0


@pytest.fixture(scope="session")
def hishamos_server() -> Iterator[HishamOSServer]:
    """One HishamOS stand-in per test process; prefer ``hishamos`` (reset for each test)."""
    with HishamOSServer(max_lifetime=SESSION_LIFETIME) as server:
        yield server


@pytest.fixture
def hishamos_tier() -> str:
    """The tier of alice's organization in ``hishamos``; parametrize it (``@both_tiers``) to change it."""
    return "professional"


@pytest.fixture
def hishamos(hishamos_server: HishamOSServer, hishamos_tier: str) -> HishamOSServer:
    """The HishamOS stand-in, back in its seeded state, checking its responses against the schema."""
    hishamos_server.reset()
    hishamos_server.state.set_tier(hishamos_tier)
    hishamos_server.state.validate_responses = True
    yield hishamos_server
    errors = list(hishamos_server.state.response_errors)
    hishamos_server.state.validate_responses = False
    assert not errors, f"the stand-in answered outside the schema: {errors}"


@pytest.fixture
def hishamos_trial(hishamos: HishamOSServer) -> HishamOSServer:
    """``hishamos`` with alice's organization on the trial tier (what a new HishamOS signup gets)."""
    hishamos.state.set_tier("trial")
    return hishamos


@pytest.fixture
def hishamos_unthrottled(hishamos: HishamOSServer) -> HishamOSServer:
    """``hishamos`` without its rate limits, for tests that make many calls on purpose."""
    hishamos.state.rate_limits = False
    return hishamos


@pytest.fixture
def hishamos_conn(hishamos: HishamOSServer, monkeypatch: pytest.MonkeyPatch):
    """Factory: ``hishamos_conn(auth_mode="password", conn_id="hishamos_default", **extra)`` sets an
    ``AIRFLOW_CONN_*`` variable for the stand-in and returns the connection id."""

    def make(auth_mode: str = "password", conn_id: str = "hishamos_default", **kwargs) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(hishamos.connection(auth_mode, **kwargs)))
        return conn_id

    return make


@pytest.fixture
def hishamos_retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between the HishamOS hook's retries, recorded instead of slept: operators make
    their own hooks, whose ``RetryPolicy`` sleeps on the real clock by default."""
    from airflow_provider_hisham.api.retry import RetryPolicy

    waits: list[float] = []
    retrying = RetryPolicy.retrying
    monkeypatch.setattr(RetryPolicy, "retrying",
                        lambda self, **kwargs: retrying(self, **{**kwargs, "sleep": kwargs.get("sleep") or waits.append}))
    return waits


@pytest.fixture
def push_retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between git push retries (and "repository not ready yet" retries), recorded
    instead of slept: operators push without a ``sleep`` of their own."""
    from airflow_provider_hisham.export import git

    waits: list[float] = []
    monkeypatch.setattr(git, "wait_before_retry", waits.append)
    return waits
