"""The HishamOS stand-in follows the shared schema and the observed behaviour in its README."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import jwt
import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.servers.hishamos import DJANGO_404, HishamOSServer
from tests.servers.hishamos_spec import VENDORED_PATHS, load_yaml, trim, vendored_spec

pytestmark = pytest.mark.harness  # the test harness, not the provider

STORIES = "/api/v1/projects/stories/"


@pytest.fixture
def api(hishamos):
    """A logged-in requests session for alice, and a helper to call the stand-in."""
    session = requests.Session()
    st = hishamos.state
    tokens = session.post(hishamos.url + "/api/v1/auth/login/",
                          json={"email": st.user.email, "password": st.user.password}).json()
    session.headers["Authorization"] = f"Bearer {tokens['access']}"
    session.tokens = tokens

    def call(method, path, **kw):
        return session.request(method, hishamos.url + path, **kw)

    session.call = call
    return session


def _project(api, **over):
    body = {"name": "Shop", "start_date": "2026-01-01", "end_date": "2026-06-30", "organization": None, **over}
    resp = api.call("POST", "/api/v1/projects/", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def _story(api, project_id, **over):
    body = {"project": project_id, "title": "Checkout", "description": "As a buyer...",
            "acceptance_criteria": "Given...", **over}
    return api.call("POST", STORIES, json=body)


def test_vendored_schema_equals_the_shared_schema_for_the_paths_used(shared_dir):
    full = load_yaml(shared_dir / "hishamos" / "openapi.yaml")
    assert trim(full) == vendored_spec()
    assert set(vendored_spec()["paths"]) == set(VENDORED_PATHS)


def test_login_me_and_error_for_bad_credentials(hishamos, api):
    me = api.call("GET", "/api/v1/auth/me/").json()
    assert me["email"] == hishamos.state.user.email and me["id"] == hishamos.state.user.id
    resp = requests.post(hishamos.url + "/api/v1/auth/login/", json={"email": me["email"], "password": "wrong"})
    assert resp.status_code == 401
    assert resp.json() == {"error": True, "message": "No active account found with the given credentials",
                           "details": {"detail": "No active account found with the given credentials",
                                       "code": "no_active_account"}, "status_code": 401}
    missing = requests.post(hishamos.url + "/api/v1/auth/login/", json={"email": me["email"]})
    assert missing.status_code == 400 and missing.json()["details"] == {"password": ["This field is required."]}


def test_tokens_are_hs256_with_the_documented_claims_and_30_minute_access(hishamos, api):
    claims = jwt.decode(api.tokens["access"], hishamos.state.jwt_secret, algorithms=["HS256"])
    assert claims["token_type"] == "access" and claims["user_id"] == hishamos.state.user.id
    assert len(claims["jti"]) == 32 and claims["exp"] - claims["iat"] == 30 * 60


@pytest.mark.parametrize("case", ["forged", "expired", "no_jti", "no_token_type", "no_exp", "refresh_as_access"])
def test_forged_and_expired_tokens_get_401(hishamos, case):
    st = hishamos.state
    token = {
        "forged": lambda: st.mint(st.user.id, secret="not-the-secret-" + "x" * 32),
        "expired": lambda: st.mint(st.user.id, lifetime=-5),
        "no_jti": lambda: st.mint(st.user.id, jti=None),
        "no_token_type": lambda: st.mint(st.user.id, token_type=None),
        "no_exp": lambda: st.mint(st.user.id, exp=None),
        "refresh_as_access": lambda: st.mint(st.user.id, "refresh"),
    }[case]()
    resp = requests.get(hishamos.url + "/api/v1/auth/me/", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
    body = resp.json()
    assert body["error"] is True and body["status_code"] == 401
    assert body["details"]["detail"] == body["message"] == "Given token not valid for any token type"


def test_minted_token_acts_as_that_user_and_clock_expiry(hishamos):
    st = hishamos.state
    bob = st.user_by_name("bob")
    token = st.mint(bob.id)
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(hishamos.url + "/api/v1/auth/me/", headers=headers).json()["email"] == bob.email
    st.clock_offset = 31 * 60
    assert requests.get(hishamos.url + "/api/v1/auth/me/", headers=headers).status_code == 401


def test_revoke_refresh_tokens_forces_a_new_login(hishamos, api):
    url = hishamos.url + "/api/v1/auth/token/refresh/"
    first = requests.post(url, json={"refresh": api.tokens["refresh"]})
    assert first.status_code == 200 and set(first.json()) == {"access", "refresh"}
    hishamos.state.revoke_refresh_tokens()
    for token in (api.tokens["refresh"], first.json()["refresh"]):
        again = requests.post(url, json={"refresh": token})
        assert again.status_code == 401 and again.json()["message"] == "Token is blacklisted"


def test_api_key_header(hishamos):
    ok = requests.get(hishamos.url + "/api/v1/auth/me/", headers={"X-API-Key": hishamos.state.api_key})
    assert ok.status_code == 200 and ok.json()["id"] == hishamos.state.user.id
    bad = requests.get(hishamos.url + "/api/v1/auth/me/", headers={"X-API-Key": "nope"})
    assert bad.status_code == 401 and bad.json()["message"] == "Invalid API key."
    none = requests.get(hishamos.url + "/api/v1/auth/me/")
    assert none.status_code == 401 and none.json()["message"] == "Authentication credentials were not provided."


def test_projects_rules(hishamos, api):
    short = api.call("POST", "/api/v1/projects/", json={"name": "ab", "organization": None})
    assert short.status_code == 400
    assert short.json()["details"] == {"name": ["Ensure this field has at least 3 characters."]}
    no_org_key = api.call("POST", "/api/v1/projects/", json={"name": "abc"})
    assert no_org_key.json()["details"] == {"organization": ["This field is required."]}
    project = _project(api)
    assert project["organization"] == hishamos.state.org_id and project["owner"] == hishamos.state.user.id
    patched = api.call("PATCH", f"/api/v1/projects/{project['id']}/", json={"status": "active"})
    assert patched.status_code == 200 and patched.json()["status"] == "active"
    # another user does not see it
    bob = {"Authorization": f"Bearer {hishamos.state.mint(hishamos.state.user_by_name('bob').id)}"}
    foreign = requests.get(hishamos.url + f"/api/v1/projects/{project['id']}/", headers=bob)
    assert foreign.status_code == 404 and foreign.json()["message"] == "No Project matches the given query."


def test_unknown_paths_and_non_uuid_ids_are_django_html_404(api):
    for path in ("/api/v1/projects/not-a-uuid/", "/api/v1/projects/123/stories/", "/api/v1/nothing/"):
        resp = api.call("GET", path)
        assert resp.status_code == 404 and resp.headers["Content-Type"].startswith("text/html")
        assert resp.text == DJANGO_404


def test_story_validation_numbers_and_schema_checks(hishamos, api):
    project = _project(api)
    missing = _story(api, project["id"], description=None, acceptance_criteria="")
    assert missing.status_code == 400
    assert missing.json() == {"error": True, "message": "Description is required.", "status_code": 400,
                              "details": {"description": ["Description is required."],
                                          "acceptance_criteria": ["Acceptance criteria is required."]}}
    bad = _story(api, "not-a-uuid", title="x" * 301)
    assert bad.status_code == 400
    assert bad.json()["details"] == {"title": ["Ensure this field has no more than 300 characters."],
                                     "project": ["Must be a valid UUID."]}
    assert [_story(api, project["id"]).json()["number"] for _ in range(2)] == ["STORY-1", "STORY-2"]
    assert len(hishamos.state.stories_of(project["id"])) == 2


def test_story_list_filters_and_paginates_25_a_page(hishamos, api):
    project, other = _project(api), _project(api, name="Other")
    for i in range(27):
        assert _story(api, project["id"], title=f"s{i}").status_code == 201
    _story(api, other["id"])
    page1 = api.call("GET", STORIES, params={"project": project["id"], "page_size": 100}).json()
    assert page1["count"] == 27 and len(page1["results"]) == 25 and page1["previous"] is None
    assert page1["next"].endswith("page=2") and f"project={project['id']}" in page1["next"]
    page2 = requests.get(page1["next"], headers=api.headers).json()
    assert len(page2["results"]) == 2 and page2["next"] is None
    past = api.call("GET", STORIES, params={"project": project["id"], "page": 3})
    assert past.status_code == 404
    assert past.json() == {"error": True, "message": "Invalid page.", "details": {"detail": "Invalid page."},
                           "status_code": 404}


def test_story_patch_500_and_bulk_update_status(hishamos, api):
    story = _story(api, _project(api)["id"]).json()
    patch = api.call("PATCH", f"{STORIES}{story['id']}/", json={"status": "done"})
    assert patch.status_code == 500 and patch.json()["message"] == "name 'array_fields' is not defined"
    bulk = api.call("POST", STORIES + "bulk-update-status/",
                    json={"items": [{"id": story["id"]}, {"id": "00000000-0000-0000-0000-000000000000"}],
                          "status": "done"})
    assert bulk.status_code == 200
    assert bulk.json() == {"updated_count": 1, "errors": ["Failed to update story 00000000-0000-0000-0000-000000000000: "
                                                          "Story matching query does not exist."]}
    assert hishamos.state.stories[story["id"]]["status"] == "done"


def test_sprint_date_rules(api):
    project = _project(api)
    base = {"project": project["id"], "name": "Sprint 1", "sprint_number": 1,
            "start_date": "2026-01-05", "end_date": "2026-01-18"}
    created = api.call("POST", "/api/v1/projects/sprints/", json=base)
    assert created.status_code == 201 and created.json()["project_name"] == "Shop"
    outside = api.call("POST", "/api/v1/projects/sprints/",
                       json={**base, "sprint_number": 2, "start_date": "2025-12-20", "end_date": "2026-01-02"})
    assert outside.status_code == 400 and "within the project's dates" in outside.json()["message"]
    overlap = api.call("POST", "/api/v1/projects/sprints/",
                       json={**base, "sprint_number": 2, "start_date": "2026-01-10", "end_date": "2026-01-24"})
    assert overlap.status_code == 400 and "overlap" in overlap.json()["message"]
    missing = api.call("POST", "/api/v1/projects/sprints/", json={"project": project["id"], "name": "x"})
    assert set(missing.json()["details"]) == {"sprint_number", "start_date", "end_date"}
    patched = api.call("PATCH", f"/api/v1/projects/sprints/{created.json()['id']}/", json={"goal": "ship"})
    assert patched.status_code == 200 and patched.json()["goal"] == "ship"


def test_agents_list_and_execute(hishamos, api):
    agents = api.call("GET", "/api/v1/agents/").json()
    legal = next(a for a in agents["results"] if a["name"] == "Legal Counsel")
    run = api.call("POST", f"/api/v1/agents/{legal['id']}/execute/", json={"prompt": "check it", "context": {"k": 1}})
    assert run.status_code == 200 and run.json()["output"] == "[Legal Counsel] check it"
    assert api.call("POST", f"/api/v1/agents/{legal['id']}/execute/", json={}).status_code == 400


def test_generated_projects_and_exports(hishamos, api):
    project = _project(api)
    gp = api.call("POST", "/api/v1/projects/generated-projects/",
                  json={"project": project["id"], "output_directory": "/data/gp/shop", "status": "completed"})
    assert gp.status_code == 201 and gp.json()["output_directory"] == "/data/gp/shop"
    gp_id = gp.json()["id"]
    export = api.call("POST", "/api/v1/projects/repository-exports/",
                      json={"generated_project": gp_id, "export_type": "tar.gz", "archive_path": "/a/shop.tar.gz",
                            "archive_size": 1234, "status": "completed", "repository_name": "shop"})
    assert export.status_code == 201 and export.json()["archive_size"] is None  # read-only: dropped
    got = api.call("GET", f"/api/v1/projects/repository-exports/{export.json()['id']}/")
    assert got.status_code == 403
    listed = api.call("GET", "/api/v1/projects/repository-exports/", params={"generated_project": gp_id}).json()
    assert [e["id"] for e in listed["results"]] == [export.json()["id"]]


def test_schema_endpoint(hishamos):
    resp = requests.get(hishamos.url + "/api/schema/", params={"format": "json"})
    assert resp.status_code == 200 and "/api/v1/projects/stories/" in resp.json()["paths"]


def test_faults_status_delay_reset_and_drop_after_commit(hishamos, api):
    project = _project(api)
    hishamos.inject("status", status=429, retry_after=3, path="/api/v1/auth/me/")
    throttled = api.call("GET", "/api/v1/auth/me/")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    assert throttled.json()["message"] == "Request was throttled. Expected available in 3 seconds."
    hishamos.inject("status", status=502)
    assert api.call("GET", "/api/v1/auth/me/").status_code == 502
    hishamos.inject("delay", delay=0.3)
    start = time.monotonic()
    assert api.call("GET", "/api/v1/auth/me/").status_code == 200 and time.monotonic() - start >= 0.3
    hishamos.inject("reset")
    with pytest.raises(requests.ConnectionError):
        api.call("GET", "/api/v1/auth/me/")
    hishamos.inject("drop_after_commit", method="POST", path=STORIES)
    with pytest.raises(requests.ConnectionError):
        _story(api, project["id"])
    assert len(hishamos.state.stories_of(project["id"])) == 1  # committed, response lost
    assert hishamos.requests_to("POST", STORIES)[-1].fault == "drop_after_commit"


def test_standalone_command_prints_credentials_that_work(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "tests.servers.hishamos", "--port", "0", "--lifetime", "60",
                             "--tier", "trial", "--no-rate-limits"],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        while not lines or lines[-1] != "}\n":
            lines.append(proc.stdout.readline())
        info = json.loads("".join(lines))
        assert (info["tier"], info["rate_limits"]) == ("trial", False)
        login = requests.post(info["url"] + "/api/v1/auth/login/",
                              json={"email": info["email"], "password": info["password"]})
        assert login.status_code == 200
        conn = json.loads(info["AIRFLOW_CONN_HISHAMOS_DEFAULT"])
        assert conn["conn_type"] == "hishamos" and conn["login"] == info["email"]
    finally:
        proc.terminate()
        proc.wait(10)


def test_server_without_validation_still_serves(tmp_path):
    with HishamOSServer(validate=False) as server:
        resp = requests.get(server.url + "/api/v1/auth/me/", headers={"X-API-Key": server.state.api_key})
        assert resp.status_code == 200
