"""Error mapping and XCom result shaping."""

import json
import pickle

import pytest

from airflow_provider_hisham.api.errors import (
    HishamOSAPIError,
    HishamOSConfigError,
    HishamOSEndpointNotFound,
    error_from_response,
)
from airflow_provider_hisham.api.results import redact_credentials, select


def test_error_bodies_map_to_status_message_details():
    body = {"error": True, "message": "This field is required.", "details": {"title": ["This field is required."]},
            "status_code": 400}
    err = error_from_response(400, "application/json", json.dumps(body).encode(), "POST", "/api/v1/x/")
    assert (err.status, err.message, err.details) == (400, "This field is required.", body["details"])
    assert str(err) == ('HishamOS POST /api/v1/x/ failed with HTTP 400: This field is required. '
                        '(details: {"title": ["This field is required."]})')
    wf = error_from_response(500, "application/json", b'{"success": false, "error": "boom", "traceback": "t"}',
                             "POST", "/w/")
    assert wf.message == "boom"
    html = error_from_response(404, "text/html; charset=utf-8", b"<h1>Not Found</h1>", "GET", "/nope/")
    assert isinstance(html, HishamOSEndpointNotFound) and "no such endpoint /nope/" in str(html)
    gateway = error_from_response(502, "text/html", b"<html>502 Bad Gateway</html>", "GET", "/x/", "Bad Gateway")
    assert gateway.message == "Bad Gateway"
    again = pickle.loads(pickle.dumps(err))
    assert (again.status, again.message, again.details, str(again)) == (err.status, err.message, err.details, str(err))
    assert isinstance(HishamOSAPIError(None, "x"), Exception)


def test_select_and_redact():
    result = {"results": [{"id": "a", "number": "STORY-1"}], "count": 1}
    assert select(result, "results.0.number") == "STORY-1" and select(result, "count") == 1
    with pytest.raises(HishamOSConfigError, match="nothing at 'results.3'"):
        select(result, "results.3.id")
    assert redact_credentials({"access": "t", "refresh": "r", "user": {"email": "e", "password": "p"},
                               "items": [{"token": "x"}]}) == {
        "access": "***", "refresh": "***", "user": {"email": "e", "password": "***"}, "items": [{"token": "***"}]}


def test_credential_keys_are_recognised_in_every_case_style():
    from airflow_provider_hisham.api.results import is_credential_key, shape_result

    for key in ("key", "accessToken", "access_token", "api-key", "apiKey", "X-API-Key", "refresh_token", "Secret",
                "Authorization", "token", "password", "jwt", "jwt_secret", "clientSecret"):
        assert is_credential_key(key), key
    for key in ("id", "number", "max_tokens", "tokens_used", "token_usage", "airflow_idempotency_key", "keys"):
        assert not is_credential_key(key), key
    login = {"access": "a" * 20, "refresh": "r" * 20, "user": {"email": "e", "apiKey": "k" * 20, "has_api_key": True}}
    assert shape_result(login, "access") == "***" and shape_result(login, "user.apiKey") == "***"
    assert shape_result(login, "user") == {"email": "e", "apiKey": "***", "has_api_key": True}
    assert shape_result(login, "user.email") == "e"


def test_scrubber_hides_every_form_and_cuts_cleanly():
    import base64
    from urllib.parse import quote

    from airflow_provider_hisham.secrets import SecretScrubber, clean_credential, CredentialFormatError

    scrubber = SecretScrubber()
    secret = 'pa ss&"<w>\n'
    assert scrubber.add(secret, users=("alice@x",))
    forms = [secret, secret.strip(), quote(secret.strip(), safe=""), json.dumps(secret.strip())[1:-1],
             base64.b64encode(secret.strip().encode()).decode(),
             base64.b64encode(b"alice@x:" + secret.strip().encode()).decode(), "pa ss&amp;&quot;&lt;w&gt;"]
    text = " | ".join(forms)
    assert scrubber.scrub(text) == " | ".join(["***"] * len(forms))
    assert scrubber.scrub_value({secret.strip(): [secret]}) == {"***": ["***"]}
    assert scrubber.truncate("x" * 10 + secret.strip() + "y" * 90, 20) == "x" * 10 + "***" + "y" * 7
    assert scrubber.truncate("x" * 10 + secret.strip()[:6] + "y", 16) == "x" * 10  # no half secret at the cut
    assert not SecretScrubber() and SecretScrubber().scrub("abc") == "abc"
    assert clean_credential(" tok\r\n", "api_key") == ("tok", True)
    with pytest.raises(CredentialFormatError, match="field 'api_key' contains a control character") as err:
        clean_credential("tok\nX-Evil: 1", "api_key", "connection 'c'")
    assert "X-Evil" not in str(err.value)


def test_tier_refusals_become_tier_errors_with_feature_tier_and_advice():
    from airflow_provider_hisham.api.errors import HishamOSTierError

    body = {"error": True, "message": "Validation error", "status_code": 400,
            "details": ["This feature (projects.import_export) is not available in the Trial tier. "
                        "Please upgrade your subscription."]}
    err = error_from_response(400, "application/json", json.dumps(body).encode(), "POST", "/x/")
    assert isinstance(err, HishamOSTierError) and (err.feature, err.tier) == ("projects.import_export", "trial")
    assert "upgrade the organization's HishamOS subscription" in str(err) and "Trial tier" in str(err)
    again = pickle.loads(pickle.dumps(err))
    assert (again.feature, again.tier, str(again)) == (err.feature, err.tier, str(err))
    key = {"error": True, "status_code": 401, "details": {"detail": "x"},
           "message": "API access is not available for your subscription tier. Please upgrade."}
    err = error_from_response(401, "application/json", json.dumps(key).encode(), "GET", "/me/")
    assert isinstance(err, HishamOSTierError) and err.feature == "ai.api_access" and err.tier is None
    plain = error_from_response(400, "application/json", b'{"message": "Name is too short.", "details": {}}', "POST", "/")
    assert not isinstance(plain, HishamOSTierError)
    agent = error_from_response(500, "application/json", json.dumps(
        {"success": False, "error": "You cannot call this from an async context - use a thread or sync_to_async.",
         "message": "Agent execution failed", "traceback": "...", "error_type": "SynchronousOnlyOperation"}).encode(),
        "POST", "/api/v1/agents/a/execute/")
    assert agent.message.startswith("Agent execution failed: You cannot call this from an async context")
    assert "traceback" not in agent.details and agent.details["error_type"] == "SynchronousOnlyOperation"
