"""Connections to the GitHub/GitLab stand-ins that name their git host.

The stand-ins serve git on another port than their API (``git_server``), as a GitHub Enterprise
or GitLab with a separate git host would: without ``git_host`` the token is (rightly) refused
for the clone URLs they return. Import after ``tests.servers.repo_fixtures``'s fixtures to
replace its ``github_conn``/``gitlab_conn``.
"""

from __future__ import annotations

import pytest

from tests.servers.repo_fixtures import TOKEN, _conn_env


@pytest.fixture
def github_conn(github_api, git_server, monkeypatch):
    return _conn_env(monkeypatch, "github_test", {
        "conn_type": "github", "host": github_api.url, "password": TOKEN,
        "extra": {"seconds_between_requests": 0, "seconds_between_writes": 0, "secondary_rate_wait": 1,
                  "git_host": git_server.url},
    })


@pytest.fixture
def gitlab_conn(gitlab_api, git_server, monkeypatch):
    return _conn_env(monkeypatch, "gitlab_test", {
        "conn_type": "gitlab", "host": gitlab_api.url, "password": TOKEN,
        "extra": {"token_type": "private", "git_host": git_server.url},
    })
