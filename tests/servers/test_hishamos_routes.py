"""The stand-in serves what the provider calls, and nothing else but what a contract test needs.

Every public ``HishamOSHook`` method that talks to HishamOS is called once against the stand-in
(the operators, records and agents reach HishamOS only through them; ``call`` is api_call's
user-chosen ``method`` + ``endpoint``, not a path of the provider's own); the route templates
they hit must be ``hishamos_spec.USED_PATHS`` plus the schema view, and the stand-in's routes
those plus ``CONTRACT_PATHS``, each named contract test existing.
"""

from __future__ import annotations

import inspect
import re

import pytest

from airflow_provider_hisham.hooks.hishamos import HishamOSHook, RetryPolicy
from tests.servers import test_hishamos_contract
from tests.servers.hishamos import _ROUTES
from tests.servers.hishamos_spec import CONTRACT_PATHS, SCHEMA_VIEW, USED_PATHS

pytestmark = pytest.mark.harness

FAST = RetryPolicy(max_attempts=2, deadline=5.0, base=0.01, cap=0.01, sleep=lambda seconds: None)
#: HishamOSHook methods that send nothing of their own: connection setup and reads, redaction, and the
#: generic call under every other method (api_call's endpoint mode)
NOT_A_ROUTE = {"get_conn", "redact", "call", "extra_field"}


def _template(path: str) -> str:
    for _methods, pattern, _name, _opts in _ROUTES:
        if pattern.fullmatch(path):
            return re.sub(r"\(\?P<id>[^()]*\)", "{id}", pattern.pattern)
    raise AssertionError(f"the stand-in serves no route for {path}")


def _served() -> set[str]:
    return {re.sub(r"\(\?P<id>[^()]*\)", "{id}", pattern.pattern) for _m, pattern, _n, _o in _ROUTES}


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


def test_the_hook_calls_exactly_the_used_paths(hishamos, hishamos_conn):
    hishamos.state.rate_limits = False
    hook = HishamOSHook(hishamos_conn("password"), retry_policy=FAST)
    called = _exercise(hook, hishamos.state)
    public = {name for name, member in vars(HishamOSHook).items()
              if inspect.isfunction(member) and not name.startswith("_")} - NOT_A_ROUTE
    assert public == called, "a hook method this test does not call (add it to _exercise)"
    hit = {_template(r.path) for r in hishamos.state.requests}
    assert all(r.status is not None and r.status < 400 or r.status == 401 for r in hishamos.state.requests)
    assert hit == set(USED_PATHS) | {SCHEMA_VIEW}


def test_every_route_served_is_used_or_named_by_a_contract_test():
    assert _served() == set(USED_PATHS) | {SCHEMA_VIEW} | set(CONTRACT_PATHS)
    assert not set(CONTRACT_PATHS) & set(USED_PATHS)
    for path, test_name in CONTRACT_PATHS.items():
        test = getattr(test_hishamos_contract, test_name, None)
        assert callable(test), f"{path}: no contract test {test_name}"
        prefix = path.split("{")[0]
        spellings = [prefix] + [name for name, value in vars(test_hishamos_contract).items() if value == prefix]
        assert any(s in inspect.getsource(test) for s in spellings), f"{test_name} does not call {path}"
