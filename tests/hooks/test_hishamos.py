"""HishamOSHook against the local HishamOS stand-in: auth modes, retries, errors, typed calls."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import time

import jwt
import pytest

from airflow_provider_hisham.api.retry import RetryPolicy
from airflow_provider_hisham.hooks.hishamos import (
    HishamOSAgentError,
    HishamOSAPIError,
    HishamOSConfigError,
    HishamOSConnectionError,
    HishamOSEndpointNotFound,
    HishamOSHook,
    HishamOSNotFound,
    HishamOSStoryStatusError,
    HishamOSTierError,
    _schema_cache,
)
from tests.servers.fixtures import both_tiers

ME = "/api/v1/auth/me/"
STORIES = "/api/v1/projects/stories/"
FAST = RetryPolicy(max_attempts=4, deadline=5.0, base=0.02, cap=0.1, sleep=lambda seconds: None)  # no clock waits


@pytest.fixture
def hook_for(hishamos_conn):
    def make(auth_mode="password", user_id=None, policy=FAST, **kwargs):
        return HishamOSHook(hishamos_conn(auth_mode, **kwargs), user_id=user_id, retry_policy=policy)

    return make


@pytest.fixture
def project(hook_for):
    return hook_for().create_project("Shop", start_date="2026-01-01", end_date="2026-06-30")


def _paths(server, method=None):
    return [(r.method, r.path, r.status) for r in server.state.requests if method in (None, r.method)]


# -- auth: password -------------------------------------------------------------------------------
def test_password_mode_logs_in_once_and_reuses_the_token(hishamos, hook_for):
    hook = hook_for()
    for _ in range(3):
        assert hook.call("GET", ME)["email"] == hishamos.state.user.email
    assert [p for _, p, _ in _paths(hishamos)] == ["/api/v1/auth/login/", ME, ME, ME]
    assert hook.test_connection() == (True, f"Connected to HishamOS at {hishamos.url} as alice@hishamos.test "
                                            "(password auth)")


@pytest.mark.parametrize("mode", ["password", "jwt_secret"])
def test_a_finished_hook_is_freed_at_once_with_its_watched_scrubber(hishamos, hook_for, mode):
    """No reference cycle through the auth or retry callbacks: a step's hook (its session, the
    scrubber audit records consult) goes when the step drops it, not at the next collection."""
    import gc
    import weakref

    hook = hook_for(mode)
    hook.call("GET", "/api/v1/auth/me/")
    gone, scrubber = weakref.ref(hook), weakref.ref(hook._scrubber)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        del hook
        assert gone() is None and scrubber() is None
    finally:
        if was_enabled:
            gc.enable()


def test_the_refresh_token_reaches_the_log_masker_when_it_is_first_sent(hishamos, hook_for, monkeypatch):
    """Until the access token needs refreshing (most tasks: never) the refresh token is only held:
    the hook's scrubber hides it from every message at once, Airflow's masker (one regular
    expression recompiled per value) gets it just before it is sent."""
    import airflow.sdk.log as sdk_log

    masked: list[str] = []
    monkeypatch.setattr(sdk_log, "mask_secret",
                        lambda value, name=None: masked.extend(value if isinstance(value, list) else [value]))
    tokens: dict[str, str] = {}
    hook = hook_for()
    hook.get_conn()
    real_login, real_refresh = hook._auth._login, hook._auth._refresh
    hook._auth._login = lambda email, password: tokens.update(real_login(email, password)) or tokens
    masked_when_sent: list[bool] = []
    hook._auth._refresh = lambda token: masked_when_sent.append(token.rsplit(".", 1)[1] in masked) or real_refresh(token)
    hook.call("GET", ME)
    access, refresh = tokens["access"].rsplit(".", 1)[1], tokens["refresh"].rsplit(".", 1)[1]
    assert access in masked and refresh not in masked
    assert hook.redact(f"echo {tokens['refresh']}") == "echo ***"
    hishamos.state.clock_offset = 31 * 60  # the access token expired: the next call refreshes
    hook.call("GET", ME)
    assert masked_when_sent == [True]


def test_all_forms_of_a_credential_are_one_message_to_the_supervisor_and_each_is_masked(hishamos, hook_for,
                                                                                          monkeypatch):
    """In a task, ``mask_secret`` also tells the supervisor (a message a call): all forms of one
    credential go in one call, and the task's masker still hides each of them."""
    from airflow.sdk._shared.secrets_masker import redact, reset_secrets_masker
    from airflow.sdk.execution_time import task_runner

    from airflow_provider_hisham.secrets import masker_form, sent_forms

    sent: list = []

    class Comms:
        def send(self, msg):
            sent.append(msg)

    hook = hook_for()
    hook.get_conn()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", Comms(), raising=False)
    reset_secrets_masker()
    secret = 'p@ss word&"<%-of-many-forms'
    forms = {masker_form(f) for f in sent_forms(secret, ("user@example.com",))}
    assert len(forms) > 3
    hook._secret(secret, ("user@example.com",))
    assert [sorted(m.value) for m in sent] == [sorted(forms)]
    for form in forms:
        assert form not in str(redact(f"sent {form} here")), form


def test_password_mode_refreshes_ahead_of_expiry(hishamos, hook_for):
    st = hishamos.state
    st.access_lifetime = 100  # refresh margin is then 20 s
    st.clock_offset = -85  # the server's clock is 85 s late: its tokens have 15 s left
    hook = hook_for()
    hook.call("GET", ME)
    hook.call("GET", ME)
    assert [(p, s) for _, p, s in _paths(hishamos)][-2:] == [("/api/v1/auth/token/refresh/", 200), (ME, 200)]
    assert all(s != 401 for _, _, s in _paths(hishamos))


def test_expired_access_token_401_refreshes_and_replays(hishamos, hook_for):
    hook = hook_for()
    hook.call("GET", ME)
    hishamos.state.clock_offset = 31 * 60  # access tokens live 30 min
    assert hook.call("GET", ME)["id"] == hishamos.state.user.id
    assert [(p, s) for _, p, s in _paths(hishamos)][-3:] == [
        (ME, 401), ("/api/v1/auth/token/refresh/", 200), (ME, 200)]


def test_rejected_refresh_token_logs_in_again(hishamos, hook_for):
    hook = hook_for()
    hook.call("GET", ME)
    hishamos.state.clock_offset = 31 * 60
    hishamos.state.revoke_refresh_tokens()
    assert hook.call("GET", ME)["id"] == hishamos.state.user.id
    assert [(p, s) for _, p, s in _paths(hishamos)][-4:] == [
        (ME, 401), ("/api/v1/auth/token/refresh/", 401), ("/api/v1/auth/login/", 200), (ME, 200)]


def test_wrong_password_is_a_clear_error_without_the_password(hishamos, monkeypatch):
    conn = {**hishamos.connection("password"), "password": "Wr0ng-Secret-Value"}
    monkeypatch.setenv("AIRFLOW_CONN_HISHAMOS_BAD", json.dumps(conn))
    hook = HishamOSHook("hishamos_bad", retry_policy=FAST)
    with pytest.raises(HishamOSAPIError) as err:
        hook.call("GET", ME)
    assert err.value.status == 401
    assert err.value.message == "No active account found with the given credentials"
    assert "Wr0ng-Secret-Value" not in str(err.value) and "Wr0ng-Secret-Value" not in repr(err.value.details)
    ok, message = hook.test_connection()
    assert not ok and "No active account" in message


# -- auth: jwt_secret -----------------------------------------------------------------------------
def test_jwt_secret_mode_acts_as_the_user_in_context(hishamos, hook_for):
    st = hishamos.state
    bob = st.user_by_name("bob")
    assert hook_for("jwt_secret", user_id=bob.id).call("GET", ME)["email"] == bob.email
    assert hook_for("jwt_secret").call("GET", ME)["email"] == st.user.email  # default_user_id
    token = hishamos.state.requests[-1].headers["Authorization"].split()[1]
    claims = jwt.decode(token, st.jwt_secret, algorithms=["HS256"])
    assert claims["token_type"] == "access" and claims["user_id"] == st.user.id
    assert len(claims["jti"]) == 32 and 0 < claims["exp"] - claims["iat"] <= 300
    assert not any(r.path == "/api/v1/auth/login/" for r in st.requests)


def test_jwt_secret_mode_user_permissions_apply(hishamos, hook_for, project):
    carol = hishamos.state.user_by_name("carol")
    with pytest.raises(HishamOSAPIError) as err:
        hook_for("jwt_secret", user_id=carol.id).get_project(project["id"])
    assert err.value.status == 404 and err.value.message == "No Project matches the given query."


def test_jwt_secret_mode_wrong_secret_retries_once_then_fails(hishamos, hook_for):
    hook = hook_for("jwt_secret", jwt_secret="not-the-backend-secret-0123456789abcdef")
    with pytest.raises(HishamOSAPIError) as err:
        hook.call("GET", ME)
    assert err.value.status == 401 and err.value.message == "Given token not valid for any token type"
    assert [s for _, _, s in _paths(hishamos)] == [401, 401]  # one re-mint and replay


def test_jwt_secret_mode_needs_a_uuid_user(hishamos, hook_for):
    with pytest.raises(HishamOSConfigError, match="default_user_id"):
        hook_for("jwt_secret", default_user_id="").call("GET", ME)
    with pytest.raises(HishamOSConfigError, match="not a UUID"):
        hook_for("jwt_secret", user_id="alice").call("GET", ME)


# -- auth: api_key and connection fields --------------------------------------------------------
def test_api_key_mode_and_no_replay_on_401(hishamos, hook_for):
    assert hook_for("api_key").call("GET", ME)["email"] == hishamos.state.user.email
    assert hishamos.state.requests[-1].headers["X-API-Key"] == hishamos.state.api_key
    hishamos.state.requests.clear()
    with pytest.raises(HishamOSAPIError) as err:
        hook_for("api_key", api_key="hsk_wrong").call("GET", ME)
    assert err.value.status == 401 and len(hishamos.state.requests) == 1


def test_prefixed_extra_keys_and_no_extras_sent_as_headers(hishamos, monkeypatch):
    conn = hishamos.connection("jwt_secret")
    conn["extra"] = {f"extra__hishamos__{k}": v for k, v in conn["extra"].items()}
    monkeypatch.setenv("AIRFLOW_CONN_HISHAMOS_PREFIXED", json.dumps(conn))
    hook = HishamOSHook("hishamos_prefixed")
    assert hook.call("GET", ME)["id"] == hishamos.state.user.id and hook.auth_mode == "jwt_secret"
    sent = json.dumps(hishamos.state.requests[-1].headers)
    assert hishamos.state.jwt_secret not in sent and "auth_mode" not in sent.lower()


def test_unknown_auth_mode_names_the_field(hook_for):
    with pytest.raises(HishamOSConfigError, match="field 'auth_mode' is 'oauth'"):
        hook_for(auth_mode="oauth").call("GET", ME)


# -- retries ---------------------------------------------------------------------------------------
def test_429_honours_retry_after(hishamos, hook_for):
    waits: list[float] = []
    hook = hook_for(policy=dataclasses.replace(FAST, sleep=waits.append))
    hook.call("GET", ME)
    hishamos.inject("status", status=429, retry_after=0.4, path=ME)
    assert hook.call("GET", ME)["id"]
    assert len(waits) == 1 and 0.4 <= waits[0] <= 0.44  # never earlier than asked, a little jitter
    assert [s for _, p, s in _paths(hishamos) if p == ME] == [200, 429, 200]


def test_retry_after_beyond_the_deadline_gives_up_at_once(hishamos, hook_for):
    waits: list[float] = []
    hook = hook_for(policy=RetryPolicy(max_attempts=5, deadline=2.0, base=0.01, sleep=waits.append))
    hook.call("GET", ME)
    hishamos.inject("status", status=429, retry_after=30, path=ME)
    with pytest.raises(HishamOSAPIError) as err:
        hook.call("GET", ME)
    assert waits == []  # a 30 s wait would pass the 2 s deadline: no wait, no retry
    assert err.value.status == 429 and err.value.message.startswith("Request was throttled")


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_for_reads(hishamos, hook_for, status):
    hook = hook_for()
    hishamos.inject("status", status=status, times=2, path=ME)
    assert hook.call("GET", ME)["id"]
    assert [s for _, p, s in _paths(hishamos) if p == ME] == [status, status, 200]


def test_attempts_are_bounded_and_500_is_not_retried(hishamos, hook_for):
    hook = hook_for()
    hishamos.inject("status", status=503, times=10, path=ME)
    with pytest.raises(HishamOSAPIError) as err:
        hook.call("GET", ME)
    assert err.value.status == 503 and len([1 for _, p, _ in _paths(hishamos) if p == ME]) == FAST.max_attempts
    hishamos.state.faults.clear()
    hishamos.state.requests.clear()
    hishamos.inject("status", status=500, path=ME)
    with pytest.raises(HishamOSAPIError) as err:
        hook.call("GET", ME)
    assert err.value.status == 500 and len(hishamos.state.requests) == 1


def test_post_is_retried_only_when_no_duplicate_can_result(hishamos, hook_for, project):
    hook = hook_for()
    body = {"project": project["id"], "title": "t", "description": "d", "acceptance_criteria": "a"}
    hishamos.inject("status", status=503, method="POST", path=STORIES)  # not processed: retried
    assert hook.call("POST", STORIES, body)["number"] == "STORY-1"
    hishamos.inject("status", status=502, method="POST", path=STORIES)  # maybe processed: not retried
    with pytest.raises(HishamOSAPIError) as err:
        hook.call("POST", STORIES, body)
    assert err.value.status == 502
    hishamos.inject("drop_after_commit", method="POST", path=STORIES)
    with pytest.raises(HishamOSConnectionError):
        hook.call("POST", STORIES, body)
    assert len(hishamos.state.stories_of(project["id"])) == 2  # the dropped one was committed, not resent


def test_idempotent_create_recovers_a_create_whose_response_was_lost(hishamos, hook_for, project):
    hook = hook_for()
    hishamos.inject("drop_after_commit", method="POST", path=STORIES)
    story = hook.create_story(project["id"], "Checkout", "As a buyer", "Given", idempotency_key="k-1")
    stories = hishamos.state.stories_of(project["id"])
    assert [s["id"] for s in stories] == [story["id"]]
    assert story["custom_fields"] == {"airflow_idempotency_key": "k-1"}
    again = hook.create_story(project["id"], "Checkout", "As a buyer", "Given", idempotency_key="k-1")
    assert again["id"] == story["id"] and len(hishamos.state.stories_of(project["id"])) == 1
    assert len(hishamos.requests_to("POST", STORIES)) == 1


def test_read_timeout_retries_reads_and_not_creates(hishamos, hook_for, project):
    hook = hook_for(timeout=0.3)
    hishamos.inject("delay", delay=0.6, path=ME)
    assert hook.call("GET", ME)["id"]
    assert [r.fault for r in hishamos.requests_to("GET", ME)] == ["delay", None]
    hishamos.inject("delay", delay=0.6, method="POST", path=STORIES)
    with pytest.raises(HishamOSConnectionError, match="ReadTimeout"):
        hook.create_story(project["id"], "t", "d", "a")
    deadline = time.monotonic() + 10  # the slow request still completes on the server
    while not hishamos.state.stories_of(project["id"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [s["title"] for s in hishamos.state.stories_of(project["id"])] == ["t"]
    assert len(hishamos.requests_to("POST", STORIES)) == 1  # and the client did not send it again


def test_connection_reset_is_retried_for_reads(hishamos, hook_for):
    hook = hook_for()
    hishamos.inject("reset", path=ME, times=2)
    assert hook.call("GET", ME)["id"]
    assert [r.fault for r in hishamos.requests_to("GET", ME)] == ["reset", "reset", None]


def test_connection_refused_uses_up_retries_within_the_deadline(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_HISHAMOS_DOWN", json.dumps(
        {"conn_type": "hishamos", "host": "127.0.0.1", "port": port, "extra": {"auth_mode": "api_key",
                                                                              "api_key": "k"}}))
    waits: list[float] = []
    hook = HishamOSHook("hishamos_down", retry_policy=RetryPolicy(max_attempts=3, deadline=3, base=0.01,
                                                                  sleep=waits.append))
    with pytest.raises(HishamOSConnectionError, match="ConnectionError") as err:
        hook.call("POST", STORIES, {"x": 1})  # nothing was sent, so even a POST is retried
    assert err.value.status is None and len(waits) == 2  # 3 attempts


# -- errors ----------------------------------------------------------------------------------------
def test_validation_error_carries_message_and_details(hook_for, project):
    with pytest.raises(HishamOSAPIError) as err:
        hook_for().create_story(project["id"], "t", "", "")
    assert err.value.status == 400 and err.value.message == "Description is required."
    assert err.value.details == {"description": ["Description is required."],
                                 "acceptance_criteria": ["Acceptance criteria is required."]}
    assert "description" in str(err.value)


def test_html_404_is_no_such_endpoint(hook_for):
    with pytest.raises(HishamOSEndpointNotFound, match="no such endpoint /api/v1/projects/42/stories/"):
        hook_for().call("GET", "api/v1/projects/42/stories/")


# -- typed methods ---------------------------------------------------------------------------------
def test_list_stories_reads_every_page(hishamos, hook_for, project):
    hook = hook_for()
    other = hook.create_project("Other", start_date="2026-01-01", end_date="2026-06-30")
    for i in range(53):
        hook.create_story(project["id"], f"s{i}", "d", "a")
    hook.create_story(other["id"], "x", "d", "a")
    stories = hook.list_stories(project["id"])
    assert len(stories) == 53 and {s["project"] for s in stories} == {project["id"]}
    assert len({s["id"] for s in stories}) == 53
    assert len([r for r in hishamos.requests_to("GET", STORIES)]) == 3


def test_update_story_status_uses_bulk_update(hishamos, hook_for, project):
    hook = hook_for()
    story = hook.create_story(project["id"], "t", "d", "a")
    assert hook.update_story_status(story["id"], "in_progress") == {"updated_count": 1, "errors": []}
    assert hishamos.state.stories[story["id"]]["status"] == "in_progress"
    missing = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(HishamOSStoryStatusError, match=rf"1 of 2 stories not updated to 'done' \(story {missing}: "
                                                       "Story matching query does not exist.\)") as err:
        hook.update_story_status([story["id"], missing], "done")
    assert list(err.value.failures) == [missing]
    with pytest.raises(HishamOSStoryStatusError, match=rf"story {story['id']}: Invalid status 'shipped'") as err:
        hook.update_story_status(story["id"], "shipped")
    assert "Valid states: backlog" in err.value.failures[story["id"]]


def test_project_and_sprint_methods(hishamos, hook_for, project):
    hook = hook_for()
    assert hook.get_project(project["id"])["name"] == "Shop"
    assert hook.update_project(project["id"], status="active")["status"] == "active"
    sprint = hook.create_sprint(project["id"], "Sprint 1", 1, "2026-01-05", "2026-01-18")
    assert hook.update_sprint(sprint["id"], goal="MVP")["goal"] == "MVP"
    with pytest.raises(HishamOSAPIError, match="overlap"):
        hook.create_sprint(project["id"], "Sprint 2", 2, "2026-01-10", "2026-01-20")
    same = hook.create_sprint(project["id"], "Sprint 1", 1, "2026-01-05", "2026-01-18", reuse_existing=True)
    assert same["id"] == sprint["id"] and len(hishamos.state.sprints) == 1


def test_agents_by_name_and_id(hishamos, hook_for):
    hook = hook_for()
    qa = hook.get_agent("QA Engineer")
    assert hook.get_agent(qa["id"])["name"] == "QA Engineer" and hook.get_agent("qa-testing-agent")["id"] == qa["id"]
    assert len(hook.list_agents()) == len(hishamos.state.agents)
    run = hook.execute_agent("Legal Counsel", "review terms", {"repo": "x"})
    assert run["output"] == "[Legal Counsel] review terms"
    assert hishamos.state.executions_of("legal-agent")[0]["user"] == hishamos.state.user.id
    with pytest.raises(HishamOSNotFound, match="no agent named 'Chef Agent'; available: Agile Project Manager"):
        hook.get_agent("Chef Agent")


@both_tiers
def test_generated_project_and_export_records_as_the_backend_keeps_them(hishamos, hook_for, hishamos_tier):
    """What HishamOS stores: a GeneratedProject's status (its transitions), a RepositoryExport's
    config and name only, and only on a tier with projects.import_export."""
    hook = hook_for()
    project = hishamos.state.demo_project_id
    gp = hook.create_generated_project(project, "/data/shop", status="generating", total_files=3,
                                       idempotency_key="af1-gp")
    assert gp["output_directory"] == "/data/shop#af1-gp" and gp["total_files"] == 0  # read-only, dropped
    assert hook.update_generated_project(gp["id"], status="completed")["status"] == "completed"
    with pytest.raises(HishamOSAPIError, match="Invalid transition from completed to completed"):
        hook.update_generated_project(gp["id"], status="completed")
    again = hook.create_generated_project(project, "/data/shop", status="generating", idempotency_key="af1-gp")
    assert again["id"] == gp["id"] and len(hishamos.state.generated_projects) == 1
    config = {"url": None, "archive_path": "/a.zip", "archive_size": 10}
    if hishamos_tier == "trial":
        with pytest.raises(HishamOSTierError) as err:
            hook.create_repository_export(gp["id"], "zip", repository_name="shop", config=config,
                                          idempotency_key="af1-ex")
        assert (err.value.feature, err.value.tier, err.value.status) == ("projects.import_export", "trial", 400)
        assert "upgrade the organization's HishamOS subscription" in str(err.value)
        assert len(hishamos.requests_to("POST", "/api/v1/projects/repository-exports/")) == 1  # not retried
        assert hishamos.state.repository_exports == {}
        return
    export = hook.create_repository_export(gp["id"], "zip", repository_name="shop", config=config,
                                           idempotency_key="af1-ex")
    assert export["config"] == {**config, "airflow_idempotency_key": "af1-ex"} and export["status"] == "pending"
    same = hook.create_repository_export(gp["id"], "zip", repository_name="shop", config=config,
                                         idempotency_key="af1-ex")
    assert same["id"] == export["id"]
    assert [e["id"] for e in hook.list_repository_exports(gp["id"])] == [export["id"]]


def test_record_creates_whose_response_was_lost_are_found_by_their_marker(hishamos, hook_for):
    hook = hook_for()
    project = hishamos.state.demo_project_id
    hishamos.inject("drop_after_commit", method="POST", path="/api/v1/projects/generated-projects/")
    gp = hook.create_generated_project(project, "/data/x", status="generating", idempotency_key="af1-lost")
    assert list(hishamos.state.generated_projects) == [gp["id"]]
    hishamos.inject("drop_after_commit", method="POST", path="/api/v1/projects/repository-exports/")
    export = hook.create_repository_export(gp["id"], "tar.gz", repository_name="x", idempotency_key="af1-lost-ex")
    assert list(hishamos.state.repository_exports) == [export["id"]]
    assert len(hishamos.requests_to("POST", "/api/v1/projects/repository-exports/")) == 1


def test_api_key_on_a_trial_organization_is_a_tier_error(hishamos_trial, hook_for):
    hook = hook_for("api_key")
    with pytest.raises(HishamOSTierError) as err:
        hook.call("GET", ME)
    assert err.value.feature == "ai.api_access" and err.value.status == 401
    assert "use auth mode 'password' or 'jwt_secret'" in str(err.value)
    ok, message = hook.test_connection()
    assert not ok and "ai.api_access" in message and hishamos_trial.state.api_key not in message
    assert len(hishamos_trial.requests_to("GET", ME)) == 2  # one each: no replay, no retry


def test_agent_execute_500_is_hishamos_failing_and_is_not_retried(hishamos, hook_for):
    hook = hook_for()
    agent = hook.list_agents()[0]
    path = f"/api/v1/agents/{agent['id']}/execute/"
    hishamos.inject("status", status=500, method="POST", path=path, times=5)
    with pytest.raises(HishamOSAgentError, match=f"HishamOS failed to run agent '{agent['id']}': A server error "
                                                 "occurred.*not retried") as err:
        hook.execute_agent(agent["id"], "write tests")
    assert err.value.status == 500 and len(hishamos.requests_to("POST", path)) == 1


def test_discover_endpoints_is_cached(hishamos, hook_for):
    _schema_cache.clear()
    endpoints = hook_for().discover_endpoints()
    assert endpoints["/api/v1/projects/stories/"] == ["GET", "POST"]
    assert hook_for().has_endpoint("post", "/api/v1/projects/stories/bulk-update-status/")
    assert len(hishamos.requests_to("GET", "/api/schema/")) == 1


def test_endpoint_forms_and_full_urls_must_be_on_the_connection_host(hook_for, hishamos):
    hook = hook_for()
    assert hook.call("GET", hishamos.url + ME)["id"]
    assert hook.call("get", "api/v1/auth/me")["id"]  # slashes added: Django would redirect
    assert hook.call("GET", "/api/v1/agents?search=QA")["results"][0]["name"] == "QA Engineer"
    with pytest.raises(HishamOSConfigError, match="names host 'example.com'.*not this connection's host"):
        hook.call("GET", "http://example.com" + ME)


# -- provider metadata -----------------------------------------------------------------------------
def test_provider_and_connection_form_are_discovered_by_airflow():
    """What ``airflow providers hooks`` and the UI's ``GET /ui/connections/hook_meta`` show."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    assert "airflow-provider-hisham" in pm.providers
    hook = pm.hooks["hishamos"]
    assert hook.hook_class_name == "airflow_provider_hisham.hooks.hishamos.HishamOSHook"
    assert hook.connection_id_attribute_name == "hishamos_conn_id" and hook.connection_testable
    assert pm.connection_form_widgets["extra__hishamos__jwt_secret"].is_sensitive
    assert pm.connection_form_widgets["extra__hishamos__api_key"].is_sensitive
    assert pm.field_behaviours["hishamos"]["relabeling"]["login"] == "Email (auth mode password)"
    meta = next(m for m in HookMetaService.hook_meta_data() if m.connection_type == "hishamos")
    assert set(meta.extra_fields) == {"auth_mode", "jwt_secret", "api_key", "default_user_id", "timeout",
                                      "verify_ssl"}
    assert meta.extra_fields["auth_mode"]["schema"]["enum"] == ["password", "jwt_secret", "api_key"]
    assert meta.extra_fields["jwt_secret"]["schema"]["format"] == "password"
    assert meta.standard_fields.host.title == "HishamOS URL" and meta.standard_fields.port.hidden


# -- booleans in the connection ----------------------------------------------------------------------
@pytest.mark.parametrize("value, verify", [("off", False), ("No", False), ("true", True), (None, True), ("", True)])
def test_verify_ssl_uses_the_one_boolean_parser(hishamos_conn, value, verify):
    extra = {} if value is None else {"verify_ssl": value}
    got = HishamOSHook(hishamos_conn(**extra)).get_conn().verify
    assert (got is not False) is verify  # verifying: True or the environment's CA bundle path


def test_an_unknown_boolean_is_refused_naming_the_field(hishamos_conn):
    with pytest.raises(HishamOSConfigError, match="connection 'hishamos_default': field 'verify_ssl': expected a boolean"):
        HishamOSHook(hishamos_conn(verify_ssl="maybe")).get_conn()


# -- our own base URL and session (not HttpHook's internals) ---------------------------------------
def test_the_hook_uses_only_its_own_attributes_and_basehooks_public_api():
    """Built on Airflow's ``BaseHook``, not the http provider's ``HttpHook``: every ``self.<name>``
    the hook reads is one it defines or sets itself, or public API of ``BaseHook``."""
    import ast
    import inspect

    from airflow.sdk import BaseHook

    import airflow_provider_hisham.hooks.hishamos as module

    assert "HttpHook" not in {c.__name__ for c in HishamOSHook.__mro__}
    assert HishamOSHook.__mro__[1:] == BaseHook.__mro__
    cls = next(n for n in ast.parse(inspect.getsource(module)).body
               if isinstance(n, ast.ClassDef) and n.name == "HishamOSHook")
    on_self = [n for n in ast.walk(cls) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
               and n.value.id == "self"]
    own = ({n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
           | {t.id for n in cls.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
           | {n.attr for n in on_self if isinstance(n.ctx, ast.Store)})
    inherited = {n.attr for n in on_self} - own
    assert inherited == {"get_connection", "log"}
    assert all(hasattr(BaseHook, name) and not name.startswith("_") for name in inherited)


def _host_conn(monkeypatch, hishamos, **fields):
    conn = {**hishamos.connection(), **fields}
    monkeypatch.setenv("AIRFLOW_CONN_HISHAMOS_HOSTS", json.dumps({k: v for k, v in conn.items() if v is not None}))
    return HishamOSHook("hishamos_hosts", retry_policy=FAST)


@pytest.mark.parametrize("fields", [
    {},  # host 127.0.0.1, schema http, port
    {"host": "http://{addr}", "port": None, "schema": None},
    {"host": "http://127.0.0.1", "schema": "https"},  # a URL's own scheme wins over schema
    {"host": "HTTP://127.0.0.1", "schema": None},
])
def test_the_base_url_is_built_from_host_schema_and_port_as_before(monkeypatch, hishamos, fields):
    addr = f"127.0.0.1:{hishamos.port}"
    hook = _host_conn(monkeypatch, hishamos, **{k: v.format(addr=addr) if isinstance(v, str) else v
                                                for k, v in fields.items()})
    assert hook.call("GET", ME)["email"] == hishamos.state.user.email
    assert hook.base_url.lower() == f"http://{addr}"


@pytest.mark.parametrize("host, message", [
    ("ftp://127.0.0.1", "field 'host' must be an http(s) URL or a host name"),
    ("://127.0.0.1", "field 'host' must be an http(s) URL or a host name"),
    ("", "field 'host' must be an http(s) URL or a host name"),
    ("http://127.0.0.1/?next=1", "field 'host' must not have a query or fragment"),
    ("http://127.0.0.1/#top", "field 'host' must not have a query or fragment"),
    ("127.0.0.1\r\nX-Evil: 1", "field 'host' contains a control character"),
])
def test_a_host_that_is_not_one_http_origin_is_refused_before_any_request(monkeypatch, hishamos, host, message):
    hook = _host_conn(monkeypatch, hishamos, host=host, port=None)
    with pytest.raises(HishamOSConfigError, match=re.escape(f"connection 'hishamos_hosts': {message}")):
        hook.get_conn()
    assert hishamos.state.requests == []


def test_the_session_has_tcp_keepalive_and_the_environments_proxy_and_ca_bundle(monkeypatch, hishamos,
                                                                               hishamos_conn, tmp_path):
    from airflow_provider_hisham.api.transport import KeepAliveAdapter

    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    session = HishamOSHook(hishamos_conn()).get_conn()
    assert session.proxies == {} and session.verify == str(bundle) and not session.trust_env  # NO_PROXY: 127.0.0.1
    for scheme in ("http", "https"):
        adapter = session.get_adapter(f"{scheme}://127.0.0.1/")
        assert isinstance(adapter, KeepAliveAdapter)
        assert (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1) in adapter.poolmanager.connection_pool_kw["socket_options"]
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.delenv("no_proxy")
    assert HishamOSHook(hishamos_conn()).get_conn().proxies == {"http": "http://proxy.invalid:3128"}
