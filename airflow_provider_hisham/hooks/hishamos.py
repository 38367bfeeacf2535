"""HishamOS hook: Airflow's ``BaseHook`` with our own ``requests`` session, HishamOS auth, retries and typed calls.

Not an ``HttpHook`` (the http provider's): it would mean relying on that class's private
internals, which change between its releases. The hook builds the base URL from the connection
and its session itself (``airflow_provider_hisham.api.transport``): one keep-alive session per
hook, mounted with ``KeepAliveAdapter`` (requests' ``HTTPAdapter`` with the TCP keep-alive socket
options HttpHook used). Three auth modes (``airflow_provider_hisham.api.auth``); a 401
re-authenticates once and replays, and 429/502/503/504/connection errors are retried with backoff
within a deadline where no duplicate can result (``airflow_provider_hisham.api.retry``). Errors
are ``HishamOSAPIError``.

Credentials go to the connection's own host only: a URL (endpoint, pagination link) naming
another host is refused before anything is sent, and so is a host URL carrying user info. Every
credential is stripped of copy-paste whitespace at load, masked in Airflow's logs in each form we
send, and scrubbed from error messages and ``test_connection()`` output.
"""

from __future__ import annotations

import json
import re
import time
import uuid
import weakref
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests
from airflow.sdk import BaseHook

from airflow_provider_hisham.api.auth import AUTH_MODES, ApiKeyAuth, Auth, JwtSecretAuth, PasswordAuth
from airflow_provider_hisham.api.errors import (
    HishamOSAgentError,
    HishamOSAPIError,
    HishamOSConfigError,
    HishamOSConnectionError,
    HishamOSEndpointNotFound,
    HishamOSError,
    HishamOSForeignHostError,
    HishamOSNotFound,
    HishamOSStoryStatusError,
    HishamOSTierError,
    body_excerpt,
    error_from_response,
)
from airflow_provider_hisham.api.idempotency import (
    find_marked,
    marked_directory,
    with_marker,
    with_marker_config,
    with_marker_tag,
)
from airflow_provider_hisham.api.retry import AMBIGUOUS, IDEMPOTENT_METHODS, RetryableResponse, RetryPolicy, classify
from airflow_provider_hisham.api.transport import KeepAliveAdapter, base_url, join_url
from airflow_provider_hisham.observability import audit, events
from airflow_provider_hisham.booleans import BooleanValueError, parse_bool
from airflow_provider_hisham.secrets import CredentialFormatError, SecretScrubber, clean_credential

__all__ = [
    "HishamOSAgentError",
    "HishamOSAPIError",
    "HishamOSConfigError",
    "HishamOSConnectionError",
    "HishamOSEndpointNotFound",
    "HishamOSError",
    "HishamOSForeignHostError",
    "HishamOSHook",
    "HishamOSNotFound",
    "HishamOSStoryStatusError",
    "HishamOSTierError",
]

LOGIN = "/api/v1/auth/login/"
REFRESH = "/api/v1/auth/token/refresh/"
ME = "/api/v1/auth/me/"
PROJECTS = "/api/v1/projects/"
STORIES = "/api/v1/projects/stories/"
SPRINTS = "/api/v1/projects/sprints/"
AGENTS = "/api/v1/agents/"
GENERATED_PROJECTS = "/api/v1/projects/generated-projects/"
REPOSITORY_EXPORTS = "/api/v1/projects/repository-exports/"
SCHEMA = "/api/schema/"
MAX_PAGES = 10_000
#: ``bulk-update-status`` reports each story it left alone as ``"Failed to update story <id>: <reason>"``.
_STORY_FAILURE = re.compile(r"Failed to update story (?P<id>[^:\s]+):\s*(?P<reason>.*)", re.DOTALL)

_schema_cache: dict[str, dict[str, list[str]]] = {}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _origin(parts: Any) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of a split URL, the default port filled in (host lower-cased)."""
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def _host_text(parts: Any) -> str:
    """A URL's host[:port] for messages: never its user info."""
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class HishamOSHook(BaseHook):
    """Call the HishamOS REST API as a user.

    :param hishamos_conn_id: connection of type ``hishamos``.
    :param user_id: HishamOS user (UUID) to act as; used by auth mode ``jwt_secret`` (defaults to
        the connection's ``default_user_id``). The other modes act as the connection's identity.
    :param retry_policy: attempts, total deadline and backoff for retryable failures.
    """

    conn_name_attr = "hishamos_conn_id"
    default_conn_name = "hishamos_default"
    conn_type = "hishamos"
    hook_name = "HishamOS"

    def __init__(self, hishamos_conn_id: str = default_conn_name, user_id: str | None = None, *,
                 retry_policy: RetryPolicy | None = None) -> None:
        super().__init__()
        self.hishamos_conn_id = hishamos_conn_id
        #: the connection's HishamOS URL, set by ``get_conn()``
        self.base_url = ""
        self._timeout = 30.0  # seconds per request: the connection's ``timeout`` field
        self.user_id = str(user_id) if user_id not in (None, "") else None
        self.retry_policy = retry_policy or RetryPolicy()
        self.auth_mode: str | None = None
        self._session: requests.Session | None = None
        self._auth: Auth | None = None
        self._retrying: dict[bool, Any] = {}
        self._depth = 0
        self._scrubber = SecretScrubber()
        audit.watch(self._scrubber)  # audit records never carry this hook's credentials
        self._origin: tuple[str, str, int | None] | None = None
        #: who HishamOS sees (user id, login email, or "api_key"), for audit records
        self.acting_as: str | None = None
        self._retry_reason: str | None = None
        self._extra: dict[str, Any] = {}

    # -- connection -------------------------------------------------------------------------
    @staticmethod
    def _field(extra: dict[str, Any], name: str, default: Any = None) -> Any:
        """A conn-field, stored as ``name`` (Airflow 3 forms) or ``extra__hishamos__name`` (older)."""
        for key in (name, f"extra__hishamos__{name}"):
            value = extra.get(key)
            if value not in (None, ""):
                return value
        return default

    def extra_field(self, name: str, default: Any = None) -> Any:
        """A field of the connection's extra, from the connection the session was built with (one
        lookup per hook)."""
        self.get_conn()
        return self._field(self._extra, name, default)

    def _bool(self, extra: dict[str, Any], name: str, default: bool) -> bool:
        try:
            return parse_bool(self._field(extra, name), f"connection {self.hishamos_conn_id!r}: field {name!r}",
                              default=default)
        except BooleanValueError as exc:
            raise HishamOSConfigError(str(exc)) from None

    def get_conn(self, headers: dict[str, Any] | None = None) -> requests.Session:
        """The hook's one keep-alive session (built on first use); ``headers`` are added to it.

        Connection extras are NOT copied into request headers (as HttpHook does): they hold secrets.
        """
        if self._session is None:
            conn = self.get_connection(self.hishamos_conn_id)
            extra = self._extra = conn.extra_dejson
            self._set_host(conn, extra)
            try:
                self._timeout = float(self._field(extra, "timeout", 30))
            except (TypeError, ValueError):
                raise HishamOSConfigError(f"connection {self.hishamos_conn_id!r}: field 'timeout' must be a "
                                          "number of seconds") from None
            session = requests.Session()
            session.verify = self._bool(extra, "verify_ssl", True)
            session.headers.update({"Accept": "application/json", "User-Agent": "airflow-provider-hisham"})
            self._resolve_environment_once(session)
            self._auth = self._build_auth(conn, extra)
            adapter = KeepAliveAdapter()
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._session = session
        if headers:
            self._session.headers.update(headers)
        return self._session

    def _set_host(self, conn: Any, extra: dict[str, Any]) -> None:
        """The base URL, refused when it carries credentials (``https://TOKEN@host``: requests would
        send them as Basic auth, and every error would print them) or hands the host to DNS SRV."""
        where = f"connection {self.hishamos_conn_id!r}"
        if self._bool(extra, "srv_lookup", False):
            raise HishamOSConfigError(f"{where}: field 'srv_lookup' is not supported: credentials are sent only to "
                                      "the host named in the connection")
        host = conn.host or ""
        if _CONTROL.search(host):
            raise HishamOSConfigError(f"{where}: field 'host' contains a control character")
        split = urlsplit(host if "://" in host else f"{conn.schema or 'http'}://{host}")
        if "@" in split.netloc:
            userinfo = split.netloc.rpartition("@")[0]
            for part in {userinfo, *userinfo.split(":", 1)}:
                self._secret(part)
            raise HishamOSConfigError(
                f"{where}: field 'host' has credentials in it (user info before '@' in the URL); they are not "
                "used: remove them from the URL and set the connection's Login/Password or its api_key / "
                "jwt_secret field")
        self.base_url = base_url(host, conn.schema, conn.port)
        parts = urlsplit(self.base_url)
        if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
            raise HishamOSConfigError(f"{where}: field 'host' must be an http(s) URL or a host name")
        if parts.query or parts.fragment:
            raise HishamOSConfigError(f"{where}: field 'host' must not have a query or fragment")
        self._origin = _origin(parts)

    def _clean(self, value: Any, field: str, *, secret: bool = True) -> str | None:
        """A credential from the connection without copy-paste whitespace (a warning names the
        field), masked in both forms; a control character inside it is refused."""
        if secret and value is not None:
            self._secret(str(value))
        try:
            clean, changed = clean_credential(value, field, f"connection {self.hishamos_conn_id!r}")
        except CredentialFormatError as exc:
            raise HishamOSConfigError(str(exc)) from None
        if changed:
            self.log.warning("connection %s: field %r had leading or trailing whitespace (a line break from a "
                             "copy-paste?); it was removed", self.hishamos_conn_id, field)
        return clean

    def _secret(self, value: Any, users: tuple[str, ...] = (), *, sent: bool = True) -> None:
        """Remember a credential for scrubbing and mask every form of it we send in Airflow's logs
        (``sent=False``: held, not sent yet; masked by the call that is about to send it)."""
        new = self._scrubber.add(value, users, sent=sent)
        if new:
            from airflow.sdk.log import mask_secret

            # one call for all forms: in a task each call is also a message to the supervisor
            mask_secret(sorted(new) if len(new) > 1 else next(iter(new)))

    def redact(self, value: Any) -> Any:
        """``value`` (text or a JSON-like structure) with every form of this hook's credentials
        replaced by ``***``."""
        if isinstance(value, str):
            return self._scrubber.scrub(value)
        return self._scrubber.scrub_value(value)

    def _resolve_environment_once(self, session: requests.Session) -> None:
        """Apply proxy and CA-bundle environment variables (HTTPS_PROXY, NO_PROXY,
        REQUESTS_CA_BUNDLE...) for the HishamOS URL once, instead of requests re-reading the whole
        environment on every call (a large share of a call's client time). Auth never comes from
        .netrc: the hook sets its own headers."""
        env = session.merge_environment_settings(self.base_url, {}, None, session.verify, None)
        session.proxies.update(env.get("proxies") or {})
        session.verify = env.get("verify", session.verify)
        session.cert = env.get("cert")
        session.trust_env = False

    def _build_auth(self, conn: Any, extra: dict[str, Any]) -> Auth:
        # The auth object calls back into the hook through a weak proxy: a strong reference would be
        # a cycle that keeps every finished hook (its session, its watched scrubber) alive until the
        # garbage collector runs, and a dag.test() or worker process runs many steps.
        me = weakref.proxy(self)
        mode = str(self._field(extra, "auth_mode", "password")).strip().lower()
        if mode not in AUTH_MODES:
            raise HishamOSConfigError(f"connection {self.hishamos_conn_id!r}: field 'auth_mode' is {mode!r}; "
                                      f"expected one of {', '.join(AUTH_MODES)}")
        self.auth_mode = mode
        if mode == "jwt_secret":
            secret = self._clean(self._field(extra, "jwt_secret"), "jwt_secret")
            user = self.user_id or self._field(extra, "default_user_id")
            self.acting_as = str(user).strip() if user else None
            return JwtSecretAuth(secret, str(user).strip() if user else user, on_secret=lambda s: me._secret(s))
        if self.user_id:
            self.log.warning("user_id %r is only used by auth mode jwt_secret; connection %s (mode %s) acts as "
                             "its own user", self.user_id, self.hishamos_conn_id, mode)
        if mode == "api_key":
            self.acting_as = "api_key"
            return ApiKeyAuth(self._clean(self._field(extra, "api_key"), "api_key"))
        email = self._clean(conn.login, "login", secret=False)
        self.acting_as = email
        password = self._clean(conn.password, "password")
        if email and password:
            self._secret(password, (email,))
        return PasswordAuth(email, password, on_secret=lambda s: me._secret(s),
                            on_held=lambda s: me._secret(s, sent=False),
                            login=lambda email, pw: me._call("POST", LOGIN, {"email": email, "password": pw},
                                                             idempotent=True, authenticate=False),
                            refresh=lambda token: me._call("POST", REFRESH, {"refresh": token},
                                                           idempotent=True, authenticate=False))

    def test_connection(self) -> tuple[bool, str]:
        """Calls ``/api/v1/auth/me/`` with the connection's credentials."""
        try:
            me = self.call("GET", ME)
        except Exception as exc:  # noqa: BLE001 - the UI shows the message, scrubbed of every credential
            return False, self._scrubber.scrub(f"{type(exc).__name__}: {exc}" if not isinstance(exc, HishamOSError)
                                               else str(exc))
        return True, self._scrubber.scrub(f"Connected to HishamOS at {self.base_url} as {me.get('email')} "
                                          f"({self.auth_mode} auth)")

    # -- requests ----------------------------------------------------------------------------
    def call(self, method: str, endpoint: str, data: Any = None, params: dict[str, Any] | None = None, *,
             idempotent: bool | None = None) -> Any:
        """Send one API call and return its parsed JSON (None for an empty body).

        ``idempotent`` defaults to True for GET/PUT/DELETE...; a POST (or PATCH) is only retried
        after failures where HishamOS certainly did not act, unless you pass ``idempotent=True``.
        """
        return self._call(method.upper(), self._path(endpoint), data, params, idempotent=idempotent)

    def _path(self, endpoint: str) -> str:
        """A path on this connection's host. An absolute (or scheme-relative ``//host``) URL is
        accepted only for this host; another host is refused before anything is sent."""
        endpoint = str(endpoint)
        if _CONTROL.search(endpoint):
            raise HishamOSConfigError("endpoint contains a control character (line break...): refused")
        stripped = endpoint.strip()
        parts = urlsplit(stripped)
        if parts.scheme or parts.netloc or stripped.startswith(("//", "\\\\", "/\\", "\\/")):
            self._same_host(parts, "endpoint")
            endpoint = urlunsplit(("", "", parts.path, parts.query, ""))
        path, sep, query = endpoint.partition("?")
        # Every HishamOS path ends with "/"; without it Django answers a redirect (and drops a POST body).
        path = "/" + path.strip("/") + "/" if path.strip("/") else "/"
        return path + sep + query

    def _same_host(self, parts: Any, what: str) -> None:
        """Refuse a URL whose scheme, host or port is not the connection's (or that carries user info)."""
        self.get_conn()
        base = urlsplit(self.base_url)
        if "@" in parts.netloc:
            raise HishamOSForeignHostError(f"{what} has user info (credentials) in its URL: refused (this "
                                           f"connection's host is {_host_text(base)!r})")
        if not parts.netloc or _origin(parts) != self._origin:
            other = _host_text(parts) or "(no host)"
            raise HishamOSForeignHostError(
                f"{what} names host {other!r} ({parts.scheme or 'scheme-relative'}), not this connection's host "
                f"{_host_text(base)!r} ({base.scheme}): refused, the connection's credentials are sent only to "
                f"{_host_text(base)!r}")

    def _call(self, method: str, path: str, data: Any = None, params: dict[str, Any] | None = None, *,
              idempotent: bool | None = None, authenticate: bool = True, recover: Any = None) -> Any:
        """The retry loop. ``recover()`` (for creates) looks for the object an earlier attempt may
        have created; it runs before re-sending after an ambiguous failure."""
        session = self.get_conn()
        url = join_url(self.base_url, path)
        body = None if data is None else json.dumps(data).encode()
        safe = (method in IDEMPOTENT_METHODS if idempotent is None else idempotent) or recover is not None
        ambiguous = False
        try:
            for attempt in self._retry_loop(safe):
                with attempt:
                    if attempt.retry_state.attempt_number > 1 and events.active():
                        events.emit(events.API_RETRY, method=method, path=self._scrubber.scrub(path.split("?", 1)[0]),
                                    reason=self._retry_reason, user=self.acting_as,
                                    attempt=attempt.retry_state.attempt_number)
                    if ambiguous and recover is not None:
                        found = recover()
                        if found is not None:
                            self.log.info("HishamOS %s %s: found the object an earlier attempt created", method, path)
                            return found
                    try:
                        resp = self._send(session, method, url, path, body, params, authenticate)
                    except Exception as exc:
                        ambiguous = ambiguous or classify(exc) == AMBIGUOUS
                        raise
        except RetryableResponse as exc:
            resp = exc.response
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise HishamOSConnectionError(None, f"no response from HishamOS ({type(exc).__name__}); "
                                                "retries used up or unsafe for this request",
                                          method=method, path=path) from None
        except (requests.RequestException, ValueError) as exc:
            if isinstance(exc, HishamOSError):
                raise
            # e.g. InvalidHeader, whose text quotes the header value (a token) raw
            raise HishamOSAPIError(None, f"request not sent ({type(exc).__name__}): {exc}", method=method,
                                   path=path, scrubber=self._scrubber) from None
        if resp.status_code >= 300:
            raise error_from_response(resp.status_code, resp.headers.get("Content-Type", ""), resp.content,
                                      method, path, resp.reason or "", scrubber=self._scrubber)
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            raise HishamOSAPIError(resp.status_code, "response is not JSON",
                                   {"body": body_excerpt(resp.content, self._scrubber)},
                                   method=method, path=path, scrubber=self._scrubber) from None

    def _retry_loop(self, safe: bool) -> Any:
        """Iterate tenacity attempts. The Retrying objects are built once per hook (they are
        reusable, but not free); a nested call (a login inside a 401 replay) gets its own."""
        retrying = self._retrying.get(safe) if self._depth == 0 else None
        if retrying is None:
            me = weakref.proxy(self)  # kept on the hook: a bound method here would be a cycle (see _build_auth)
            retrying = self.retry_policy.retrying(idempotent=safe, before_sleep=lambda state: me._log_retry(state))
            if self._depth == 0:
                self._retrying[safe] = retrying
        self._depth += 1
        try:
            yield from retrying
        finally:
            self._depth -= 1

    def _send(self, session: requests.Session, method: str, url: str, path: str, body: bytes | None,
              params: dict[str, Any] | None, authenticate: bool) -> requests.Response:
        """One attempt: sends, and after a 401 re-authenticates once and replays."""
        replayed = False
        while True:
            headers = dict(self._auth.headers()) if authenticate and self._auth else {}
            if body is not None:
                headers["Content-Type"] = "application/json"
            prepped = session.prepare_request(requests.Request(method, url, params=params, data=body, headers=headers))
            start = time.perf_counter()
            try:
                # never follows a redirect: it would resend the auth headers to wherever it points
                resp = session.send(prepped, timeout=self._timeout, allow_redirects=False, proxies=session.proxies,
                                    verify=session.verify, cert=session.cert)
            except requests.RequestException as exc:
                self.log.info("HishamOS %s %s -> %s after %.1f ms", method, path, type(exc).__name__,
                              (time.perf_counter() - start) * 1000)
                self._event(events.API_CALL, method, path, None, start, error=type(exc).__name__)
                raise
            self.log.info("HishamOS %s %s -> %s in %.1f ms", method, path, resp.status_code,
                          (time.perf_counter() - start) * 1000)
            self._event(events.API_CALL, method, path, resp.status_code, start)
            if resp.status_code == 401 and authenticate and not replayed and self._auth.reauthenticate():
                replayed = True
                self._event(events.API_REAUTH, method, path, 401, start, mode=self.auth_mode)
                continue
            if resp.status_code in (429, 502, 503, 504):
                raise RetryableResponse(resp)
            return resp

    def _event(self, kind: str, method: str, path: str, status: int | None, start: float, **fields: Any) -> None:
        """Report a request to observers (metrics, audit): the path without its query, scrubbed."""
        if not events.active():
            return
        events.emit(kind, method=method, path=self._scrubber.scrub(path.split("?", 1)[0]), status=status,
                    duration_ms=(time.perf_counter() - start) * 1000, user=self.acting_as,
                    base_url=self.base_url, **fields)

    def _log_retry(self, state: Any) -> None:
        exc = state.outcome.exception()
        what = f"HTTP {exc.response.status_code}" if isinstance(exc, RetryableResponse) else type(exc).__name__
        self._retry_reason = what
        self.log.warning("HishamOS call failed (%s), attempt %d; retrying in %.2f s", what, state.attempt_number,
                         state.next_action.sleep if state.next_action else 0.0)

    def _all_pages(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every result of a paginated list (25 a page; HishamOS ignores ``page_size``)."""
        params = {k: v for k, v in (params or {}).items() if v is not None}
        results: list[dict[str, Any]] = []
        page = 1
        for _ in range(MAX_PAGES):
            data = self._call("GET", path, params={**params, "page": page} if page > 1 else params)
            results.extend(data.get("results", []))
            nxt = data.get("next")
            if not nxt:
                return results
            page = self._next_page(str(nxt), path, page)
        raise HishamOSAPIError(None, f"more than {MAX_PAGES} pages", method="GET", path=path)

    def _next_page(self, link: str, path: str, page: int) -> int:
        """The page number of a ``next`` link. Only the number is used (the link is never fetched),
        and a link to another host is refused: it is not HishamOS paginating its own list."""
        parts = urlsplit(link.strip())
        if parts.netloc or parts.scheme:
            base = urlsplit(self.base_url)
            if "@" in parts.netloc or (parts.hostname or "").lower() != (base.hostname or "").lower():
                raise HishamOSForeignHostError(
                    f"the 'next' link of GET {path} names host {_host_text(parts)!r}, not this connection's host "
                    f"{_host_text(base)!r}: refused, nothing was sent there")
        value = parse_qs(parts.query).get("page", [str(page + 1)])[0]
        try:
            nxt = int(value)
        except ValueError:
            raise HishamOSAPIError(None, f"the 'next' link of GET {path} has a page number that is not a number",
                                   method="GET", path=path) from None
        if nxt <= page:
            raise HishamOSAPIError(None, f"the 'next' link of GET {path} goes back to page {nxt}", method="GET",
                                   path=path)
        return nxt

    # -- projects ------------------------------------------------------------------------------
    def get_project(self, project_id: str) -> dict[str, Any]:
        return self._call("GET", f"{PROJECTS}{project_id}/")

    def create_project(self, name: str, *, start_date: str | None = None, end_date: str | None = None,
                       description: str = "", organization: str | None = None, idempotency_key: str | None = None,
                       **fields: Any) -> dict[str, Any]:
        """``organization`` None means the caller's organization (HishamOS needs the key present).
        With ``idempotency_key`` the key goes into the project's ``tags`` and an existing project
        carrying it is returned instead of creating another."""
        body = {"name": name, "description": description, "start_date": start_date, "end_date": end_date,
                "organization": organization, **fields}
        if idempotency_key is None:
            return self._call("POST", PROJECTS, body)
        return self._create_once(PROJECTS, with_marker_tag(body, idempotency_key),
                                 lambda: find_marked(self._all_pages(PROJECTS), idempotency_key))

    def _create_once(self, path: str, body: dict[str, Any], lookup: Any) -> dict[str, Any]:
        """POST unless ``lookup()`` finds what an earlier try (or attempt) already created; the retry
        loop runs ``lookup()`` again before re-sending after an ambiguous failure."""
        from airflow_provider_hisham.create_once import create_once

        return create_once(lookup, lambda: self._call("POST", path, body, recover=lookup),
                           on_found=lambda found: self.log.info(
                               "HishamOS POST %s: %s already exists (created by an earlier try)", path,
                               found.get("number") or found.get("id")))

    def update_project(self, project_id: str, **fields: Any) -> dict[str, Any]:
        return self._call("PATCH", f"{PROJECTS}{project_id}/", fields)

    # -- stories --------------------------------------------------------------------------------
    def create_story(self, project_id: str, title: str, description: str, acceptance_criteria: str, *,
                     idempotency_key: str | None = None, **fields: Any) -> dict[str, Any]:
        """Create a story. With ``idempotency_key`` the key is stored in the story's
        ``custom_fields`` and an existing story with it is returned instead of creating another."""
        body = {"project": project_id, "title": title, "description": description,
                "acceptance_criteria": acceptance_criteria, **fields}
        if idempotency_key is None:
            return self._call("POST", STORIES, body)
        return self._create_once(STORIES, with_marker(body, idempotency_key),
                                 lambda: self.find_story(project_id, idempotency_key))

    def find_story(self, project_id: str, idempotency_key: str) -> dict[str, Any] | None:
        return find_marked(self.list_stories(project_id), idempotency_key)

    def list_stories(self, project_id: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        """All stories (every page), filtered by project and e.g. ``status``, ``sprint``, ``priority``."""
        return self._all_pages(STORIES, {"project": project_id, **filters})

    def get_story(self, story_id: str) -> dict[str, Any]:
        return self._call("GET", f"{STORIES}{story_id}/")

    def update_story_status(self, story_ids: str | list[str], status: str) -> dict[str, Any]:
        """Set the status of stories via ``bulk-update-status`` (``PATCH /stories/{id}/`` answers 500
        on current HishamOS). Setting a status is idempotent, so this is retried freely.

        HishamOS answers 200 even when it updated none: the stories it left alone come back in
        ``errors`` as strings; they raise ``HishamOSStoryStatusError`` naming each story and reason.
        """
        ids = [story_ids] if isinstance(story_ids, str) else list(story_ids)
        path = f"{STORIES}bulk-update-status/"
        result = self._call("POST", path, {"items": [{"id": i} for i in ids], "status": status}, idempotent=True)
        errors = result.get("errors") if isinstance(result, dict) else None
        if errors:
            failures: dict[str, str] = {}
            for n, error in enumerate(errors if isinstance(errors, list) else [errors]):
                found = _STORY_FAILURE.match(error) if isinstance(error, str) else None
                if found:
                    failures[found["id"]] = found["reason"].strip()
                elif isinstance(error, dict) and error.get("id"):
                    failures[str(error["id"])] = str(error.get("error") or error.get("message") or error)
                else:
                    failures[f"#{n + 1}"] = str(error)
            named = "; ".join(f"story {sid}: {reason}" for sid, reason in failures.items())
            raise HishamOSStoryStatusError(
                200, f"{len(failures)} of {len(ids)} stories not updated to {status!r} ({named})",
                {"errors": errors, "updated_count": result.get("updated_count")}, method="POST", path=path,
                scrubber=self._scrubber, failures=failures)
        return result

    # -- sprints --------------------------------------------------------------------------------
    def create_sprint(self, project_id: str, name: str, sprint_number: int, start_date: str, end_date: str, *,
                      reuse_existing: bool = False, **fields: Any) -> dict[str, Any]:
        """Dates must lie inside the project's and not overlap another sprint (HishamOS answers 400).
        ``(project, sprint_number)`` is unique in HishamOS; with ``reuse_existing`` a sprint with the
        same number and name is returned instead of failing (what a retried task wants)."""
        body = {"project": project_id, "name": name, "sprint_number": sprint_number, "start_date": start_date,
                "end_date": end_date, **fields}
        if not reuse_existing:
            return self._call("POST", SPRINTS, body)

        def lookup() -> dict[str, Any] | None:
            return next((s for s in self.list_sprints(project_id)
                         if s.get("sprint_number") == sprint_number and s.get("name") == name), None)

        return self._create_once(SPRINTS, body, lookup)

    def update_sprint(self, sprint_id: str, **fields: Any) -> dict[str, Any]:
        return self._call("PATCH", f"{SPRINTS}{sprint_id}/", fields, idempotent=True)

    def list_sprints(self, project_id: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        return self._all_pages(SPRINTS, {"project": project_id, **filters})

    # -- agents ---------------------------------------------------------------------------------
    def list_agents(self, **filters: Any) -> list[dict[str, Any]]:
        return self._all_pages(AGENTS, filters)

    def get_agent(self, agent: str) -> dict[str, Any]:
        """An agent by id (UUID), name (``"QA Engineer"``) or ``agent_id`` slug (``"qa-testing-agent"``).

        HishamOS seeds 16 agents (Business Analyst Agent, Senior Software Engineer, Code Review
        Expert, QA Engineer, DevOps Engineer, Technical Writer...); the names in HishamOS's own
        shipped workflows ("QA Agent", "Coding Agent") are not among them.
        """
        if _is_uuid(agent):
            return self._call("GET", f"{AGENTS}{agent}/")
        agents = self.list_agents()
        wanted = agent.strip().lower()
        for candidate in agents:
            if wanted in (str(candidate.get("name", "")).lower(), str(candidate.get("agent_id", "")).lower()):
                return candidate
        names = ", ".join(sorted(str(a.get("name")) for a in agents))
        raise HishamOSNotFound(404, f"no agent named {agent!r}; available: {names}", method="GET", path=AGENTS)

    def execute_agent(self, agent: str, prompt: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run an agent (by id or name). Not retried after ambiguous failures: a run costs money.

        A 5xx from the execute call is HishamOS failing to run the agent (the current backend can
        answer 500 "You cannot call this from an async context"): ``HishamOSAgentError`` with
        HishamOS's message, never retried, by this hook or (through the operators) by Airflow.
        """
        agent_id = agent if _is_uuid(agent) else self.get_agent(agent)["id"]
        path = f"{AGENTS}{agent_id}/execute/"
        try:
            return self._call("POST", path, {"prompt": prompt, "context": context or {}})
        except HishamOSAPIError as exc:
            if exc.status is None or exc.status < 500:
                raise
            raise HishamOSAgentError(exc.status, f"HishamOS failed to run agent {agent!r}: {exc.message} (a HishamOS "
                                     "backend error; not retried: each run is charged and fails the same way)",
                                     exc.details, method="POST", path=path, scrubber=self._scrubber) from None

    # -- generated projects and exports (records HishamOS keeps about our outputs) --------------
    # HishamOS keeps of a GeneratedProject only project, output_directory (as given), status and
    # error_message (plus workflow_execution); of a RepositoryExport only generated_project,
    # export_type, repository_name and config. Anything else sent is dropped.
    def create_generated_project(self, project_id: str, output_directory: str, status: str = "pending", *,
                                 idempotency_key: str | None = None, **fields: Any) -> dict[str, Any]:
        """With ``idempotency_key`` the key is stored at the end of ``output_directory``
        (``<path>#<key>``: a GeneratedProject has no free-form field) and an existing record
        carrying it is returned instead of creating another."""
        body = {"project": project_id, "output_directory": output_directory, "status": status, **fields}
        if idempotency_key is None:
            return self._call("POST", GENERATED_PROJECTS, body)
        body["output_directory"] = marked_directory(output_directory, idempotency_key)
        return self._create_once(GENERATED_PROJECTS, body,
                                 lambda: self.find_generated_project(project_id, idempotency_key))

    def list_generated_projects(self, project_id: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Every GeneratedProject the user sees, of ``project_id`` (also filtered here, whether or
        not the server applies the filter)."""
        records = self._all_pages(GENERATED_PROJECTS, {"project": project_id, **filters})
        return [r for r in records if project_id is None or str(r.get("project")) == str(project_id)]

    def find_generated_project(self, project_id: str, idempotency_key: str) -> dict[str, Any] | None:
        return find_marked(self.list_generated_projects(project_id), idempotency_key)

    def update_generated_project(self, generated_project_id: str, **fields: Any) -> dict[str, Any]:
        """PATCH a GeneratedProject. A ``status`` must follow HishamOS's transitions
        (``pending -> generating -> completed|failed``, ``completed -> archived``): see
        ``airflow_provider_hisham.records``."""
        return self._call("PATCH", f"{GENERATED_PROJECTS}{generated_project_id}/", fields, idempotent=True)

    def create_repository_export(self, generated_project_id: str, export_type: str, *, repository_name: str = "",
                                 config: dict[str, Any] | None = None, idempotency_key: str | None = None,
                                 **fields: Any) -> dict[str, Any]:
        """Create a RepositoryExport, complete at once: HishamOS answers 403 to its own creator for
        GET/PATCH by id, and stores only ``repository_name`` and ``config`` (url, path, size, status
        are read-only), so the facts go in ``config``. With ``idempotency_key`` (kept in ``config``)
        an export of this generated project carrying it is returned instead of creating another."""
        body = {"generated_project": generated_project_id, "export_type": export_type,
                "repository_name": repository_name, "config": dict(config or {}), **fields}
        if idempotency_key is None:
            return self._call("POST", REPOSITORY_EXPORTS, body)
        return self._create_once(REPOSITORY_EXPORTS, with_marker_config(body, idempotency_key),
                                 lambda: find_marked(self.list_repository_exports(generated_project_id),
                                                     idempotency_key))

    def list_repository_exports(self, generated_project_id: str) -> list[dict[str, Any]]:
        records = self._all_pages(REPOSITORY_EXPORTS, {"generated_project": generated_project_id})
        return [r for r in records if str(r.get("generated_project")) == str(generated_project_id)]

    # -- discovery ------------------------------------------------------------------------------
    def discover_endpoints(self, refresh: bool = False) -> dict[str, list[str]]:
        """``{path: [METHOD, ...]}`` from ``/api/schema/`` (cached per HishamOS URL and process)."""
        self.get_conn()
        key = self.base_url
        if refresh or key not in _schema_cache:
            schema = self._call("GET", SCHEMA, params={"format": "json"})
            _schema_cache[key] = {
                path: sorted(m.upper() for m in item if m in ("get", "post", "put", "patch", "delete"))
                for path, item in (schema.get("paths") or {}).items()
            }
        return _schema_cache[key]

    def has_endpoint(self, method: str, path: str) -> bool:
        return method.upper() in self.discover_endpoints().get(path, [])

    # -- agent executions (for agent steps) -----------------------------------------------------
    def iter_agent_executions(self, agent_id: str, **filters: Any) -> Any:
        """AgentExecutions of one agent (UUID), newest first, fetched a page at a time as consumed
        (a caller that stops early reads no further pages). HishamOS shows users their own only."""
        params = {"agent": agent_id, "ordering": "-created_at", **{k: v for k, v in filters.items() if v is not None}}
        path = f"{AGENTS}executions/"
        page = 1
        for _ in range(MAX_PAGES):
            data = self._call("GET", path, params={**params, "page": page} if page > 1 else params)
            yield from data.get("results", [])
            if not data.get("next"):
                return
            page += 1
        raise HishamOSAPIError(None, f"more than {MAX_PAGES} pages", method="GET", path=path)
