"""Contract tests: the stand-in behaves as ``../shared/hishamos/README.md`` says the real backend does.

One test per README point (section "More behaviour of the real backend" and the records section
before it), so a future difference between the stand-in and the README shows up as a failure.
Auth, error bodies, pagination, projects and sprints rules are in ``test_hishamos_server.py``;
the agents' points are with the agent routes.
"""

from __future__ import annotations

import jwt
import pytest
import requests

from tests.servers.fixtures import both_tiers
from tests.servers.hishamos import DJANGO_404, GP_TRANSITIONS, TOO_MANY_REQUESTS_PAGE, ApiError
from tests.servers.hishamos_spec import vendored_spec
from tests.servers.test_hishamos_server import STORIES, _project, _story, api  # noqa: F401 - fixture

pytestmark = pytest.mark.harness  # the test harness, not the provider

GPS = "/api/v1/projects/generated-projects/"
EXPORTS = "/api/v1/projects/repository-exports/"
ME = "/api/v1/auth/me/"
NO_EXPORTS = ("This feature (projects.import_export) is not available in the Trial tier. "
              "Please upgrade your subscription.")


def _gp(api, project_id, **over):
    resp = api.call("POST", GPS, json={"project": project_id, "output_directory": "/data/gp/shop", **over})
    assert resp.status_code == 201, resp.text
    return resp.json()


def _headers_of(server, name):
    return {"Authorization": f"Bearer {server.state.mint(server.state.user_by_name(name).id)}"}


# -- subscription tiers ------------------------------------------------------------------------
def test_trial_allows_one_project(hishamos_trial, api):
    st = hishamos_trial.state
    assert sum(p["organization"] == st.org_id for p in st.projects.values()) == 1  # the seeded demo project
    resp = api.call("POST", "/api/v1/projects/", json={"name": "Second", "organization": None})
    assert resp.status_code == 400
    body = resp.json()
    assert body["error"] is True and body["status_code"] == 400 and body["message"] == "Validation error"
    assert "Trial tier" in body["details"][0]
    st.set_tier("professional")
    assert api.call("POST", "/api/v1/projects/", json={"name": "Second", "organization": None}).status_code == 201


def test_trial_has_no_import_export(hishamos_trial, api):
    gp = _gp(api, hishamos_trial.state.demo_project_id)
    for export_type in ("zip", "tar", "tar.gz", "github", "gitlab"):
        resp = api.call("POST", EXPORTS, json={"generated_project": gp["id"], "export_type": export_type})
        assert resp.status_code == 400
        assert resp.json() == {"error": True, "message": "Validation error", "details": [NO_EXPORTS],
                               "status_code": 400}
    assert hishamos_trial.state.repository_exports == {}


def test_trial_has_no_api_access(hishamos_trial):
    resp = requests.get(hishamos_trial.url + ME, headers={"X-API-Key": hishamos_trial.state.api_key})
    assert resp.status_code == 401
    assert resp.json()["message"].startswith("API access is not available for your subscription tier")
    assert resp.json()["details"] == {"detail": resp.json()["message"]}
    bad = requests.get(hishamos_trial.url + ME, headers={"X-API-Key": "hsk_nope"})
    assert bad.status_code == 401 and bad.json()["message"] == "Invalid API key."


def test_professional_has_projects_exports_and_api_access(hishamos, api):
    assert api.call("POST", "/api/v1/projects/", json={"name": "Second", "organization": None}).status_code == 201
    gp = _gp(api, hishamos.state.demo_project_id)
    assert api.call("POST", EXPORTS, json={"generated_project": gp["id"], "export_type": "zip"}).status_code == 201
    assert requests.get(hishamos.url + ME, headers={"X-API-Key": hishamos.state.api_key}).status_code == 200


@both_tiers
def test_tier_parametrization_reaches_tests_that_only_use_a_connection(hishamos_conn, hishamos_server, hishamos_tier):
    hishamos_conn("password")
    assert hishamos_server.state.tier_of(hishamos_server.state.user) == hishamos_tier


def test_agent_executions_count_against_the_tier_limit(hishamos_trial):
    st = hishamos_trial.state
    st.execution_limits["trial"] = 2
    alice, bob, carol = st.user, st.user_by_name("bob"), st.user_by_name("carol")
    st.count_agent_execution(alice)
    st.count_agent_execution(bob)  # same organization: same counter
    with pytest.raises(ApiError) as exc:
        st.count_agent_execution(alice)
    assert exc.value.status == 403 and set(exc.value.response_body()) == {"error"}
    st.count_agent_execution(carol)  # another organization (professional) is not affected


# -- API keys -----------------------------------------------------------------------------------
def test_only_provisioned_api_keys_authenticate(hishamos):
    """Keys created through HishamOS's API come back empty (README); a working key is one an
    administrator provisioned, which is what the stand-in hands out (it does not serve the
    api-keys route: the provider never calls it)."""
    assert requests.get(hishamos.url + ME, headers={"X-API-Key": ""}).status_code == 401
    provisioned = hishamos.state.provision_api_key("bob")
    me = requests.get(hishamos.url + ME, headers={"X-API-Key": provisioned})
    assert me.status_code == 200 and me.json()["email"] == "bob@hishamos.test"
    bad = requests.get(hishamos.url + ME, headers={"X-API-Key": provisioned + "x"})
    assert bad.status_code == 401 and bad.json()["message"] == "Invalid API key."


# -- GeneratedProject ---------------------------------------------------------------------------
def test_generated_project_read_only_fields_are_dropped(hishamos, api):
    project = _project(api)
    gp = _gp(api, project["id"], output_directory="relative/../as-given", status="generating", total_files=7,
             total_size=99, completed_at="2026-01-01T00:00:00Z", error_message="")
    assert gp["output_directory"] == "relative/../as-given" and gp["status"] == "generating"
    assert (gp["total_files"], gp["total_size"], gp["completed_at"]) == (0, 0, None)
    patched = api.call("PATCH", f"{GPS}{gp['id']}/", json={"total_files": 3, "total_size": 10,
                                                            "completed_at": "2026-01-01T00:00:00Z"}).json()
    assert (patched["total_files"], patched["total_size"], patched["completed_at"]) == (0, 0, None)


def test_generated_project_status_transitions(hishamos, api):
    project = _project(api)
    statuses = ("pending", "generating", "completed", "failed", "archived")
    for start in statuses:
        for target in statuses:
            gp = _gp(api, project["id"], status=start)
            resp = api.call("PATCH", f"{GPS}{gp['id']}/", json={"status": target})
            if target in GP_TRANSITIONS.get(start, ()):
                assert resp.status_code == 200 and resp.json()["status"] == target
            else:
                msg = f"Invalid transition from {start} to {target}"
                assert resp.status_code == 400, (start, target)
                assert resp.json() == {"error": True, "message": msg, "details": {"status": [msg]},
                                       "status_code": 400}
    assert GP_TRANSITIONS == {"pending": {"generating"}, "generating": {"completed", "failed"},
                              "completed": {"archived"}}


def test_generated_project_by_id_works_for_its_creator(hishamos, api):
    """Unlike an export (below): the hook's update_generated_project PATCHes one by id."""
    gp = _gp(api, _project(api)["id"])
    assert api.call("PATCH", f"{GPS}{gp['id']}/", json={"error_message": "x"}).json()["error_message"] == "x"


# -- RepositoryExport ---------------------------------------------------------------------------
def test_repository_export_keeps_only_writable_fields(hishamos, api):
    gp = _gp(api, _project(api)["id"], status="completed")
    config = {"nested": {"sha": "abc", "list": [1, 2]}, "marker": "hisham:1"}
    resp = api.call("POST", EXPORTS, json={
        "generated_project": gp["id"], "export_type": "tar.gz", "repository_name": "shop", "config": config,
        "repository_url": "https://example.test/shop.git", "archive_path": "/a/shop.tar.gz", "archive_size": 1234,
        "status": "completed", "error_message": "none", "completed_at": "2026-01-01T00:00:00Z"})
    assert resp.status_code == 201
    rec = resp.json()
    assert (rec["generated_project"], rec["export_type"], rec["repository_name"], rec["config"]) == \
        (gp["id"], "tar.gz", "shop", config)
    assert (rec["status"], rec["repository_url"], rec["archive_path"], rec["archive_size"], rec["error_message"],
            rec["completed_at"], rec["download_url"]) == ("pending", "", "", None, "", None, "")


def test_repository_export_type_choices(hishamos, api):
    gp = _gp(api, _project(api)["id"])
    resp = api.call("POST", EXPORTS, json={"generated_project": gp["id"], "export_type": "git"})
    assert resp.status_code == 400
    assert resp.json()["details"] == {"export_type": ['"git" is not a valid choice.']}
    assert resp.json()["message"] == '"git" is not a valid choice.'


def test_repository_export_by_id_is_403_to_its_creator_and_listing_works(hishamos, api):
    gp = _gp(api, _project(api)["id"])
    export = api.call("POST", EXPORTS, json={"generated_project": gp["id"], "export_type": "zip"}).json()
    for method in ("GET", "PATCH"):  # the two the README names
        resp = api.call(method, f"{EXPORTS}{export['id']}/", json={"repository_name": "x"})
        assert resp.status_code == 403, method
        assert resp.json()["details"] == {"detail": "You do not have permission to perform this action."}
    admin = _headers_of(hishamos, "admin")
    got = requests.get(f"{hishamos.url}{EXPORTS}{export['id']}/", headers=admin)
    assert got.status_code == 200 and got.json()["id"] == export["id"]
    listed = api.call("GET", EXPORTS, params={"generated_project": gp["id"]}).json()
    assert [e["id"] for e in listed["results"]] == [export["id"]]
    other = _gp(api, gp["project"])
    assert api.call("GET", EXPORTS, params={"generated_project": other["id"]}).json()["count"] == 0


# -- stories ------------------------------------------------------------------------------------
def test_story_validation_messages_are_hishamos_own(hishamos, api):
    project = _project(api)
    resp = _story(api, project["id"], description="", acceptance_criteria=" ")
    assert resp.status_code == 400
    assert resp.json() == {"error": True, "message": "Description is required.", "status_code": 400,
                           "details": {"description": ["Description is required."],
                                       "acceptance_criteria": ["Acceptance criteria is required."]}}
    nested = api.call("GET", f"/api/v1/projects/{project['id']}/stories/")
    assert nested.status_code == 404 and nested.text == DJANGO_404


def test_bulk_update_status_reports_failures_as_strings_with_200(hishamos, api):
    project = _project(api)
    story = _story(api, project["id"]).json()
    missing = "00000000-0000-0000-0000-000000000000"
    bulk = api.call("POST", STORIES + "bulk-update-status/",
                    json={"items": [{"id": story["id"]}, {"id": missing}], "status": "in_progress"})
    assert bulk.status_code == 200
    assert bulk.json()["updated_count"] == 1
    assert [e.startswith(f"Failed to update story {missing}: ") for e in bulk.json()["errors"]] == [True]
    bad = api.call("POST", STORIES + "bulk-update-status/", json={"items": [{"id": story["id"]}], "status": "nope"})
    assert bad.status_code == 200 and bad.json()["updated_count"] == 0
    assert bad.json()["errors"][0].startswith(f"Failed to update story {story['id']}: ")
    assert hishamos.state.stories[story["id"]]["status"] == "in_progress"
    hishamos.state.project_states[project["id"]] = ("open", "closed")  # the project's own workflow
    custom = api.call("POST", STORIES + "bulk-update-status/", json={"items": [{"id": story["id"]}], "status": "closed"})
    assert custom.json() == {"updated_count": 1, "errors": []}


# -- refresh tokens -----------------------------------------------------------------------------
def test_login_is_by_email(hishamos, api):
    st = hishamos.state
    assert set(api.tokens) == {"access", "refresh", "user"} and api.tokens["user"]["email"] == st.user.email
    by_username = requests.post(hishamos.url + "/api/v1/auth/login/",
                                json={"username": st.user.username, "password": st.user.password})
    assert by_username.status_code == 400 and by_username.json()["details"] == {"email": ["This field is required."]}


def test_refresh_is_rotated_but_not_blacklisted(hishamos, api):
    claims = jwt.decode(api.tokens["refresh"], hishamos.state.jwt_secret, algorithms=["HS256"])
    assert claims["token_type"] == "refresh" and claims["exp"] - claims["iat"] == 30 * 24 * 3600
    url = hishamos.url + "/api/v1/auth/token/refresh/"
    first = requests.post(url, json={"refresh": api.tokens["refresh"]})
    assert first.status_code == 200 and first.json()["refresh"] != api.tokens["refresh"]
    again = requests.post(url, json={"refresh": api.tokens["refresh"]})
    assert again.status_code == 200 and set(again.json()) == {"access", "refresh"}
    assert requests.get(hishamos.url + ME, headers={"Authorization": f"Bearer {again.json()['access']}"}).ok


def test_project_writes_need_an_organization(hishamos):
    resp = requests.post(hishamos.url + "/api/v1/projects/", headers=_headers_of(hishamos, "nobody"),
                         json={"name": "Orphan", "organization": None})
    assert resp.status_code == 400 and set(resp.json()["details"]) == {"organization"}


# -- rate limits --------------------------------------------------------------------------------
def test_middleware_answers_html_429_after_100_requests_a_minute(hishamos, api):
    st = hishamos.state
    sent = len(st.requests)  # the login of the ``api`` fixture counts too
    for _ in range(100 - sent):
        assert api.call("GET", "/api/v1/nothing/").status_code == 404  # unknown paths count: it is a middleware
    limited = api.call("GET", ME)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    assert limited.headers["Content-Type"].startswith("text/html") and limited.text == TOO_MANY_REQUESTS_PAGE
    other_address = api.call("GET", ME, headers={"X-Forwarded-For": "10.0.0.9"})
    assert other_address.status_code == 200
    st.advance_clock(61)
    assert api.call("GET", ME).status_code == 200


def test_drf_anon_throttle_is_100_an_hour(hishamos):
    st = hishamos.state
    body = {"email": st.user.email, "password": st.user.password}
    for i in range(100):
        if i == 99:
            st.advance_clock(61)  # past the middleware's minute, inside DRF's hour
        assert requests.post(hishamos.url + "/api/v1/auth/login/", json=body).status_code == 200
    throttled = requests.post(hishamos.url + "/api/v1/auth/login/", json=body)
    assert throttled.status_code == 429 and throttled.headers["Content-Type"] == "application/json"
    wait = int(throttled.headers["Retry-After"])
    assert 3400 < wait < 3600
    msg = throttled.json()["message"]
    assert msg.startswith("Request was throttled. Expected available in ") and msg.endswith(" seconds.")
    assert throttled.json() == {"error": True, "message": msg, "details": {"detail": msg}, "status_code": 429}


def test_drf_user_throttle_is_1000_an_hour(hishamos, api):
    st = hishamos.state
    st.validate_responses = False  # 1,000 calls: spare the schema checks
    for i in range(999):  # the fixture's login was anonymous
        if i % 90 == 0:
            st.advance_clock(61)
        assert api.call("GET", ME).status_code == 200, i
    st.advance_clock(61)
    assert api.call("GET", ME).status_code == 200
    throttled = api.call("GET", ME)
    assert throttled.status_code == 429 and throttled.json()["status_code"] == 429
    bob = requests.get(hishamos.url + ME, headers=_headers_of(hishamos, "bob"))
    assert bob.status_code == 200  # per user


def test_rate_limits_switch_off_explicitly(hishamos_unthrottled, api):
    for _ in range(150):
        assert api.call("GET", ME).status_code == 200


# -- routes and fields --------------------------------------------------------------------------
def test_records_have_exactly_the_schemas_fields(hishamos, api):
    """No field the real backend lacks, none missing (the schema allows extra properties)."""
    schemas = vendored_spec()["components"]["schemas"]
    project = _project(api)
    story = _story(api, project["id"]).json()
    sprint = api.call("POST", "/api/v1/projects/sprints/", json={
        "project": project["id"], "name": "S1", "sprint_number": 1, "start_date": "2026-01-05",
        "end_date": "2026-01-18"}).json()
    gp = _gp(api, project["id"])
    export = api.call("POST", EXPORTS, json={"generated_project": gp["id"], "export_type": "zip"}).json()
    records = {"Project": project, "Story": story, "Sprint": sprint, "GeneratedProject": gp,
               "RepositoryExport": export, "UserProfile": api.call("GET", ME).json()}
    for name, rec in records.items():
        assert set(rec) == set(schemas[name]["properties"]), name


def test_every_route_is_in_the_real_schema(shared_dir):
    import re

    from tests.servers.hishamos import _ROUTES
    from tests.servers.hishamos_spec import load_yaml

    paths = load_yaml(shared_dir / "hishamos" / "openapi.yaml")["paths"]
    for methods, pattern, name, _opts in _ROUTES:
        template = re.sub(r"\(\?P<id>[^()]*\)", "{id}", pattern.pattern)
        if template == "/api/schema/":  # drf-spectacular's own view: not listed in the schema it serves
            continue
        assert template in paths, name
        assert methods <= {m.upper() for m in paths[template] if m != "parameters"}, name
