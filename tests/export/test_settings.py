"""Repository settings parsing and the "repository not ready yet" push retry (real git server)."""

from __future__ import annotations


import pytest

from airflow_provider_hisham.export.errors import InvalidValueError, PushError
from airflow_provider_hisham.export.git import commit_tree, push
from airflow_provider_hisham.export.settings import apply_after_push, parse_settings, push_when_ready
from tests.export.test_git import server_credentials
from tests.servers.repo_fixtures import *  # noqa: F403 - fixtures


def test_push_into_a_repository_the_forge_has_not_finished_is_retried(git_server, make_project):
    src = make_project(2)
    sha = commit_tree(src)
    url = git_server.repo_url("late/repo")
    attempts, waits = [], []

    def attempt():
        attempts.append(1)
        return push(src, url, sha, ["main"], server_credentials(git_server))

    def sleep(seconds: float) -> None:  # no clock wait: the forge "finishes" the repository during the second one
        waits.append(seconds)
        if len(waits) == 2:
            git_server.create_bare("late/repo")

    assert push_when_ready(attempt, first_wait=0.4, max_wait=1.0, attempts=8, sleep=sleep) is True
    assert waits == [0.4, 0.8]  # exponential, capped at max_wait
    assert len(attempts) == 3 and git_server.head("late/repo") == sha


def test_only_not_found_is_retried(git_server, make_project):
    git_server.create_bare("auth/repo")
    src = make_project(1)
    sha = commit_tree(src)
    attempts = []

    def attempt():
        attempts.append(1)
        return push(src, git_server.repo_url("auth/repo"), sha, ["main"], server_credentials(git_server, "wrong"))

    waits: list[float] = []
    with pytest.raises(PushError):
        push_when_ready(attempt, first_wait=0.01, sleep=waits.append)
    assert len(attempts) == 1 and waits == []  # a 401 is not "not ready": no retry


@pytest.mark.parametrize("raw, field", [
    ({"visibility": "secret"}, "settings.visibility"),
    ({"topics": ["Upper"]}, "settings.topics"),
    ({"colour": "red"}, "settings.colour"),
    ({"required_reviews": 9, "protect_branches": ["main"]}, "settings.required_reviews"),
    ({"required_reviews": 1}, "settings.protect_branches"),
    ({"protect_branches": ["-x"]}, "settings.protect_branches"),
    ({"default_branch": "a..b"}, "settings.default_branch"),
    ({"delete_branch_on_merge": "yes"}, "settings.delete_branch_on_merge"),
    ({"description": "two\nlines"}, "settings.description"),
    ("not a mapping", "settings"),
])
def test_bad_settings_name_their_field(raw, field):
    with pytest.raises(InvalidValueError) as info:
        parse_settings(raw)
    assert info.value.field == field


class Forge:
    def __init__(self):
        self.calls = []
        self.topics, self.protection, self.default = [], {}, "master"

    def get_topics(self, r):
        return self.topics

    def set_topics(self, r, topics):
        self.calls.append("topics")
        self.topics = topics

    def get_default_branch(self, r):
        return self.default

    def set_default_branch(self, r, b):
        self.calls.append("default")
        self.default = b

    def get_protection(self, r, b):
        return self.protection.get(b)

    def set_protection(self, r, b, reviews, checks, strict):
        self.calls.append(f"protect:{b}")
        self.protection[b] = {"reviews": reviews}


def test_after_push_settings_apply_once_then_only_when_absent():
    settings = parse_settings({"topics": ["a"], "default_branch": "main", "protect_branches": ["main", "dev"],
                               "required_reviews": 1})
    forge = Forge()
    assert apply_after_push(forge, "r", settings, just_created=True) == ["topics", "default_branch", "protection:main",
                                                                          "protection:dev"]
    forge.calls.clear()
    forge.default, forge.topics = "trunk", ["by-hand"]  # changed by a person
    del forge.protection["dev"]  # a person removed one rule: the retry restores only what is absent
    assert apply_after_push(forge, "r", settings, just_created=False) == ["protection:dev"]
    assert forge.default == "trunk" and forge.topics == ["by-hand"]
    assert apply_after_push(forge, "r", None, just_created=True) == []


def test_request_mode_and_settings_modules_import_no_airflow():
    import json
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    code = ("import json, sys; import airflow_provider_hisham.export.pull_request, airflow_provider_hisham.export.settings; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'github', 'gitlab'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"})
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
