"""Hostile connection values, error bodies, results and URLs against the HishamOS client (issue 9, Secrets).

Each case runs in a confined child (``run_confined``) against a server on 127.0.0.1: the HishamOS
stand-in (real logins, for padded credentials) or a small echo server of this module that answers
errors which echo the whole request (headers, body, URL-encoded and base64 forms of it), in
JSON, HTML or plain text, and 200s with credential-named keys or foreign pagination links. The
child reports the exception (class, message, traceback), the hook's ``test_connection()`` text,
every log record (masked as Airflow masks task logs) and the XCom value; the parent asserts the
refusal or redaction, that nothing was sent where it must not be, and that no secret appears in
any of it in any form we send.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import os
import re
import secrets
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import jwt
import pytest

from airflow_provider_hisham.api.errors import (
    HishamOSAPIError,
    HishamOSConfigError,
    HishamOSForeignHostError,
    HishamOSTierError,
)
from airflow_provider_hisham.api.retry import RetryPolicy
from airflow_provider_hisham.secrets import REDACTED
from tests.security.harness import Case, Outcome, assert_no_secret, assert_refused, run_confined
from tests.servers.base import JsonHandler, LocalServer

#: The corpus is about what reaches messages, not about waiting: retries record their waits
#: (in the child; ``probe`` reports them) instead of sleeping.
WAITS: list[float] = []
FAST = RetryPolicy(max_attempts=3, deadline=5.0, base=0.01, cap=0.05, sleep=WAITS.append)
CONN_ID = "hishamos_corpus"
ME = "/api/v1/auth/me/"
STORIES = "/api/v1/projects/stories/"
EVIL = "evil.example"


# -- the echo server ------------------------------------------------------------------------------
@dataclass
class EchoState:
    """What the echo server answers; reset for each case. ``requests`` records what arrived."""

    login: str = "ok"  # "ok": token pair; "echo": the error below, echoing the login body
    status: int = 400
    ctype: str = "json"  # json | html | text | notjson (a 200 that is not JSON)
    payload: Any = None  # a 200 JSON answer for every non-auth path instead of an error
    pad: int = 0  # characters put before the echo (to put a secret across a truncation)
    extra: list[str] = field(default_factory=list)  # more text to echo (e.g. a JWT secret the backend logs)
    token_suffix: str = ""  # appended to the access token it hands out (e.g. a line break)
    prefix: str = "Request rejected: "  # the start of the JSON error message (e.g. a tier refusal)
    tokens: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class EchoHandler(JsonHandler):
    def handle_request(self) -> None:
        st: EchoState = self.server.state
        body = self.read_body()
        with st.lock:
            st.requests.append((self.command, self.path))
        if self.path_only in ("/api/v1/auth/login/", "/api/v1/auth/token/refresh/") and st.login == "ok":
            now = int(time.time())
            claims = {"token_type": "access", "user_id": "u", "jti": secrets.token_hex(8), "exp": now + 1800}
            access = jwt.encode(claims, "echo-server-signing-key-0123456789", algorithm="HS256")
            refresh = jwt.encode({**claims, "token_type": "refresh"}, "echo-server-signing-key-0123456789",
                                 algorithm="HS256")
            with st.lock:
                st.tokens += [access, refresh]
            return self.send(200, {"access": access + st.token_suffix, "refresh": refresh,
                                   "user": {"email": "alice@hishamos.test"}})
        if st.payload is not None and self.path_only != "/api/v1/auth/login/":
            return self.send(200, st.payload)
        headers = {k: v for k, v in self.headers.items()}
        text = body.decode("utf-8", "replace")
        echoed = " ".join([text, *headers.values(), *st.extra])
        forms = {"raw": echoed, "url": quote(echoed, safe=""), "b64": base64.b64encode(echoed.encode()).decode()}
        lead = "x" * st.pad
        if st.ctype == "json":
            payload = {"error": True, "message": f"{lead}{st.prefix}{echoed}",
                       "details": {"request": {"headers": headers, "body": text}, **forms}, "status_code": st.status}
            return self.send(st.status, payload)
        if st.ctype == "html":
            page = (f"<!doctype html><html><body><h1>Server Error ({st.status})</h1>{lead}<pre>{echoed}</pre>"
                    f"<p>{html.escape(echoed)}</p><p>{forms['url']}</p></body></html>")
            return self.send(st.status, page, content_type="text/html; charset=utf-8")
        if st.ctype == "notjson":
            return self.send(200, f"{lead}OK {echoed}", content_type="text/plain")
        return self.send(st.status, f"{lead}{echoed} {forms['b64']}", content_type="text/plain")


@pytest.fixture(scope="module")
def echo_server():
    with LocalServer(EchoHandler, EchoState(), max_lifetime=600) as server:
        yield server


# -- what runs in the child ----------------------------------------------------------------------
class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def probe(conn: dict[str, Any], action: Callable[[Any], Any], user_id: str | None = None) -> dict[str, Any]:
    """In the child: run ``action(hook)``, then ``test_connection()``; report everything a user sees."""
    from airflow.sdk._shared.secrets_masker import redact

    from airflow_provider_hisham.hooks.hishamos import HishamOSHook

    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(conn)
    # Airflow's task loggers (structlog) write to the sys.stdout of their creation: the child's own
    sink = io.StringIO()
    sys.stdout = sys.stderr = sink
    records = _Records()
    for name in ("", "airflow.task", "airflow_provider_hisham"):
        logging.getLogger(name).addHandler(records)
        logging.getLogger(name).setLevel(logging.DEBUG)
    report: dict[str, Any] = {"kind": "returned", "value": None, "exc_types": (), "message": "", "traceback": ""}
    WAITS.clear()
    hook = HishamOSHook(CONN_ID, user_id=user_id, retry_policy=FAST)
    try:
        report["value"] = action(hook)
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        report.update(kind="raised", exc_types=tuple(f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__),
                      message=str(exc), traceback="".join(traceback.format_exception(exc)),
                      details=json.dumps(getattr(exc, "details", None), default=str))
    report["test_connection"] = HishamOSHook(CONN_ID, retry_policy=FAST).test_connection()
    report["retry_waits"] = list(WAITS)
    lines = records.lines + sink.getvalue().splitlines()
    report["logs"] = [str(redact(line)) for line in lines]  # what the task log shows (Airflow's masker)
    report["raw_logs"] = lines
    return report


def as_outcome(report: dict[str, Any]) -> Outcome:
    types = tuple(report["exc_types"])
    return Outcome(report["kind"], report.get("value"), types[0] if types else None, types, report["message"],
                   report["traceback"])


def seen(report: dict[str, Any]) -> list[str]:
    """Every text a user or a DAG author can read after the case."""
    return [report["message"], report["traceback"], report.get("details", ""), json.dumps(report["value"], default=str),
            str(report["test_connection"]), *report["logs"]]


def call(method: str, endpoint: str, data: Any = None) -> Callable[[Any], Any]:
    return lambda hook: hook.call(method, endpoint, data)


def list_stories(hook: Any) -> Any:
    return hook.list_stories()


def xcom_of(method: str, endpoint: str, result_path: str | None = None, data: Any = None) -> Callable[[Any], Any]:
    """The value the api_call operator pushes to XCom for this call."""

    def run(hook: Any) -> Any:
        from airflow_provider_hisham.operators.api_call import HishamOSApiCallOperator

        op = HishamOSApiCallOperator(task_id="corpus", hishamos_conn_id=CONN_ID, method=method, endpoint=endpoint,
                                     data=data, result_path=result_path)
        ti = SimpleNamespace(dag_id="d", run_id="r", task_id="corpus", map_index=-1)
        return op.execute({"ti": ti})

    return run


# -- the cases ------------------------------------------------------------------------------------
PAD = {"nl": "\n", "crlf": "\r\n", "space": "  ", "tab": "\t", "cr": "\r"}
SPECIAL_PASSWORD = 'p@ss w/rd&"<tag>%20+é'
JWT_SECRET = "corpus-jwt-secret-" + "k" * 30
API_KEY = "hsk_corpus_" + "a1B2" * 10
PASSWORD = "corpus-password-Zq8"


def _padded(kind: str, field: str, pad: str) -> Case:
    return Case(f"padded-{field}-{kind}", "connection", f"{field} with {kind!r} around it (copy-paste)",
                {"field": field, "pad": pad})


CASES: list[Case] = []
# Credentials padded with whitespace work (stripped at load), and are never printed.
CASES += [_padded(kind, field, pad) for field in ("password", "api_key", "jwt_secret")
          for kind, pad in PAD.items() if not (field != "password" and kind in ("tab", "cr"))]
CASES += [Case("padded-login-newline", "connection", "login e-mail with a trailing newline", {"field": "login", "pad": "\n"}),
          Case("padded-both-ends", "connection", "password with spaces and a newline on both ends",
               {"field": "password", "pad": "\n", "lead": " \t"})]
# Control characters inside a credential: header injection, refused naming the field.
CASES += [Case(f"inner-control-{field}-{name}", "connection", f"{field} with {name} inside (header injection)",
               {"field": field, "inner": inner})
          for field, name, inner in (("password", "crlf", "\r\nX-Evil: 1"), ("api_key", "lf", "\nX-Evil: 1"),
                                     ("jwt_secret", "nul", "\x00tail"), ("api_key", "cr", "\rX"),
                                     ("password", "u2028", "\u2028x"))]
CASES += [Case("user-id-crlf-jwt", "connection", "user_id with CRLF in jwt_secret mode", {"user_id": "u\r\nX-Evil: 1"}),
          Case("user-id-crlf-password", "connection", "user_id with CRLF in password mode (log injection)",
               {"user_id": "x\r\nFAKE LOG LINE"}),
          Case("default-user-id-crlf", "connection", "default_user_id with CRLF", {"default_user_id": "\r\nX-Evil: 1"})]
# Error bodies that echo the request, per auth mode and status, in JSON, HTML and text.
CASES += [Case(f"echo-{mode}-{status}-{ctype}", "error body", f"{ctype} {status} echoing the {mode} request",
               {"mode": mode, "status": status, "ctype": ctype})
          for mode in ("password", "jwt_secret", "api_key") for status, ctype in
          ((400, "json"), (401, "json"), (500, "json"), (500, "html"), (403, "text"))]
CASES += [Case("echo-password-login-401", "error body", "the login's 401 echoes the password",
               {"mode": "password", "status": 401, "ctype": "json", "login": "echo"}),
          Case("echo-password-login-html", "error body", "the login's HTML 500 echoes the password",
               {"mode": "password", "status": 500, "ctype": "html", "login": "echo"}),
          Case("echo-special-password", "error body", "password with @, space, &, quotes, <, % echoed in every encoding",
               {"mode": "password", "status": 400, "ctype": "html", "login": "echo", "password": SPECIAL_PASSWORD}),
          Case("echo-502-retried", "error body", "502 HTML gateway page echoing, after the retries",
               {"mode": "api_key", "status": 502, "ctype": "html"}),
          Case("echo-truncated", "error body", "a secret across the 300-character excerpt cut",
               {"mode": "api_key", "status": 500, "ctype": "text", "pad": 200}),
          Case("echo-200-not-json", "error body", "a 200 that is not JSON echoing the request",
               {"mode": "api_key", "status": 200, "ctype": "notjson"}),
          Case("echo-backend-prints-jwt-secret", "error body", "the backend echoes the JWT secret itself",
               {"mode": "jwt_secret", "status": 500, "ctype": "json", "extra": [JWT_SECRET]}),
          Case("echo-tier-api-access", "error body", "the tier's 401 for an API key echoes the key",
               {"mode": "api_key", "status": 401, "ctype": "json", "tier": "ai.api_access",
                "prefix": "API access is not available for your subscription tier. "}),
          Case("echo-tier-feature", "error body", "a tier's 400 for a missing feature echoes the request",
               {"mode": "password", "status": 400, "ctype": "json", "tier": "projects.import_export",
                "prefix": "This feature (projects.import_export) is not available in the Trial tier. "}),
          Case("token-with-newline", "error body", "login answers an access token ending in a newline (InvalidHeader)",
               {"mode": "password", "token_suffix": "\n"})]
# What reaches XCom.
_KEYS = {"key": "k-" + "9" * 20, "accessToken": "at-" + "8" * 20, "api_key": "ak-" + "7" * 20,
         "apiKey": "ak2-" + "6" * 20, "refresh_token": "rt-" + "5" * 20, "secret": "s-" + "4" * 20,
         "Authorization": "Bearer " + "3" * 20, "token": "t-" + "2" * 20, "password": "pw-" + "1" * 20,
         "jwt": "j-" + "0" * 20, "X-API-Key": "xk-" + "a" * 20, "client-secret": "cs-" + "b" * 20}
CASES += [Case("xcom-login-access", "xcom", "result_path: access of a raw login", {"path": "access"}),
          Case("xcom-login-refresh", "xcom", "result_path: refresh of a raw login", {"path": "refresh"}),
          Case("xcom-login-whole", "xcom", "the whole login answer", {"path": None}),
          Case("xcom-credential-keys", "xcom", "credential keys in any case style, nested",
               {"payload": {"data": dict(_KEYS), "items": [dict(_KEYS)], "has_api_key": True}, "path": None})]
CASES += [Case(f"xcom-select-{name}", "xcom", f"result_path selects {path!r} directly",
               {"payload": {"data": dict(_KEYS), "items": [dict(_KEYS)]}, "path": path})
          for name, path in (("apiKey", "data.apiKey"), ("accessToken", "items.0.accessToken"), ("key", "data.key"),
                             ("kebab", "data.client-secret"), ("authorization", "items.0.Authorization"))]
CASES += [Case("xcom-jwt-under-innocent-key", "xcom", "a JWT under a harmless key", {"payload": "jwt", "path": "note"}),
          Case("xcom-own-secret-echoed", "xcom", "the connection's API key echoed under a harmless key",
               {"payload": "own", "path": None})]
# Credentials in the connection's host URL.
CASES += [Case("host-token-userinfo", "url", "host https://TOKEN@host", {"host": "http://{secret}@127.0.0.1"}),
          Case("host-user-password", "url", "host http://user:pass@host", {"host": "http://alice:{secret}@127.0.0.1"}),
          Case("host-encoded-userinfo", "url", "host with a URL-encoded token as user", {"host": "http://{quoted}@127.0.0.1"}),
          Case("host-bare-userinfo", "url", "host TOKEN@host without a scheme", {"host": "{secret}@127.0.0.1"}),
          Case("host-srv-lookup", "url", "srv_lookup hands the host to DNS", {"srv": True}),
          Case("host-control-char", "url", "host with a line break", {"host": "127.0.0.1\r\nX-Evil: 1"})]
# Endpoints and pagination links naming another host.
CASES += [Case(f"endpoint-{name}", "url", f"endpoint {ep!r}", {"endpoint": ep, "match": match})
          for name, ep, match in (
              ("absolute-other", f"http://{EVIL}/api/v1/auth/me/", EVIL),
              ("scheme-relative", f"//{EVIL}/api/v1/auth/me/", EVIL),
              ("upper-case-scheme", f"HTTP://{EVIL.upper()}/x/", EVIL),
              ("other-scheme", "https://127.0.0.1:{port}/api/v1/auth/me/", "https"),
              ("other-port", "http://127.0.0.1:1/api/v1/auth/me/", "127.0.0.1:1'"),
              ("lookalike-host", f"http://127.0.0.1.{EVIL}:{{port}}/x/", f"127.0.0.1.{EVIL}"),
              ("userinfo-same-host", "http://u:{secret}@127.0.0.1:{port}/api/v1/auth/me/", "user info"),
              ("userinfo-other-host", f"http://{{secret}}@{EVIL}/x/", "user info"),
              ("backslashes", f"\\\\{EVIL}\\x", "no host"),
              ("crlf", "api/v1/auth/me/\r\nX-Evil: 1", "control character"))]
CASES += [Case("next-other-host", "url", "a 'next' link to another host", {"next": f"http://{EVIL}/api/v1/projects/stories/?page=2"}),
          Case("next-userinfo", "url", "a 'next' link with credentials in it",
               {"next": "http://u:p@127.0.0.1/api/v1/projects/stories/?page=2"}),
          Case("next-scheme-relative", "url", "a scheme-relative 'next' link", {"next": f"//{EVIL}/x/?page=2"}),
          Case("next-backwards", "url", "a 'next' link back to page 1 (a loop)", {"next": "/api/v1/projects/stories/?page=1"}),
          Case("operator-endpoint-other-host", "url", "api_call operator with an endpoint on another host",
               {"operator_endpoint": f"https://{EVIL}/api/v1/auth/me/"})]

assert len(CASES) >= 40, len(CASES)


# -- running them ---------------------------------------------------------------------------------
def _hishamos_conn(server, mode: str) -> dict[str, Any]:
    return server.connection(mode)


def _echo_conn(echo_server, mode: str, **creds: str) -> dict[str, Any]:
    conn: dict[str, Any] = {"conn_type": "hishamos", "host": "127.0.0.1", "port": echo_server.port, "schema": "http",
                            "extra": {"auth_mode": mode}}
    if mode == "password":
        conn.update(login="alice@hishamos.test", password=creds.get("password", PASSWORD))
    elif mode == "jwt_secret":
        conn["extra"].update(jwt_secret=creds.get("jwt_secret", JWT_SECRET),
                             default_user_id="6f1c1f5e-8d7a-4c55-9a43-5b0e8f1d2c01")
    else:
        conn["extra"]["api_key"] = creds.get("api_key", API_KEY)
    return conn


def _set_cred(conn: dict[str, Any], field: str, value: str) -> None:
    if field in ("password", "login"):
        conn[field] = value
    else:
        conn["extra"][field] = value


@pytest.fixture(scope="module", autouse=True)
def warm_imports():
    """Import and initialise in the parent what every child needs (Airflow's configuration, the
    task runner mask_secret talks to, the operator), so each forked case starts warm."""
    import airflow.sdk.execution_time.task_runner  # noqa: F401
    from airflow.sdk import BaseHook
    from airflow.sdk.log import mask_secret

    import airflow_provider_hisham.operators.api_call  # noqa: F401
    from airflow_provider_hisham.hooks.hishamos import HishamOSHook  # noqa: F401

    os.environ["AIRFLOW_CONN_HISHAMOS_WARMUP"] = json.dumps({"conn_type": "hishamos", "host": "127.0.0.1"})
    BaseHook.get_connection("hishamos_warmup")
    mask_secret("corpus-warm-up-value")
    yield
    os.environ.pop("AIRFLOW_CONN_HISHAMOS_WARMUP", None)


@pytest.fixture
def echo(echo_server):
    echo_server._httpd.state = EchoState()
    return echo_server


@pytest.mark.parametrize("case", CASES, ids=str)
def test_secrets_corpus(case: Case, hishamos, echo):
    area, p = case.area, case.payload
    if case.id.startswith(("padded-", "inner-control-", "user-id-", "default-user-id-")):
        return _connection_case(case, hishamos)
    if area == "error body":
        return _echo_case(case, echo)
    if area == "xcom":
        return _xcom_case(case, hishamos, echo)
    return _url_case(case, hishamos, echo)


def _connection_case(case: Case, hishamos) -> None:
    p, st = case.payload, hishamos.state
    field = p.get("field", "password")
    mode = {"password": "password", "login": "password", "api_key": "api_key", "jwt_secret": "jwt_secret"}.get(field)
    if "user_id" in p or "default_user_id" in p:
        mode = "jwt_secret" if case.id != "user-id-crlf-password" else "password"
    conn = _hishamos_conn(hishamos, mode)
    real = {"password": st.user.password, "login": st.user.email, "api_key": st.api_key, "jwt_secret": st.jwt_secret}
    if "default_user_id" in p:
        conn["extra"]["default_user_id"] = p["default_user_id"]
    if "pad" in p:
        _set_cred(conn, field, p.get("lead", "") + real[field] + p["pad"])
    if "inner" in p:
        _set_cred(conn, field, real[field] + p["inner"])
    report = run_confined(probe, conn, call("GET", ME), user_id=p.get("user_id")).value
    assert report is not None
    texts = seen(report)
    assert_no_secret(st.secrets() | {st.user.password + p.get("inner", "x")}, *texts)
    if "pad" in p:
        assert report["kind"] == "returned" and report["value"]["email"] == st.user.email, report["message"]
        assert report["test_connection"][0], report["test_connection"]
        assert any(f"field '{field}' had leading or trailing whitespace" in line for line in report["logs"])
    elif "inner" in p:
        assert_refused(as_outcome(report), HishamOSConfigError, f"field '{field}' contains a control character")
        assert not report["test_connection"][0] and "control character" in report["test_connection"][1]
    elif case.id == "user-id-crlf-password":
        assert report["kind"] == "returned"
        assert all("\r" not in line and "\n" not in line for line in report["raw_logs"] if "user_id" in line)
    else:
        assert_refused(as_outcome(report), HishamOSConfigError, r"is not a UUID")
        # nothing sent for the refused user (test_connection acts as the connection's default user)
        assert len([r for r in st.requests if r.path == ME]) == (1 if "user_id" in p else 0)


def _echo_case(case: Case, echo) -> None:
    p = case.payload
    st: EchoState = echo.state
    st.login, st.status, st.ctype = p.get("login", "ok"), p.get("status", 400), p.get("ctype", "json")
    st.pad, st.extra, st.token_suffix = p.get("pad", 0), list(p.get("extra", [])), p.get("token_suffix", "")
    st.prefix = p.get("prefix", st.prefix)
    creds = {"password": p.get("password", PASSWORD), "jwt_secret": JWT_SECRET, "api_key": API_KEY}
    conn = _echo_conn(echo, p["mode"], **creds)
    report = run_confined(probe, conn, call("GET", ME)).value
    assert report is not None
    texts = seen(report)
    secret_list = [creds["password"], JWT_SECRET, API_KEY, *st.tokens, *(t + "\n" for t in st.tokens)]
    assert_no_secret(secret_list, *texts)
    for form in (html.escape(creds["password"]), json.dumps(creds["password"])[1:-1]):
        assert all(form not in t for t in texts), form
    assert st.requests, "the case never reached the server"
    if case.id == "echo-200-not-json":
        assert_refused(as_outcome(report), HishamOSAPIError, "response is not JSON")
    elif "tier" in p:
        assert_refused(as_outcome(report), HishamOSTierError, rf"feature {re.escape(p['tier'])} is not available")
        assert p["tier"] in report["test_connection"][1]
    elif case.id == "token-with-newline":
        assert report["kind"] == "raised" and "request not sent (InvalidHeader)" in report["message"]
    else:
        assert_refused(as_outcome(report), HishamOSAPIError, rf"HTTP {p['status']}")
        if st.ctype == "json":
            assert REDACTED in report["message"] and REDACTED in report.get("details", "")
        assert not report["test_connection"][0]
    if case.id == "echo-truncated":
        for secret in secret_list:
            assert all(secret[:8] not in t for t in texts), "the start of a secret survived the excerpt cut"
    if case.id == "echo-502-retried":
        assert len(st.requests) == 2 * FAST.max_attempts  # the call's attempts, then test_connection's
        # a wait before each retry, within FAST's backoff (base 0.01 s doubling, capped at 0.05 s): recorded
        waits = report["retry_waits"]
        assert len(waits) == 2 * (FAST.max_attempts - 1) and all(0 < w <= FAST.cap for w in waits), waits


def _xcom_case(case: Case, hishamos, echo) -> None:
    p = case.payload
    if "payload" not in p:  # a raw login through the stand-in
        st = hishamos.state
        conn = _hishamos_conn(hishamos, "jwt_secret")
        body = {"email": st.user.email, "password": st.user.password}
        report = run_confined(probe, conn, xcom_of("POST", "/api/v1/auth/login/", p["path"], body)).value
        assert report["kind"] == "returned", report["message"]
        value = report["value"]
        if p["path"]:
            assert value == REDACTED
        else:
            assert value["access"] == value["refresh"] == REDACTED and value["user"]["email"] == st.user.email
        assert_no_secret(st.secrets(), *seen(report))
        return
    st: EchoState = echo.state
    payload = p["payload"]
    secret_list = [v for v in _KEYS.values()] + [API_KEY]
    if payload == "jwt":
        token = jwt.encode({"sub": "x", "exp": 9999999999}, "k" * 32, algorithm="HS256")
        payload, secret_list = {"note": f"use {token} to log in"}, [token]
    elif payload == "own":
        payload = {"echo": f"you sent {API_KEY}", "nested": [{"again": quote(API_KEY, safe="")}]}
    st.payload = payload
    report = run_confined(probe, _echo_conn(echo, "api_key"), xcom_of("GET", "/api/v1/things/", p["path"])).value
    assert report["kind"] == "returned", report["message"]
    value = report["value"]
    assert_no_secret(secret_list, *seen(report))
    if case.id == "xcom-credential-keys":
        assert value["data"] == {k: REDACTED for k in _KEYS} and value["items"] == [{k: REDACTED for k in _KEYS}]
        assert value["has_api_key"] is True  # flags stay readable
    elif case.id.startswith("xcom-select-"):
        assert value == REDACTED
    elif case.id == "xcom-jwt-under-innocent-key":
        assert value == f"use {REDACTED} to log in"
    else:
        assert value == {"echo": f"you sent {REDACTED}", "nested": [{"again": REDACTED}]}


def _url_case(case: Case, hishamos, echo) -> None:
    p = case.payload
    st: EchoState = echo.state
    secret = "ghp_" + "T0ken" * 8
    conn = _echo_conn(echo, "api_key")
    action: Callable[[Any], Any] = call("GET", ME)
    exc_type: type[BaseException] = HishamOSForeignHostError
    match = ""
    if "host" in p:
        host = p["host"].format(secret=secret, quoted=quote(secret + "\n", safe=""))
        conn.update(host=host if "://" in host else host, port=echo.port)
        exc_type, match = HishamOSConfigError, "field 'host'"
    elif p.get("srv"):
        conn["extra"]["srv_lookup"] = True
        exc_type, match = HishamOSConfigError, "field 'srv_lookup' is not supported"
    elif "endpoint" in p:
        action = call("GET", p["endpoint"].format(port=echo.port, secret=secret))
        match = p["match"]
        if p["match"] == "control character":
            exc_type = HishamOSConfigError
    elif "next" in p:
        st.payload = {"count": 30, "next": p["next"], "previous": None, "results": [{"id": 1}]}
        action = list_stories
        match = "next' link" if "backwards" not in case.id else "goes back to page 1"
        if "backwards" in case.id:
            exc_type = HishamOSAPIError
    else:
        action = xcom_of("GET", p["operator_endpoint"])
        match = EVIL
    report = run_confined(probe, conn, action).value
    assert report is not None
    assert_refused(as_outcome(report), exc_type, match)
    assert_no_secret([secret, API_KEY, secret + "\n"], *seen(report))
    if exc_type is HishamOSForeignHostError and "next" not in p:
        assert "127.0.0.1" in report["message"], "the refusal names the connection's host too"
    sent = [path for _, path in st.requests if path != ME]  # test_connection's own call is allowed
    if "host" in p or p.get("srv"):
        assert st.requests == [], "nothing may be sent with a refused host"
    elif "next" in p:
        assert len([1 for _, path in st.requests if path.startswith(STORIES)]) == 1  # page 1 only
    else:
        assert sent == [], f"a refused endpoint was requested: {sent}"
