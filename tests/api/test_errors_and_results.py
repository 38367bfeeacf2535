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
