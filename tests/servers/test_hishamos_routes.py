"""The stand-in serves what the provider sends, and nothing else but what a named contract test needs.

Every public ``HishamOSHook`` method that talks to HishamOS is called once against the stand-in
(the operators, records and agents reach HishamOS only through them; ``call`` is api_call's
user-chosen ``method`` + ``endpoint``, not a request of the provider's own); the (method, route
template) pairs the stand-in recorded must be ``hishamos_spec.USED`` plus the schema view, and the
stand-in's routes, method by method, those plus ``CONTRACT``, each naming a test that exists and
sends that method to that path.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from airflow_provider_hisham.hooks.hishamos import HishamOSHook, RetryPolicy
from tests.servers.hishamos import _ROUTES
from tests.servers.hishamos_spec import CONTRACT, SCHEMA_VIEW, USED

pytestmark = pytest.mark.harness

ROOT = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(max_attempts=2, deadline=5.0, base=0.01, cap=0.01, sleep=lambda seconds: None)
#: HishamOSHook methods that send nothing of their own: connection setup and reads, redaction, and the
#: generic call under every other method (api_call's endpoint mode)
NOT_A_ROUTE = {"get_conn", "redact", "call", "extra_field"}


def _template(pattern: re.Pattern[str]) -> str:
    return re.sub(r"\(\?P<id>[^()]*\)", "{id}", pattern.pattern)


def _route_of(path: str) -> str:
    for _methods, pattern, _name, _opts in _ROUTES:
        if pattern.fullmatch(path):
            return _template(pattern)
    raise AssertionError(f"the stand-in serves no route for {path}")


def _served() -> set[tuple[str, str]]:
    return {(method, _template(pattern)) for methods, pattern, _n, _o in _ROUTES for method in methods}


def _contract_test(node_id: str):
    """The test function a ``CONTRACT`` entry names (``tests/.../file.py::test_name``)."""
    file, _, name = node_id.partition("::")
    assert (ROOT / file).is_file(), f"{node_id}: no file {file}"
    module = importlib.import_module(file.removesuffix(".py").replace("/", "."))
    test = getattr(module, name, None)
    assert name.startswith("test_") and callable(test), f"{node_id}: no test {name} in {file}"
    return module, test


def _exercise(hook: HishamOSHook, state) -> set[str]:
    """Each public method once, in an order that makes the records the next ones need."""
    project = hook.create_project("Routes", start_date="2026-01-01", end_date="2026-06-30", idempotency_key="k1")
    hook.get_project(project["id"])
    hook.update_project(project["id"], description="x")
    story = hook.create_story(project["id"], "T", "D", "A", idempotency_key="k2")
    hook.find_story(project["id"], "k2")
    hook.list_stories(project["id"])
    hook.get_story(story["id"])
    hook.update_story_status(story["id"], "in_progress")
    sprint = hook.create_sprint(project["id"], "S1", 1, "2026-01-05", "2026-01-18", reuse_existing=True)
    hook.update_sprint(sprint["id"], goal="ship")
    hook.list_sprints(project["id"])
    agent = hook.get_agent("Legal Counsel")
    hook.get_agent(agent["id"])
    hook.list_agents()
    hook.execute_agent(agent["id"], "check")
    list(hook.iter_agent_executions(agent["id"]))
    gp = hook.create_generated_project(project["id"], "/data/gp", idempotency_key="k3")
    hook.find_generated_project(project["id"], "k3")
    hook.list_generated_projects(project["id"])
    hook.update_generated_project(gp["id"], status="generating")
    hook.create_repository_export(gp["id"], "zip", idempotency_key="k4")
    hook.list_repository_exports(gp["id"])
    hook.discover_endpoints(refresh=True)
    hook.has_endpoint("GET", "/api/v1/agents/")
    assert hook.test_connection()[0]
    state.clock_offset = 31 * 60  # access tokens live 30 min: the next call refreshes
    hook.get_project(project["id"])
    return {
        "create_project", "get_project", "update_project", "create_story", "find_story", "list_stories",
        "get_story", "update_story_status", "create_sprint", "update_sprint", "list_sprints", "get_agent",
        "list_agents", "execute_agent", "iter_agent_executions", "create_generated_project",
        "find_generated_project", "list_generated_projects", "update_generated_project",
        "create_repository_export", "list_repository_exports", "discover_endpoints", "has_endpoint",
        "test_connection",
    }


def test_the_hook_sends_exactly_the_used_methods_and_paths(hishamos, hishamos_conn):
    hishamos.state.rate_limits = False
    hook = HishamOSHook(hishamos_conn("password"), retry_policy=FAST)
    called = _exercise(hook, hishamos.state)
    public = {name for name, member in vars(HishamOSHook).items()
              if inspect.isfunction(member) and not name.startswith("_")} - NOT_A_ROUTE
    assert public == called, "a hook method this test does not call (add it to _exercise)"
    assert all(r.status is not None and r.status < 400 or r.status == 401 for r in hishamos.state.requests)
    sent = {(r.method, _route_of(r.path)) for r in hishamos.state.requests}
    assert sent == set(USED) | {("GET", SCHEMA_VIEW)}


def test_every_method_served_is_used_or_named_by_a_contract_test():
    assert len(set(USED)) == len(USED)
    assert not set(CONTRACT) & set(USED), "a CONTRACT entry the hook sends anyway: keep it in USED only"
    unexplained = _served() - set(USED) - {("GET", SCHEMA_VIEW)} - set(CONTRACT)
    assert not unexplained, f"served, but neither sent by the hook nor named by a contract test: {unexplained}"
    assert _served() >= set(USED) | set(CONTRACT), "USED or CONTRACT names a method the stand-in does not serve"
    for (method, path), node_id in CONTRACT.items():
        module, test = _contract_test(node_id)
        source = inspect.getsource(test)
        assert f'"{method}"' in source, f"{node_id} does not send {method}"
        prefix = path.split("{")[0]
        spellings = [prefix] + [name for name, value in vars(module).items() if value == prefix]
        assert any(s in source for s in spellings), f"{node_id} does not call {path}"
