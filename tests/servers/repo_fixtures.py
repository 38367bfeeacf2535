"""Fixtures for repository export tests: a real git smart-HTTP server and GitHub/GitLab stand-ins.

Import the fixtures into a test module (``from tests.servers.repo_fixtures import *``); servers
are module-scoped there and start in well under a second.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.servers.git_http import GitHttpServer, missing_tools

# Long and distinctive so that a scan for it cannot miss a leak or match by accident.
TOKEN = "ghp_Hisham0Test0Token0f9b2c71e4a6d8"

__all__ = ["TOKEN", "git_server", "github_api", "gitlab_api", "make_project", "github_conn", "gitlab_conn",
           "forge_retry_waits"]  # push_retry_waits: tests/servers/fixtures.py


@pytest.fixture(scope="module")
def git_server():
    missing = missing_tools()
    if missing:
        skip_or_fail(f"git smart-HTTP server needs {', '.join(missing)} (scripts/test.sh installs them)")
    with GitHttpServer(TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def github_api(git_server):
    from tests.servers.github import SPEC, github_server

    if not SPEC.exists():
        skip_or_fail(f"{SPEC} missing: run `npm ci` in tests/node")
    with github_server(TOKEN, git_server) as server:
        yield server
    assert server.state.checker.violations == [], "GitHub stand-in traffic broke GitHub's OpenAPI description"


@pytest.fixture(scope="module")
def gitlab_api(git_server):
    from tests.servers.gitlab import gitlab_server

    with gitlab_server(TOKEN, git_server) as server:
        yield server


def write_project(root: Path, files: int = 5, *, seed: str = "") -> Path:
    """A small generated-project-like tree with nested folders and an executable script."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        path = root / f"pkg{i % 3}" / f"module_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# generated {seed}\nVALUE = {i}\n")
    (root / "README.md").write_text(f"# demo {seed}\n")
    script = root / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    return root


@pytest.fixture
def make_project(tmp_path):
    counter = iter(range(1000))

    def make(files: int = 5, name: str | None = None, seed: str = "") -> Path:
        return write_project(tmp_path / (name or f"project{next(counter)}"), files, seed=seed)

    return make


@pytest.fixture
def forge_retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The GitHub and GitLab hooks' waits between retries, recorded instead of slept.

    ``GithubRepositoryHook`` waits through its public ``sleep`` argument, which operators do not
    pass: its constructor is wrapped so that a ``sleep`` not given is ``waits.append``.
    python-gitlab offers no hook of its own and sleeps through its utils module's ``time``: that
    module gets a clock whose sleep records (as ``tests/hooks/test_gitlab.py`` does).
    """
    import time
    from types import SimpleNamespace

    import gitlab.utils

    from airflow_provider_hisham.hooks.github import GithubRepositoryHook

    waits: list[float] = []
    init = GithubRepositoryHook.__init__
    monkeypatch.setattr(GithubRepositoryHook, "__init__",
                        lambda self, *args, **kwargs: init(self, *args, **{"sleep": waits.append, **kwargs}))
    monkeypatch.setattr(gitlab.utils, "time", SimpleNamespace(sleep=waits.append, time=time.time))
    return waits


def _conn_env(monkeypatch, conn_id: str, body: dict) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(body))
    return conn_id


@pytest.fixture
def github_conn(github_api, monkeypatch):
    """Connection id of a ``github`` env-var connection to the stand-in (no write throttling)."""
    return _conn_env(monkeypatch, "github_test", {
        "conn_type": "github", "host": github_api.url, "password": TOKEN,
        "extra": {"seconds_between_requests": 0, "seconds_between_writes": 0, "secondary_rate_wait": 1},
    })


@pytest.fixture
def gitlab_conn(gitlab_api, monkeypatch):
    return _conn_env(monkeypatch, "gitlab_test", {
        "conn_type": "gitlab", "host": gitlab_api.url, "password": TOKEN, "extra": {"token_type": "private"},
    })
