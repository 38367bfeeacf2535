"""The stand-in's agents behave like the real backend's (``../shared/hishamos/README.md``)."""

from __future__ import annotations

import json
import re

import pytest
import requests

from tests.servers.hishamos_agents import AGENTS, ASYNC_CONTEXT_ERROR, EXECUTE_PATH
from tests.servers.test_hishamos_server import api  # noqa: F401 - the logged-in session fixture

pytestmark = pytest.mark.harness  # the test harness, not the provider

AGENTS_PATH = "/api/v1/agents/"


def _execute(api, hishamos, slug, prompt, context=None):
    agent = hishamos.state.agent_by_slug(slug)
    return api.call("POST", f"{AGENTS_PATH}{agent['id']}/execute/", json={"prompt": prompt, "context": context or {}})


def test_the_16_real_agents_with_exact_name_filter(hishamos, api):
    listed = api.call("GET", AGENTS_PATH).json()
    assert listed["count"] == 16 and {(a["name"], a["agent_id"]) for a in listed["results"]} == set(AGENTS)
    exact = api.call("GET", AGENTS_PATH, params={"name": "QA Engineer"}).json()["results"]
    assert [a["agent_id"] for a in exact] == ["qa-testing-agent"]
    assert api.call("GET", AGENTS_PATH, params={"name": "QA Agent"}).json()["count"] == 0
    one = api.call("GET", f"{AGENTS_PATH}{exact[0]['id']}/").json()
    assert one["name"] == "QA Engineer"


def test_execute_answers_like_the_backend_and_is_recorded(hishamos, api):
    resp = _execute(api, hishamos, "business-analyst", "Users can log in; users can reset passwords",
                    {"feature": "auth"})
    body = resp.json()
    assert resp.status_code == 200 and set(body) == {"success", "output", "response", "execution_time", "cost",
                                                     "token_usage", "agent_used"}
    assert body["output"] == body["response"] and body["success"] is True
    reqs = json.loads(body["output"])["requirements"]
    assert [r["title"] for r in reqs] == ["Users can log in", "users can reset passwords"]
    agent = hishamos.state.agent_by_slug("business-analyst")
    page = api.call("GET", f"{AGENTS_PATH}executions/", params={"agent": agent["id"]}).json()
    assert page["count"] == 1
    rec = page["results"][0]
    assert rec["context"] == {"feature": "auth"} and rec["input_data"] == {"prompt": "Users can log in; users can "
                                                                                     "reset passwords"}
    assert rec["output_data"] == {"output": body["output"]} and rec["status"] == "completed"
    assert rec["tokens_used"] == body["token_usage"]["tokens_used"] and float(rec["cost"]) == body["cost"]


def test_executions_newest_first_paginated_and_per_user(hishamos, api):
    for i in range(27):
        assert _execute(api, hishamos, "legal-agent", f"contract {i}").status_code == 200
    agent = hishamos.state.agent_by_slug("legal-agent")
    first = api.call("GET", f"{AGENTS_PATH}executions/", params={"agent": agent["id"]}).json()
    assert first["count"] == 27 and len(first["results"]) == 25 and "page=2" in first["next"]
    assert first["results"][0]["input_data"]["prompt"] == "contract 26"
    second = api.call("GET", f"{AGENTS_PATH}executions/", params={"agent": agent["id"], "page": 2}).json()
    assert [r["input_data"]["prompt"] for r in second["results"]] == ["contract 1", "contract 0"]
    bob = hishamos.state.user_by_name("bob")
    token = hishamos.state.mint(bob.id)
    other = requests.get(hishamos.url + f"{AGENTS_PATH}executions/", headers={"Authorization": f"Bearer {token}"})
    assert other.json()["count"] == 0


def test_json_and_fenced_answers(hishamos, api):
    triage = _execute(api, hishamos, "bug-triage-agent", "Checkout crashes with error 500").json()["output"]
    block = re.search(r"```json\n(.*?)\n```", triage, re.S).group(1)
    assert json.loads(block)["severity"] == 4
    code = _execute(api, hishamos, "coding-agent", "todo list api").json()["output"]
    assert re.findall(r"^```(\w+) (\S+)$", code, re.M) == [("python", "src/todo_list.py"),
                                                           ("python", "tests/test_todo_list.py"),
                                                           ("markdown", "README.md")]
    again = _execute(api, hishamos, "coding-agent", "todo list api").json()["output"]
    assert again == code


def test_empty_prompt_and_faults(hishamos, api):
    empty = _execute(api, hishamos, "hr-agent", "  ")
    assert empty.status_code == 400 and empty.json() == {"error": "Prompt is required"}
    hishamos.state.inject_agent_fault("async_context", agent="hr-agent")
    bug = _execute(api, hishamos, "hr-agent", "hire")
    assert bug.status_code == 500 and bug.json() == {"error": ASYNC_CONTEXT_ERROR}
    assert hishamos.state.executions_of("hr-agent") == []
    hishamos.inject("drop_after_commit", method="POST", path=EXECUTE_PATH)
    with pytest.raises(requests.ConnectionError):
        _execute(api, hishamos, "hr-agent", "hire")
    assert len(hishamos.state.executions_of("hr-agent")) == 1
    hishamos.state.agent_execution_limit = 1
    limited = _execute(api, hishamos, "hr-agent", "hire")
    assert limited.status_code == 403 and "limit" in limited.json()["error"]
