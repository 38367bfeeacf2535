"""A local HishamOS stand-in: the methods and paths the provider sends (and the few a named contract
test needs, ``hishamos_spec.CONTRACT``), validated against the real schema.

Requests are checked with openapi-core against ``hishamos_openapi.yaml`` (the shared
``openapi.yaml`` trimmed to the paths used, see ``hishamos_spec.py``); where HishamOS's observed
behaviour differs from its schema (``../shared/hishamos/README.md``) the observed behaviour wins
(``test_hishamos_contract.py`` holds one test per README point):

* errors use HishamOS's body ``{"error": true, "message", "details", "status_code"}``;
  unknown paths and non-UUID ids get Django's HTML 404 page;
* stories need ``description`` and ``acceptance_criteria`` ("Description is required.");
  ``?project=`` filters stories; ``PATCH /stories/{id}/`` answers the known 500;
  ``bulk-update-status`` checks the status against the project's workflow (``project_states``,
  else ``DEFAULT_STORY_STATES``) and reports failures as strings in ``errors`` with HTTP 200;
* 25 items a page, ``page_size`` ignored, a page past the end is 404 ``Invalid page.``;
* HS256 JWTs (30 min access, 30 day refresh, rotated but not blacklisted);
* subscription tiers per organization: ``state.set_tier("trial" | "professional", org=None)``
  (seeded organizations start on ``HishamOSServer(tier=...)``, default "professional"; a real
  signup is "trial"). Trial: one project per organization (the seeded demo project is it), no
  ``projects.import_export`` (RepositoryExport create -> 400 "Validation error"), no
  ``ai.api_access`` (any working ``X-API-Key`` -> 401). ``state.count_agent_execution(user)``
  charges an agent run against ``state.execution_limits`` (403 ``{"error": ...}`` past it);
* API keys: working keys exist only where ``state.provision_api_key(user)`` made one, as an
  administrator would (``state.api_key`` is alice's); bad key -> 401;
* GeneratedProject ``total_files``/``total_size``/``completed_at`` are read-only; a status PATCH
  follows ``GP_TRANSITIONS`` (else 400 ``Invalid transition from X to Y``);
* RepositoryExport keeps only ``generated_project``, ``export_type``, ``repository_name``,
  ``config``: it stays ``pending`` with empty url/path; by id it answers 403 to non-superusers;
* rate limits as on the real backend: the middleware's HTML 429 (``Retry-After: 60``) after 100
  requests a minute from one address (X-Forwarded-For or the peer), DRF's JSON 429 past anon
  100/h or user 1000/h. Switch them off with ``state.rate_limits = False`` (or
  ``HishamOSServer(rate_limits=False)``, ``--no-rate-limits``), or move the clock on with
  ``state.advance_clock(61)``. ``reset()`` puts the server's defaults back.

Message texts the README does not record (the trial project limit, the usage limit, the
bulk-update reasons after "Failed to update story <id>: ", the 429 page) are the stand-in's.
The pytest fixtures (``fixtures.py``) choose the tier: ``hishamos`` (``hishamos_tier``,
professional unless parametrized, e.g. with ``@both_tiers``), ``hishamos_trial``, and
``hishamos_unthrottled``.

Faults are injected with ``HishamOSServer.inject``: a status (429 with ``Retry-After``, 5xx), a
delay, a connection reset before processing, or a reset *after* the request was processed and
committed (the client never sees the response). Everything is inspectable on ``server.state``.

Standalone: ``python -m tests.servers.hishamos --port 8765`` prints the seeded credentials.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import math
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, urlencode

import jwt
import yaml

from tests.servers import hishamos_agents
from tests.servers.base import JsonHandler, LocalServer
from tests.servers.hishamos_spec import vendored_spec

PAGE_SIZE = 25
ACCESS_LIFETIME = 30 * 60
REFRESH_LIFETIME = 30 * 24 * 3600
_NS = uuid.UUID("6f1c1f5e-8d7a-4c55-9a43-5b0e8f1d2c00")

# Subscription tiers (README "More behaviour of the real backend"). A new signup is on "trial".
TIERS = ("trial", "professional")
IMPORT_EXPORT, API_ACCESS = "projects.import_export", "ai.api_access"
TIER_FEATURES = {"trial": frozenset(), "professional": frozenset({IMPORT_EXPORT, API_ACCESS})}
TIER_PROJECT_LIMITS: dict[str, int | None] = {"trial": 1, "professional": None}
# The real limits are not recorded; these are the stand-in's (tests set ``state.execution_limits``).
TIER_EXECUTION_LIMITS: dict[str, int | None] = {"trial": 100, "professional": 10_000}
API_ACCESS_DENIED = ("API access is not available for your subscription tier. "
                     "Please upgrade your subscription to use API keys.")
# Rate limits: the middleware's per-address window and DRF's throttles (requests, seconds).
MIDDLEWARE_LIMIT = (100, 60)
ANON_THROTTLE, USER_THROTTLE = (100, 3600), (1000, 3600)
TOO_MANY_REQUESTS_PAGE = (
    "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Too Many Requests</title>\n</head>\n<body>\n"
    "  <h1>Too Many Requests</h1><p>Rate limit exceeded. Try again in 60 seconds.</p>\n</body>\n</html>\n"
)
# Story workflow states of a project with the default configuration (the stand-in's assumption).
DEFAULT_STORY_STATES = ("backlog", "todo", "in_progress", "review", "done")
# GeneratedProject status transitions a PATCH may make.
GP_TRANSITIONS = {"pending": {"generating"}, "generating": {"completed", "failed"}, "completed": {"archived"}}
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

DJANGO_404 = (
    '<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n'
    "  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n"
)
_PROXY_PAGES = {
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}

AGENT_NAMES = tuple(name for name, _ in hishamos_agents.AGENTS)  # the real backend's 16


def _sid(name: str) -> str:
    """Stable ids for seeded objects, so they survive ``reset()``."""
    return str(uuid.uuid5(_NS, name))


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ApiError(Exception):
    """An error answered with HishamOS's JSON error body."""

    def __init__(self, status: int, message: str, details: dict[str, Any] | list[str] | None = None,
                 headers: dict[str, str] | None = None, *, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details if details is not None else {"detail": message}
        self.headers = headers or {}
        self.body = body  # a body outside the DRF envelope (views that answer ``{"error": ...}``)

    @classmethod
    def validation(cls, errors: dict[str, list[str]]) -> "ApiError":
        first = next(iter(errors.values()))[0]
        return cls(400, first, errors)

    @classmethod
    def validation_list(cls, *messages: str) -> "ApiError":
        """A ``ValidationError`` raised with a list (not per field): HishamOS says "Validation error"."""
        return cls(400, "Validation error", list(messages))

    @classmethod
    def plain(cls, status: int, error: str) -> "ApiError":
        """A view's own ``{"error": ...}`` answer."""
        return cls(status, error, body={"error": error})

    def response_body(self) -> dict[str, Any]:
        return self.body if self.body is not None else error_body(self.status, self.message, self.details)


class HtmlNotFound(Exception):
    """Django's own 404 page (URL did not resolve)."""


def error_body(status: int, message: str, details: dict[str, Any] | list[str]) -> dict[str, Any]:
    return {"error": True, "message": message, "details": details, "status_code": status}


@dataclass
class User:
    id: str
    email: str
    password: str
    username: str
    organization: str | None
    is_superuser: bool = False
    is_active: bool = True
    role: str = "developer"
    date_joined: float = field(default_factory=time.time)
    last_login: float | None = None

    def profile(self) -> dict[str, Any]:
        return {
            "id": self.id, "email": self.email, "username": self.username, "first_name": self.username.title(),
            "last_name": "", "role": self.role, "avatar": "", "bio": "", "preferred_language": "en",
            "timezone": "UTC", "notification_preferences": {}, "two_factor_enabled": False,
            "is_superuser": self.is_superuser, "date_joined": _iso(self.date_joined),
            "last_login": _iso(self.last_login) if self.last_login else None,
        }


@dataclass
class Fault:
    """One injected fault; ``times`` requests matching ``method``/``path`` (a regex) get it."""

    kind: str  # "status" | "delay" | "reset" | "drop_after_commit"
    method: str | None = None
    path: str | None = None
    times: int = 1
    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    skip: int = 0
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault hits the request (the first ``skip`` matching requests pass)."""
        if not (self.times > 0 and (self.method is None or self.method == method)
                and (self.path is None or re.fullmatch(self.path, path) is not None)):
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        return True


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    auth: str  # "bearer", "api_key" or ""
    user_id: str | None = None
    status: int | None = None
    fault: str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class HishamOSState:
    """Everything the stand-in knows; tests read and tweak it directly (hold ``lock`` to mutate)."""

    def __init__(self, jwt_secret: str | None = None, *, password: str | None = None,
                 api_key: str | None = None, validate: bool = True, tier: str = "professional",
                 rate_limits: bool = True) -> None:
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; one of {TIERS}")
        self.lock = threading.RLock()
        self.default_tier, self.default_rate_limits = tier, rate_limits
        self.jwt_secret = jwt_secret or secrets.token_urlsafe(48)
        self.password = password or "alice-" + secrets.token_urlsafe(12)
        self.api_key = api_key or "hsk_" + secrets.token_urlsafe(32)
        self.validate = validate
        self.validate_responses = False
        self.reset()

    # -- seeding --------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.access_lifetime = ACCESS_LIFETIME
            self.refresh_lifetime = REFRESH_LIFETIME
            self.clock_offset = 0.0
            self.org_id, self.other_org_id = _sid("org:main"), _sid("org:other")
            self.users: dict[str, User] = {}
            for name, org, su in (("alice", self.org_id, False), ("bob", self.org_id, False),
                                  ("carol", self.other_org_id, False), ("nobody", None, False),
                                  ("admin", self.org_id, True)):
                user = User(_sid(f"user:{name}"), f"{name}@hishamos.test",
                            self.password if name == "alice" else f"{name}-{self.password}",
                            name, org, is_superuser=su, role="admin" if su else "developer")
                self.users[user.id] = user
            # Seeded organizations are on ``default_tier`` ("professional", what most tests need);
            # ``set_tier`` puts one on "trial", what a new HishamOS signup gets.
            self.org_tiers: dict[str, str] = {self.org_id: self.default_tier, self.other_org_id: self.default_tier}
            self.execution_limits: dict[str, int | None] = dict(TIER_EXECUTION_LIMITS)
            self.executions_used: dict[str | None, int] = {}
            self.api_keys: dict[str, str] = {}  # working key -> user id (provisioned by an administrator)
            self.provision_api_key("alice", key=self.api_key)
            # Rate limits follow the real backend; ``rate_limits = False`` switches both off.
            self.rate_limits = self.default_rate_limits
            self.middleware_hits: dict[str, list[float]] = {}
            self.throttle_hits: dict[str, list[float]] = {}
            self.refresh_issued: set[str] = set()
            self.issued_tokens: list[str] = []
            self.refresh_blacklist: set[str] = set()
            self.projects: dict[str, dict[str, Any]] = {}
            self.stories: dict[str, dict[str, Any]] = {}
            self.sprints: dict[str, dict[str, Any]] = {}
            self.generated_projects: dict[str, dict[str, Any]] = {}
            self.repository_exports: dict[str, dict[str, Any]] = {}
            self.executions: list[dict[str, Any]] = []
            self.story_numbers: dict[str, int] = {}
            self.project_states: dict[str, tuple[str, ...]] = {}  # project id -> workflow states
            self.faults: list[Fault] = []
            self.requests: list[RecordedRequest] = []
            self.response_errors: list[str] = []
            self._seed_agents()
            self.demo_project_id = _sid("project:demo")
            self.projects[self.demo_project_id] = self._project_record(
                self.demo_project_id, self.user,
                {"name": "Demo Project", "description": "Seeded by the local HishamOS stand-in.",
                 "start_date": "2026-01-01", "end_date": "2026-12-31", "organization": None})

    def _seed_agents(self) -> None:
        """The 16 agents, their executions (``executions``), and the agent fault switches."""
        self.agents: dict[str, dict[str, Any]] = {}
        self.agent_faults: list[Fault] = []
        #: Agent executions allowed for the tier (None: no limit); past it, 403 like the real backend.
        self.agent_execution_limit: int | None = None
        now = _iso(time.time())
        for name, slug in hishamos_agents.AGENTS:
            rec = {
                "id": _sid(f"agent:{name}"), "agent_id": slug, "name": name,
                "description": f"HishamOS {name}.", "capabilities": [slug], "system_prompt": f"You are the {name}.",
                "preferred_platform": "openai", "fallback_platforms": [], "model_name": "gpt-4o",
                "temperature": 0.7, "max_tokens": 4000, "status": "active", "version": "1.0.0",
                "total_invocations": 0, "total_tokens_used": 0, "total_cost": "0.0000",
                "average_response_time": 0.0, "success_rate": 100.0, "created_at": now, "updated_at": now,
                "last_invoked_at": None, "created_by": None, "updated_by": None,
            }
            self.agents[rec["id"]] = rec

    def agent_by_slug(self, slug: str) -> dict[str, Any]:
        return next(a for a in self.agents.values() if a["agent_id"] == slug)

    def inject_agent_fault(self, kind: str = "async_context", *, agent: str | None = None, times: int = 1) -> Fault:
        """Make the next ``times`` execute calls (of the agent with slug ``agent``, or any) fail.

        ``async_context``: 500 ``{"error": "You cannot call this from an async context..."}``, nothing
        recorded (the real backend's bug). For "recorded, then the connection drops" use
        ``HishamOSServer.inject("drop_after_commit", method="POST", path=hishamos_agents.EXECUTE_PATH)``.
        """
        if kind != "async_context":
            raise ValueError(f"unknown agent fault {kind!r}")
        path = f"/api/v1/agents/{self.agent_by_slug(agent)['id']}/execute/" if agent else None
        fault = Fault(kind, "POST", path, times, 500)
        with self.lock:
            self.agent_faults.append(fault)
        return fault

    def executions_of(self, slug: str) -> list[dict[str, Any]]:
        """Recorded executions of one agent (oldest first)."""
        agent_id = self.agent_by_slug(slug)["id"]
        with self.lock:
            return [e for e in self.executions if e["agent"] == agent_id]

    @property
    def user(self) -> User:
        """The default user (alice): the one whose email/password the fixtures use."""
        return self.users[_sid("user:alice")]

    def user_by_name(self, name: str) -> User:
        return self.users[_sid(f"user:{name}")]

    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the server's clock on (tokens expire, rate-limit windows pass)."""
        with self.lock:
            self.clock_offset += seconds

    # -- subscription tiers ----------------------------------------------------------------
    def set_tier(self, tier: str, org: str | None = None) -> None:
        """Put an organization (default: alice's) on ``trial`` or ``professional``."""
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; one of {TIERS}")
        with self.lock:
            self.org_tiers[org or self.org_id] = tier

    def tier_of(self, user: User) -> str | None:
        return self.org_tiers.get(user.organization) if user.organization else None

    def has_feature(self, user: User, feature: str) -> bool:
        """Whether the user's subscription includes ``feature`` (superusers bypass tiers)."""
        tier = self.tier_of(user)
        return user.is_superuser or tier is None or feature in TIER_FEATURES[tier]

    def require_feature(self, user: User, feature: str) -> None:
        if not self.has_feature(user, feature):
            tier = str(self.tier_of(user)).title()
            raise ApiError.validation_list(f"This feature ({feature}) is not available in the {tier} tier. "
                                           "Please upgrade your subscription.")

    def count_agent_execution(self, user: User) -> None:
        """Charge one agent execution to the user's organization: 403 ``{"error": ...}`` past the
        tier's limit (``execution_limits``). The agent routes call this before running an agent."""
        with self.lock:
            tier = self.tier_of(user)
            limit = None if tier is None or user.is_superuser else self.execution_limits.get(tier)
            used = self.executions_used.get(user.organization, 0)
            if limit is not None and used >= limit:
                raise ApiError.plain(403, f"Usage limit exceeded for agent executions: {used} of {limit} "
                                          f"in the {tier.title()} tier. Please upgrade your subscription.")
            self.executions_used[user.organization] = used + 1

    # -- API keys --------------------------------------------------------------------------
    def provision_api_key(self, user: str = "alice", *, key: str | None = None) -> str:
        """A working API key for ``user``, as an administrator would provision it (keys created
        through HishamOS's ``POST /api/v1/auth/api-keys/`` come back empty and never authenticate;
        the provider never calls that route, so the stand-in does not serve it)."""
        with self.lock:
            key = key or "hsk_" + secrets.token_urlsafe(32)
            self.api_keys[key] = self.user_by_name(user).id
            return key

    # -- rate limits -----------------------------------------------------------------------
    def _hit(self, table: dict[str, list[float]], who: str, limit: tuple[int, int]) -> float | None:
        """Record a request for ``who`` in a sliding window; the seconds to wait if over the limit."""
        count, window = limit
        now = self.now()
        hits = [t for t in table.get(who, []) if t > now - window]
        if len(hits) >= count:
            table[who] = hits
            return window - (now - hits[0])
        hits.append(now)
        table[who] = hits
        return None

    def middleware_wait(self, address: str) -> float | None:
        """The rate-limit middleware: 100 requests a minute from one address."""
        with self.lock:
            return self._hit(self.middleware_hits, address, MIDDLEWARE_LIMIT) if self.rate_limits else None

    def throttle_wait(self, user: User | None, address: str) -> float | None:
        """DRF's throttles: anon 100/h by address, user 1000/h by user id."""
        if not self.rate_limits:
            return None
        with self.lock:
            if user is None:
                return self._hit(self.throttle_hits, "anon:" + address, ANON_THROTTLE)
            return self._hit(self.throttle_hits, "user:" + user.id, USER_THROTTLE)

    # -- tokens ---------------------------------------------------------------------------
    def mint(self, user_id: str, token_type: str = "access", lifetime: float | None = None,
             secret: str | None = None, **overrides: Any) -> str:
        now = self.now()
        if lifetime is None:
            lifetime = self.access_lifetime if token_type == "access" else self.refresh_lifetime
        claims = {"token_type": token_type, "exp": int(now + lifetime), "iat": int(now),
                  "jti": uuid.uuid4().hex, "user_id": user_id}
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        if token_type == "refresh":
            self.refresh_issued.add(claims["jti"])
        token = jwt.encode(claims, secret or self.jwt_secret, algorithm="HS256")
        self.issued_tokens.append(token)
        return token

    def token_pair(self, user: User) -> dict[str, str]:
        return {"refresh": self.mint(user.id, "refresh"), "access": self.mint(user.id)}

    def decode(self, token: str, token_type: str) -> dict[str, Any]:
        try:
            claims = jwt.decode(token, self.jwt_secret, algorithms=["HS256"],
                                options={"verify_exp": False, "verify_iat": False,  # checked against the server clock
                                         "require": ["exp", "jti", "token_type"]})
        except jwt.PyJWTError:
            raise _token_error(token_type) from None
        if claims.get("token_type") != token_type or claims["exp"] <= self.now():
            raise _token_error(token_type)
        return claims

    def secrets(self) -> set[str]:
        """Every credential of this server: password, JWT secret, API key, issued and presented tokens."""
        with self.lock:
            seen = {r.headers.get("Authorization", "").partition(" ")[2] for r in self.requests}
            return {u.password for u in self.users.values()} | {self.jwt_secret, self.api_key, *self.api_keys} | \
                set(self.issued_tokens) | {t for t in seen if t}

    def revoke_refresh_tokens(self) -> None:
        """Blacklist every refresh token issued so far (forces clients to log in again)."""
        with self.lock:
            self.refresh_blacklist |= self.refresh_issued

    # -- records --------------------------------------------------------------------------
    def _project_record(self, pid: str, user: User, body: dict[str, Any]) -> dict[str, Any]:
        now = _iso(self.now())
        return {
            "id": pid, "slug": re.sub(r"[^a-z0-9]+", "-", body["name"].lower()).strip("-"),
            "description": body.get("description") or "", "name": body["name"],
            "status": body.get("status") or "planning", "start_date": body.get("start_date"),
            "end_date": body.get("end_date"), "tags": body.get("tags") or [], "created_at": now,
            "updated_at": now, "organization": body.get("organization") or user.organization,
            "owner": user.id, "created_by": user.id, "updated_by": user.id,
            "members": list(dict.fromkeys([user.id, *body.get("members", [])])),
        }

    def can_see_project(self, user: User, project: dict[str, Any]) -> bool:
        return user.is_superuser or project["owner"] == user.id or user.id in project["members"]

    def story_states(self, project_id: str) -> tuple[str, ...]:
        """The workflow states a project's stories may take (``project_states`` overrides the default)."""
        return self.project_states.get(project_id, DEFAULT_STORY_STATES)

    def stories_of(self, project_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.stories.values() if s["project"] == project_id]


def _token_error(token_type: str) -> ApiError:
    detail = "Given token not valid for any token type" if token_type == "access" else "Token is invalid or expired"
    details: dict[str, Any] = {"detail": detail, "code": "token_not_valid"}
    if token_type == "access":
        details["messages"] = [{"token_class": "AccessToken", "token_type": "access",
                                "message": "Token is invalid or expired"}]
    return ApiError(401, detail, details, {"WWW-Authenticate": 'Bearer realm="api"'})


# -- request validation against the vendored OpenAPI subset ---------------------------------
class _SpecValidator:
    """openapi-core validators for parameters and bodies, built once per process."""

    _instance: "_SpecValidator | None" = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        from jsonschema_path import SchemaPath
        from openapi_core.validation.request.validators import (
            V30RequestBodyValidator, V30RequestParametersValidator)
        from openapi_core.validation.response.validators import V30ResponseDataValidator

        spec = SchemaPath.from_dict(vendored_spec())
        # The HishamOS schema itself is not valid OpenAPI (bulk-update-status has a broken
        # requestBody), so skip the spec check and validate requests only.
        self.body = V30RequestBodyValidator(spec, spec_validator_cls=None)
        self.params = V30RequestParametersValidator(spec, spec_validator_cls=None)
        self.response = V30ResponseDataValidator(spec, spec_validator_cls=None)

    @classmethod
    def get(cls) -> "_SpecValidator":
        with cls._lock:
            if cls._instance is None:
                cls._instance = _SpecValidator()
            return cls._instance


@functools.lru_cache(maxsize=4096)
def _validate(method: str, path: str, query: str, body: bytes | None, validate_body: bool) -> str:
    """Validate a request against the schema: "" if valid, "invalid page", or the DRF-style field
    errors as JSON. Cached on the exact request, so repeated identical requests cost nothing
    (keeps the stand-in fast enough for the benchmark)."""
    validator = _SpecValidator.get()
    req = _Req(method, path, parse_qs(query), {}, body or b"")
    errors: dict[str, list[str]] = {}
    for exc in validator.params.iter_errors(req):
        name = getattr(exc, "name", None) or "non_field_errors"
        if name == "page":
            return "invalid page"
        errors.setdefault(name, []).append("Enter a valid value.")
    if body is not None and validate_body:
        for exc in validator.body.iter_errors(req):
            schema_errors = _schema_errors(exc)
            if not schema_errors:
                errors.setdefault("non_field_errors", []).append(str(exc))
            for err in schema_errors:
                name, msg = _drf_message(err)
                errors.setdefault(name, []).append(msg)
    return json.dumps(errors) if errors else ""


class _Req:
    """The openapi-core request protocol over what the handler parsed."""

    def __init__(self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self.host_url = "http://127.0.0.1"
        self.path = path
        self.method = method.lower()
        self.body = body
        self.content_type = "application/json"
        self.parameters = RequestParameters(
            query=ImmutableMultiDict([(k, v) for k, vs in query.items() for v in vs]),
            header=Headers(list(headers.items())))


class _Resp:
    def __init__(self, status: int, data: bytes) -> None:
        self.status_code = status
        self.data = data
        self.content_type = "application/json"
        self.headers: dict[str, str] = {}


_TYPE_MESSAGES = {
    "integer": "A valid integer is required.", "number": "A valid number is required.",
    "string": "Not a valid string.", "boolean": "Must be a valid boolean.",
    "array": "Expected a list of items.", "object": "Expected a dictionary of items.",
}
_FORMAT_MESSAGES = {
    "uuid": "Must be a valid UUID.",
    "date": "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
    "date-time": "Datetime has wrong format. Use one of these formats instead: "
                 "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
    "uri": "Enter a valid URL.", "email": "Enter a valid email address.",
}


def _drf_message(err: Any) -> tuple[str, str]:
    """(field, DRF-style message) for one jsonschema ValidationError."""
    path = list(err.absolute_path)
    name = str(path[0]) if path else "non_field_errors"
    if err.validator == "required":
        match = re.match(r"'(.+)' is a required property", err.message)
        return (match.group(1) if match else name), "This field is required."
    if err.validator == "maxLength":
        return name, f"Ensure this field has no more than {err.validator_value} characters."
    if err.validator == "minLength":
        if err.validator_value == 1:
            return name, "This field may not be blank."
        return name, f"Ensure this field has at least {err.validator_value} characters."
    if err.validator == "format":
        return name, _FORMAT_MESSAGES.get(err.validator_value, err.message)
    if err.validator in ("type", "nullable"):
        if err.instance is None:
            return name, "This field may not be null."
        return name, _TYPE_MESSAGES.get(str(err.validator_value), err.message)
    if err.validator == "enum":
        return name, f'"{err.instance}" is not a valid choice.'
    return name, err.message


def _schema_errors(exc: BaseException) -> list[Any]:
    while exc is not None:
        if getattr(exc, "schema_errors", None):
            return list(exc.schema_errors)
        exc = exc.__cause__
    return []


# -- the handler ------------------------------------------------------------------------------
_ROUTES: list[tuple[set[str], re.Pattern[str], str, dict[str, Any]]] = []


def _route(methods: str, pattern: str, **opts: Any) -> Callable[[Callable], Callable]:
    def deco(fn: Callable) -> Callable:
        _ROUTES.append((set(methods.split()), re.compile(pattern.replace("{id}", f"(?P<id>{_UUID})")), fn.__name__, opts))
        return fn
    return deco


class HishamOSHandler(JsonHandler):
    """Routes requests to ``_api_*`` methods that return ``(status, body)`` or raise ``ApiError``."""

    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls

    @property
    def st(self) -> HishamOSState:
        return self.server.state

    # -- entry point ----------------------------------------------------------------------
    def handle_request(self) -> None:
        body = self.read_body()
        st = self.st
        auth = "bearer" if self.headers.get("Authorization") else ("api_key" if self.headers.get("X-API-Key") else "")
        rec = RecordedRequest(self.command, self.path_only, self.path.partition("?")[2], auth,
                              headers=dict(self.headers.items()))
        try:
            rec.body = json.loads(body) if body else None
        except ValueError:
            rec.body = body
        with st.lock:
            st.requests.append(rec)
            fault = next((f for f in st.faults if f.matches(self.command, self.path_only)), None)
            if fault:
                fault.times -= 1
                fault.hits += 1
                rec.fault = fault.kind
        if fault and fault.kind == "delay":
            time.sleep(fault.delay)
        if fault and fault.kind == "reset":
            return self._reset_connection()
        if fault and fault.kind == "status":
            rec.status = fault.status
            return self._send_status_fault(fault)
        status, payload, ctype, headers = self._dispatch(body, rec)
        rec.status = status
        if fault and fault.kind == "drop_after_commit":
            return self._reset_connection()
        self.send(status, payload, content_type=ctype, headers=headers)

    def _dispatch(self, body: bytes, rec: RecordedRequest) -> tuple[int, Any, str, dict[str, str]]:
        if self.st.middleware_wait(self.client_ip) is not None:
            return 429, TOO_MANY_REQUESTS_PAGE, "text/html; charset=utf-8", {"Retry-After": "60"}
        try:
            for methods, pattern, name, opts in _ROUTES:
                match = pattern.fullmatch(self.path_only)
                if not match:
                    continue
                # DRF's order: authenticate, throttle, then find the method's handler.
                user = None if opts.get("public") else self._authenticate()
                rec.user_id = user.id if user else None
                self._throttle(user)
                if self.command not in methods:
                    msg = f'Method "{self.command}" not allowed.'
                    raise ApiError(405, msg)
                data = self._parse_and_validate(body, opts)
                with self.st.lock:
                    status, payload = getattr(self, name)(user, data, **match.groupdict())
                if self.st.validate_responses and opts.get("validate_response", True) and status < 300:
                    self._check_response(status, payload)
                if isinstance(payload, tuple):  # (text, content type)
                    return status, payload[0], payload[1], {}
                return status, payload, "application/json", {}
            raise HtmlNotFound()
        except HtmlNotFound:
            return 404, DJANGO_404, "text/html; charset=utf-8", {}
        except ApiError as exc:
            return exc.status, exc.response_body(), "application/json", exc.headers

    def _authenticate(self) -> User:
        st = self.st
        header = self.headers.get("Authorization", "")
        key = self.headers.get("X-API-Key")
        if header:
            kind, _, token = header.partition(" ")
            if kind != "Bearer" or not token:
                raise _token_error("access")
            claims = st.decode(token.strip(), "access")
            user = st.users.get(str(claims.get("user_id")))
            if user is None or not user.is_active:
                raise ApiError(401, "User not found", {"detail": "User not found", "code": "user_not_found"},
                               {"WWW-Authenticate": 'Bearer realm="api"'})
            return user
        if key:
            user_id = st.api_keys.get(key)
            if user_id is None:
                raise ApiError(401, "Invalid API key.")
            user = st.users[user_id]
            if user.organization and not st.has_feature(user, API_ACCESS):
                raise ApiError(401, API_ACCESS_DENIED)
            return user
        raise ApiError(401, "Authentication credentials were not provided.", None,
                       {"WWW-Authenticate": 'Bearer realm="api"'})

    @property
    def client_ip(self) -> str:
        """The address rate limits count by: the first X-Forwarded-For entry, else the peer."""
        forwarded = (self.headers.get("X-Forwarded-For") or "").split(",")[0].strip()
        return forwarded or self.client_address[0]

    def _throttle(self, user: User | None) -> None:
        wait = self.st.throttle_wait(user, self.client_ip)
        if wait is not None:
            seconds = math.ceil(wait)
            msg = f"Request was throttled. Expected available in {seconds} second{'' if seconds == 1 else 's'}."
            raise ApiError(429, msg, {"detail": msg}, {"Retry-After": str(int(wait))})

    def _parse_and_validate(self, body: bytes, opts: dict[str, Any]) -> Any:
        if self.command == "GET":
            data: Any = None
        else:
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if body and ctype != "application/json":
                raise ApiError(415, f'Unsupported media type "{ctype}" in request.')
            try:
                data = json.loads(body) if body else {}
            except ValueError as exc:
                raise ApiError(400, f"JSON parse error - {exc}") from None
            if not isinstance(data, dict):
                raise ApiError(400, 'Invalid data. Expected a dictionary, but got %s.' % type(data).__name__,
                               {"non_field_errors": ['Invalid data. Expected a dictionary, but got %s.'
                                                     % type(data).__name__]})
        if not self.st.validate or not opts.get("in_schema", True):
            return data
        outcome = _validate(self.command, self.path_only, self.path.partition("?")[2],
                            json.dumps(data).encode() if data is not None else None, opts.get("validate_body", True))
        if outcome == "invalid page":
            raise ApiError(404, "Invalid page.")
        if outcome:
            raise ApiError.validation(json.loads(outcome))
        return data

    def _check_response(self, status: int, payload: Any) -> None:
        req = _Req(self.command, self.path_only, self.query, self.headers, b"")
        resp = _Resp(status, json.dumps(payload).encode())
        for exc in _SpecValidator.get().response.iter_errors(req, resp):
            detail = "; ".join(e.message for e in _schema_errors(exc)) or repr(exc)
            self.st.response_errors.append(f"{self.command} {self.path_only} {status}: {detail}")

    # -- faults ---------------------------------------------------------------------------
    def _reset_connection(self) -> None:
        self.reset_connection()

    def _send_status_fault(self, fault: Fault) -> None:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        if fault.status == 429:
            wait = fault.retry_after or "1"
            msg = f"Request was throttled. Expected available in {wait} second{'s' if wait != '1' else ''}."
            return self.send(429, error_body(429, msg, {"detail": msg}), headers=headers)
        if fault.status in _PROXY_PAGES:
            title = f"{fault.status} {_PROXY_PAGES[fault.status]}"
            page = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n" \
                   "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            return self.send(fault.status, page, content_type="text/html", headers=headers)
        msg = "A server error occurred."
        self.send(fault.status, error_body(fault.status, msg, {"detail": msg}), headers=headers)

    # -- helpers --------------------------------------------------------------------------
    def _page(self, items: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        raw = (self.query.get("page") or ["1"])[0]
        try:
            page = int(raw)
        except ValueError:
            raise ApiError(404, "Invalid page.") from None
        pages = max(1, -(-len(items) // PAGE_SIZE))
        if page < 1 or page > pages:
            raise ApiError(404, "Invalid page.")
        base = f"http://{self.headers.get('Host', '127.0.0.1')}{self.path_only}"

        def link(n: int) -> str:  # like DRF: keep the other query parameters, page 1 has none
            params = {k: v[0] for k, v in self.query.items() if k != "page"}
            if n > 1:
                params["page"] = str(n)
            return base + ("?" + urlencode(params) if params else "")

        return 200, {"count": len(items), "next": link(page + 1) if page < pages else None,
                     "previous": link(page - 1) if page > 1 else None,
                     "results": items[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]}

    def _filtered(self, items: list[dict[str, Any]], *fields: str) -> list[dict[str, Any]]:
        for name in fields:
            if name in self.query:
                value = self.query[name][0]
                items = [i for i in items if str(i.get(name) if i.get(name) is not None else "") == value]
        ordering = (self.query.get("ordering") or [""])[0]
        if ordering:
            key = ordering.lstrip("-")
            items = sorted(items, key=lambda i: (i.get(key) is None, str(i.get(key))), reverse=ordering.startswith("-"))
        return items

    def _project(self, user: User, pid: str) -> dict[str, Any]:
        project = self.st.projects.get(pid)
        if project is None or not self.st.can_see_project(user, project):
            raise ApiError(404, "No Project matches the given query.")
        return project

    def _object(self, table: dict[str, dict[str, Any]], oid: str, model: str, user: User,
                project_of: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
        obj = table.get(oid)
        if obj is None:
            raise ApiError(404, f"No {model} matches the given query.")
        project = self.st.projects.get(project_of(obj))
        if project is None or not self.st.can_see_project(user, project):
            raise ApiError(404, f"No {model} matches the given query.")
        return obj

    def _visible(self, user: User, table: dict[str, dict[str, Any]],
                 project_of: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
        """Objects of projects the user may see (the real viewsets filter querysets this way)."""
        projects = self.st.projects
        return [o for o in table.values()
                if project_of(o) in projects and self.st.can_see_project(user, projects[project_of(o)])]

    def _related_project(self, user: User, pid: Any, field_name: str = "project") -> dict[str, Any]:
        project = self.st.projects.get(str(pid))
        if project is None:
            raise ApiError.validation({field_name: [f'Invalid pk "{pid}" - object does not exist.']})
        if not self.st.can_see_project(user, project):
            raise ApiError(403, "You do not have permission to perform this action.")
        return project

    # -- auth -----------------------------------------------------------------------------
    @_route("POST", r"/api/v1/auth/login/", public=True, validate_response=False)
    def _api_login(self, _user: None, data: dict[str, Any]) -> tuple[int, Any]:
        st = self.st
        user = next((u for u in st.users.values() if u.email.lower() == str(data["email"]).lower()), None)
        if user is None or not secrets.compare_digest(user.password, str(data["password"])) or not user.is_active:
            msg = "No active account found with the given credentials"
            raise ApiError(401, msg, {"detail": msg, "code": "no_active_account"})
        user.last_login = st.now()
        return 200, {**st.token_pair(user), "user": user.profile()}

    @_route("POST", r"/api/v1/auth/token/refresh/", public=True)
    def _api_refresh(self, _user: None, data: dict[str, Any]) -> tuple[int, Any]:
        st = self.st
        claims = st.decode(str(data["refresh"]), "refresh")
        if claims["jti"] in st.refresh_blacklist:
            raise ApiError(401, "Token is blacklisted", {"detail": "Token is blacklisted", "code": "token_not_valid"})
        user = st.users.get(str(claims.get("user_id")))
        if user is None:
            raise ApiError(401, "User not found", {"detail": "User not found", "code": "user_not_found"})
        # ROTATE_REFRESH_TOKENS without BLACKLIST_AFTER_ROTATION: the old refresh token keeps working.
        return 200, st.token_pair(user)

    @_route("GET", r"/api/v1/auth/me/")
    def _api_me(self, user: User, data: Any) -> tuple[int, Any]:
        return 200, user.profile()

    # Not in the schema it serves (drf-spectacular's own view); the hook reads it (discover_endpoints).
    @_route("GET", r"/api/schema/", public=True, in_schema=False, validate_response=False)
    def _api_schema(self, _user: None, data: Any) -> tuple[int, Any]:
        fmt = (self.query.get("format") or [""])[0]
        if fmt == "json" or "json" in (self.headers.get("Accept") or ""):
            return 200, (json.dumps(vendored_spec()), "application/vnd.oai.openapi+json")
        return 200, (yaml.safe_dump(vendored_spec(), sort_keys=False), "application/vnd.oai.openapi")

    # -- projects -------------------------------------------------------------------------
    @_route("GET POST", r"/api/v1/projects/")
    def _api_projects(self, user: User, data: Any) -> tuple[int, Any]:
        st = self.st
        if self.command == "GET":
            visible = [p for p in st.projects.values() if st.can_see_project(user, p)]
            return self._page(self._filtered(visible, "status"))
        errors: dict[str, list[str]] = {}
        if len(str(data.get("name", "")).strip()) < 3:
            errors["name"] = ["Ensure this field has at least 3 characters."]
        self._check_dates(data, errors)
        if errors:
            raise ApiError.validation(errors)
        if not user.organization and not data.get("organization"):
            raise ApiError.validation({"organization": ["You must belong to an organization to create projects."]})
        org = data.get("organization") or user.organization
        tier = st.org_tiers.get(org)
        limit = TIER_PROJECT_LIMITS.get(tier) if tier and not user.is_superuser else None
        if limit is not None and sum(p["organization"] == org for p in st.projects.values()) >= limit:
            raise ApiError.validation_list(f"Project limit reached: the {tier.title()} tier allows {limit} "
                                           f"project{'s' if limit != 1 else ''}. Please upgrade your subscription.")
        pid = str(uuid.uuid4())
        st.projects[pid] = st._project_record(pid, user, data)
        return 201, st.projects[pid]

    @staticmethod
    def _check_dates(data: dict[str, Any], errors: dict[str, list[str]]) -> None:
        if data.get("start_date") and data.get("end_date") and data["end_date"] < data["start_date"]:
            errors["end_date"] = ["End date must be after start date."]

    @_route("GET PATCH", r"/api/v1/projects/{id}/")
    def _api_project(self, user: User, data: Any, id: str) -> tuple[int, Any]:
        project = self._project(user, id)
        if self.command == "GET":
            return 200, project
        errors: dict[str, list[str]] = {}
        merged = {**project, **data}
        if "name" in data and len(str(data["name"]).strip()) < 3:
            errors["name"] = ["Ensure this field has at least 3 characters."]
        self._check_dates(merged, errors)
        if errors:
            raise ApiError.validation(errors)
        for key in ("name", "description", "status", "start_date", "end_date", "tags", "members", "slug"):
            if key in data:
                project[key] = data[key]
        project["updated_at"], project["updated_by"] = _iso(self.st.now()), user.id
        return 200, project

    # -- stories --------------------------------------------------------------------------
    _STORY_FIELDS = ("title", "description", "acceptance_criteria", "status", "priority", "story_points",
                     "story_type", "component", "due_date", "labels", "tags", "custom_fields", "epic", "sprint",
                     "assigned_to")

    @_route("GET POST", r"/api/v1/projects/stories/")
    def _api_stories(self, user: User, data: Any) -> tuple[int, Any]:
        st = self.st
        if self.command == "GET":
            visible = self._visible(user, st.stories, lambda s: s["project"])
            return self._page(self._filtered(visible, "project", "status", "priority", "sprint", "story_type",
                                              "component"))
        errors = {name: [msg] for name, msg in (("description", "Description is required."),
                                                ("acceptance_criteria", "Acceptance criteria is required."))
                  if not str(data.get(name) or "").strip()}
        if errors:
            raise ApiError.validation(errors)
        project = self._related_project(user, data["project"])
        n = st.story_numbers.get(project["id"], 0) + 1
        st.story_numbers[project["id"]] = n
        now = _iso(st.now())
        story = {
            "id": str(uuid.uuid4()), "epic_name": None, "number": data.get("number") or f"STORY-{n}",
            "title": data.get("title") or "", "description": data["description"],
            "acceptance_criteria": data["acceptance_criteria"], "status": data.get("status") or "backlog",
            "priority": data.get("priority") or "medium", "story_points": data.get("story_points"),
            "story_type": data.get("story_type") or "feature", "component": data.get("component"),
            "due_date": data.get("due_date"), "labels": data.get("labels") or [], "generated_by_ai": False,
            "tags": data.get("tags") or [], "custom_fields": data.get("custom_fields") or {},
            "created_at": now, "updated_at": now, "project": project["id"], "epic": data.get("epic"),
            "sprint": data.get("sprint"), "assigned_to": data.get("assigned_to"), "generation_workflow": None,
            "created_by": user.id, "updated_by": user.id,
        }
        st.stories[story["id"]] = story
        return 201, story

    # PATCH is served for the contract test of the README's known bug (``hishamos_spec.CONTRACT``),
    # the reason the hook changes a story's status through bulk-update-status.
    @_route("GET PATCH", r"/api/v1/projects/stories/{id}/")
    def _api_story(self, user: User, data: Any, id: str) -> tuple[int, Any]:
        story = self._object(self.st.stories, id, "Story", user, lambda s: s["project"])
        if self.command == "GET":
            return 200, story
        # The real backend's update path crashes for every valid body (README: known bug).
        msg = "name 'array_fields' is not defined"
        raise ApiError(500, msg, {"detail": msg})

    @_route("POST", r"/api/v1/projects/stories/bulk-update-status/", validate_body=False)
    def _api_bulk_status(self, user: User, data: Any) -> tuple[int, Any]:
        # The schema's requestBody for this path is malformed (no media type), so the body rules
        # below are the observed ones: {"items": [{"id": ...}], "status": "..."}.
        items, status = data.get("items"), data.get("status")
        errors: dict[str, list[str]] = {}
        if not isinstance(items, list) or not all(isinstance(i, dict) and "id" in i for i in items):
            errors["items"] = ['Expected a list of objects with an "id".']
        if not isinstance(status, str) or not status.strip():
            errors["status"] = ["This field is required."]
        if errors:
            raise ApiError.validation(errors)
        updated, failures = 0, []
        for item in items:
            story = self.st.stories.get(str(item["id"]))
            project = self.st.projects.get(story["project"]) if story else None
            if story is None or project is None or not self.st.can_see_project(user, project):
                failures.append(f"Failed to update story {item['id']}: Story matching query does not exist.")
                continue
            states = self.st.story_states(project["id"])
            if status not in states:  # checked against the project's workflow, per story
                failures.append(f"Failed to update story {item['id']}: Invalid status '{status}' for this "
                                f"project's workflow. Valid states: {', '.join(states)}")
                continue
            story["status"], story["updated_at"], story["updated_by"] = status, _iso(self.st.now()), user.id
            updated += 1
        return 200, {"updated_count": updated, "errors": failures}

    # -- sprints --------------------------------------------------------------------------
    def _check_sprint(self, sprint: dict[str, Any], project: dict[str, Any], exclude: str | None = None) -> None:
        if sprint["end_date"] < sprint["start_date"]:
            raise ApiError.validation({"end_date": ["End date must be after start date."]})
        if project.get("start_date") and sprint["start_date"] < project["start_date"] or \
                project.get("end_date") and sprint["end_date"] > project["end_date"]:
            msg = (f"Sprint dates must be within the project's dates "
                   f"({project.get('start_date')} to {project.get('end_date')}).")
            raise ApiError.validation({"non_field_errors": [msg]})
        for other in self.st.sprints.values():
            if other["id"] == exclude or other["project"] != project["id"]:
                continue
            if other["sprint_number"] == sprint["sprint_number"]:
                raise ApiError.validation({"non_field_errors": ["The fields project, sprint_number must make a unique set."]})
            if sprint["start_date"] <= other["end_date"] and other["start_date"] <= sprint["end_date"]:
                msg = (f"Sprint dates overlap with {other['name']} "
                       f"({other['start_date']} to {other['end_date']}).")
                raise ApiError.validation({"non_field_errors": [msg]})

    @_route("GET POST", r"/api/v1/projects/sprints/")
    def _api_sprints(self, user: User, data: Any) -> tuple[int, Any]:
        st = self.st
        if self.command == "GET":
            visible = self._visible(user, st.sprints, lambda s: s["project"])
            return self._page(self._filtered(visible, "project", "status"))
        project = self._related_project(user, data["project"])
        now = _iso(st.now())
        sprint = {
            "id": str(uuid.uuid4()), "project_name": project["name"], "name": data["name"],
            "sprint_number": data["sprint_number"], "goal": data.get("goal") or "",
            "status": data.get("status") or "planned", "start_date": data["start_date"], "end_date": data["end_date"],
            "total_story_points": data.get("total_story_points") or 0,
            "completed_story_points": data.get("completed_story_points") or 0, "created_at": now,
            "updated_at": now, "project": project["id"], "created_by": user.id, "updated_by": user.id,
        }
        self._check_sprint(sprint, project)
        st.sprints[sprint["id"]] = sprint
        return 201, sprint

    @_route("PATCH", r"/api/v1/projects/sprints/{id}/")
    def _api_sprint(self, user: User, data: Any, id: str) -> tuple[int, Any]:
        sprint = self._object(self.st.sprints, id, "Sprint", user, lambda s: s["project"])
        keys = ("name", "sprint_number", "goal", "status", "start_date", "end_date", "total_story_points",
                "completed_story_points")
        merged = {**sprint, **{k: data[k] for k in keys if k in data}}
        self._check_sprint(merged, self.st.projects[sprint["project"]], exclude=id)
        sprint.update(merged, updated_at=_iso(self.st.now()), updated_by=user.id)
        return 200, sprint

    # -- agents ---------------------------------------------------------------------------
    @_route("GET", r"/api/v1/agents/")
    def _api_agents(self, user: User, data: Any) -> tuple[int, Any]:
        items = sorted(self.st.agents.values(), key=lambda a: a["name"])
        search = (self.query.get("search") or [""])[0].lower()
        if search:
            items = [a for a in items if search in a["name"].lower() or search in a["description"].lower()]
        return self._page(self._filtered(items, "status", "name"))

    @_route("GET", r"/api/v1/agents/{id}/")
    def _api_agent(self, user: User, data: Any, id: str) -> tuple[int, Any]:
        if id not in self.st.agents:
            raise ApiError(404, "No Agent matches the given query.")
        return 200, self.st.agents[id]

    @_route("GET", r"/api/v1/agents/executions/")
    def _api_agent_executions(self, user: User, data: Any) -> tuple[int, Any]:
        """Newest first; users see their own executions, superusers all."""
        items = [e for e in reversed(self.st.executions) if user.is_superuser or e["user"] == user.id]
        return self._page(self._filtered(items, "agent", "status", "user"))

    @_route("POST", r"/api/v1/agents/{id}/execute/", validate_body=False, validate_response=False)
    def _api_execute(self, user: User, data: Any, id: str) -> tuple[int, Any]:
        # The schema declares AgentRequest as this body and Agent as the answer; the real endpoint
        # takes {"prompt", "context"} and answers the run's result (README).
        st = self.st
        agent = st.agents.get(id)
        if agent is None:
            raise ApiError(404, "No Agent matches the given query.")
        prompt = data.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return 400, {"error": "Prompt is required"}
        fault = next((f for f in st.agent_faults if f.matches("POST", self.path_only)), None)
        if fault is not None:
            fault.times -= 1
            fault.hits += 1
            return 500, {"error": hishamos_agents.ASYNC_CONTEXT_ERROR}
        mine = sum(1 for e in st.executions if e["user"] == user.id)
        if st.agent_execution_limit is not None and mine >= st.agent_execution_limit:
            return 403, {"error": "Agent execution limit reached for your subscription tier. "
                                  "Please upgrade your subscription."}
        context = data.get("context") or {}
        output = hishamos_agents.answer(agent["agent_id"], agent["name"], prompt, context)
        tokens, cost, elapsed_ms = hishamos_agents.usage(prompt, output)
        now = _iso(st.now())
        st.executions.append({
            "id": str(uuid.uuid4()), "agent_name": agent["name"], "user_email": user.email,
            "input_data": {"prompt": prompt}, "context": context, "output_data": {"output": output},
            "error_message": "", "status": "completed", "platform_used": agent["preferred_platform"],
            "model_used": agent["model_name"], "tokens_used": tokens, "cost": f"{cost:.6f}",
            "execution_time": elapsed_ms / 1000, "created_at": now, "updated_at": now, "started_at": now,
            "completed_at": now, "agent": agent["id"], "user": user.id, "created_by": user.id, "updated_by": user.id,
        })
        agent["total_invocations"] += 1
        agent["total_tokens_used"] += tokens
        agent["total_cost"] = f"{float(agent['total_cost']) + cost:.4f}"
        agent["last_invoked_at"] = now
        return 200, {"success": True, "output": output, "response": output, "execution_time": elapsed_ms,
                     "cost": cost, "token_usage": {"tokens_used": tokens}, "agent_used": agent["agent_id"]}

    # -- generated projects, files, exports ----------------------------------------------
    # total_files, total_size, completed_at (and the counts) are read-only: sent values are dropped.
    _GP_FIELDS = ("output_directory", "status", "error_message", "workflow_execution")

    @_route("GET POST", r"/api/v1/projects/generated-projects/")
    def _api_generated_projects(self, user: User, data: Any) -> tuple[int, Any]:
        st = self.st
        if self.command == "GET":
            visible = self._visible(user, st.generated_projects, lambda g: g["project"])
            return self._page(self._filtered(visible, "project", "status"))
        project = self._related_project(user, data["project"])
        now = _iso(st.now())
        rec = {
            "id": str(uuid.uuid4()), "project": project["id"], "project_name": project["name"],
            "workflow_execution": None, "output_directory": "", "status": "pending", "error_message": "",
            "total_files": 0, "total_size": 0, "files_count": "0", "exports_count": "0", "created_by": user.id,
            "created_by_name": user.username, "created_at": now, "updated_at": now, "completed_at": None,
        }
        rec.update({k: data[k] for k in self._GP_FIELDS if k in data})
        st.generated_projects[rec["id"]] = rec
        return 201, rec

    @_route("PATCH", r"/api/v1/projects/generated-projects/{id}/")
    def _api_generated_project(self, user: User, data: Any, id: str) -> tuple[int, Any]:
        rec = self._object(self.st.generated_projects, id, "GeneratedProject", user, lambda g: g["project"])
        if "status" in data and data["status"] not in GP_TRANSITIONS.get(rec["status"], ()):
            raise ApiError.validation({"status": [f"Invalid transition from {rec['status']} to {data['status']}"]})
        rec.update({k: data[k] for k in self._GP_FIELDS if k in data}, updated_at=_iso(self.st.now()))
        return 200, rec

    def _gp_project(self, gp_id: str) -> str:
        gp = self.st.generated_projects.get(gp_id)
        return gp["project"] if gp else ""

    # Writable fields; repository_url, archive_path, archive_size, status, error_message and
    # completed_at are read-only: a created export stays pending with an empty url and path.
    _EXPORT_FIELDS = ("export_type", "repository_name", "config")
    _EXPORT_TYPES = {"zip": "ZIP Archive", "tar": "TAR Archive", "tar.gz": "TAR.GZ Archive",
                     "github": "GitHub Repository", "gitlab": "GitLab Repository"}

    @_route("GET POST", r"/api/v1/projects/repository-exports/")
    def _api_exports(self, user: User, data: Any) -> tuple[int, Any]:
        st = self.st
        if self.command == "GET":
            visible = self._visible(user, st.repository_exports, lambda e: self._gp_project(e["generated_project"]))
            return self._page(self._filtered(visible, "generated_project", "export_type", "status"))
        gp = st.generated_projects.get(str(data["generated_project"]))
        if gp is None:
            raise ApiError.validation({"generated_project": [f'Invalid pk "{data["generated_project"]}" - '
                                                             "object does not exist."]})
        self._related_project(user, gp["project"], "generated_project")
        if data["export_type"] not in self._EXPORT_TYPES:
            raise ApiError.validation({"export_type": [f'"{data["export_type"]}" is not a valid choice.']})
        st.require_feature(user, IMPORT_EXPORT)
        now = _iso(st.now())
        rec = {
            "id": str(uuid.uuid4()), "generated_project": gp["id"], "export_type": data["export_type"],
            "repository_name": "", "repository_url": "", "archive_path": "", "archive_size": None,
            "status": "pending", "error_message": "", "config": {}, "created_by": user.id, "created_at": now,
            "updated_at": now, "completed_at": None,
        }
        rec.update({k: data[k] for k in self._EXPORT_FIELDS if k in data})
        self._export_display(rec)
        gp["exports_count"] = str(int(gp["exports_count"]) + 1)
        st.repository_exports[rec["id"]] = rec
        return 201, rec

    def _export_display(self, rec: dict[str, Any]) -> None:
        size = rec["archive_size"]
        download = f"/api/v1/projects/repository-exports/{rec['id']}/download/" if rec["archive_path"] else ""
        rec.update(export_type_display=self._EXPORT_TYPES[rec["export_type"]],
                   archive_size_display=f"{size} B" if size is not None else "",
                   status_display=str(rec["status"]).title(), download_url=download)

    # The provider never reads an export by id: HishamOS answers GET and PATCH with 403 to its
    # creator (README), which is why the hook lists them. Served for the contract test that proves
    # that 403 (``hishamos_spec.CONTRACT``). validate_body=False: the object permission (403) is
    # checked before the body, as in DRF.
    @_route("GET PATCH", r"/api/v1/projects/repository-exports/{id}/", validate_body=False)
    def _api_export(self, user: User, data: Any, id: str) -> tuple[int, Any]:
        rec = self.st.repository_exports.get(id)
        if rec is None:
            raise ApiError(404, "No RepositoryExport matches the given query.")
        if not user.is_superuser:  # the real backend's object-permission bug: its creator too
            raise ApiError(403, "You do not have permission to perform this action.")
        if self.command == "GET":
            return 200, rec
        if "export_type" in data and data["export_type"] not in self._EXPORT_TYPES:
            raise ApiError.validation({"export_type": [f'"{data["export_type"]}" is not a valid choice.']})
        rec.update({k: data[k] for k in self._EXPORT_FIELDS if k in data}, updated_at=_iso(self.st.now()))
        self._export_display(rec)
        return 200, rec


class HishamOSServer:
    """The stand-in on 127.0.0.1; ``state`` holds users, projects, stories... and the faults."""

    def __init__(self, *, jwt_secret: str | None = None, password: str | None = None, api_key: str | None = None,
                 validate: bool = True, port: int = 0, max_lifetime: float = 1800.0, tier: str = "professional",
                 rate_limits: bool = True) -> None:
        self.state = HishamOSState(jwt_secret, password=password, api_key=api_key, validate=validate, tier=tier,
                                   rate_limits=rate_limits)
        self._server = LocalServer(HishamOSHandler, self.state, port=port, max_lifetime=max_lifetime)

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> "HishamOSServer":
        if self.state.validate:
            _SpecValidator.get()  # build validators before the first request
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> "HishamOSServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to the seeded state (same port, JWT secret, password and API key)."""
        self.state.reset()

    def inject(self, kind: str, *, method: str | None = None, path: str | None = None, times: int = 1,
               status: int = 503, retry_after: float | str | None = None, delay: float = 0.0,
               skip: int = 0) -> Fault:
        """Make ``times`` matching requests (after the first ``skip``) fail; see ``Fault`` for the kinds."""
        if kind not in ("status", "delay", "reset", "drop_after_commit"):
            raise ValueError(f"unknown fault kind {kind!r}")
        fault = Fault(kind, method, path, times, status, None if retry_after is None else str(retry_after), delay,
                      skip)
        with self.state.lock:
            self.state.faults.append(fault)
        return fault

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        with self.state.lock:
            return [r for r in self.state.requests if r.method == method and re.fullmatch(path, r.path)]

    def connection(self, auth_mode: str = "password", *, user: str = "alice", **extra: Any) -> dict[str, Any]:
        """An Airflow connection (``AIRFLOW_CONN_*`` JSON form) for this server."""
        st = self.state
        conn: dict[str, Any] = {"conn_type": "hishamos", "host": "127.0.0.1", "port": self.port, "schema": "http"}
        fields: dict[str, Any] = {"auth_mode": auth_mode}
        if auth_mode == "password":
            u = st.user_by_name(user)
            conn.update(login=u.email, password=u.password)
        elif auth_mode == "jwt_secret":
            fields.update(jwt_secret=st.jwt_secret, default_user_id=st.user_by_name(user).id)
        elif auth_mode == "api_key":
            fields["api_key"] = st.api_key
        fields.update(extra)
        conn["extra"] = fields
        return conn

    def connection_json(self, auth_mode: str = "password", **kwargs: Any) -> str:
        return json.dumps(self.connection(auth_mode, **kwargs))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the local HishamOS stand-in on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--jwt-secret", default=None, help="JWT secret (random by default)")
    parser.add_argument("--password", default=None, help="password of alice@hishamos.test (random by default)")
    parser.add_argument("--api-key", default=None, help="alice's API key (random by default)")
    parser.add_argument("--lifetime", type=float, default=4 * 3600, help="stop after this many seconds")
    parser.add_argument("--tier", choices=TIERS, default="professional", help="subscription tier of the organizations")
    parser.add_argument("--no-rate-limits", action="store_true",
                        help="switch off the real backend's rate limits (100 requests/min per address, DRF throttles)")
    args = parser.parse_args(argv)
    server = HishamOSServer(jwt_secret=args.jwt_secret, password=args.password, api_key=args.api_key,
                            port=args.port, max_lifetime=args.lifetime, tier=args.tier,
                            rate_limits=not args.no_rate_limits).start()
    st = server.state
    info = {
        "url": server.url, "email": st.user.email, "password": st.user.password, "user_id": st.user.id,
        "jwt_secret": st.jwt_secret, "api_key": st.api_key, "demo_project_id": st.demo_project_id,
        "tier": st.default_tier, "rate_limits": st.default_rate_limits,
        "AIRFLOW_CONN_HISHAMOS_DEFAULT": server.connection_json("password"),
    }
    print(json.dumps(info, indent=2), flush=True)
    try:
        while server._server._thread.is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
