"""Exceptions raised for HishamOS API failures; their text never contains credentials."""

from __future__ import annotations

import json
import re
from typing import Any

from airflow_provider_hisham.secrets import SecretScrubber

_NO_SECRETS = SecretScrubber()


class HishamOSError(Exception):
    """Base class of this provider's HishamOS errors."""


class HishamOSConfigError(HishamOSError, ValueError):
    """The connection or the task arguments cannot work (names the field at fault)."""


class HishamOSForeignHostError(HishamOSConfigError):
    """A URL names another host than the connection's: nothing is sent there (credentials stay home)."""


class HishamOSAPIError(HishamOSError):
    """HishamOS answered with an error, or could not be reached.

    ``status`` is the HTTP status (None when no response arrived); ``message`` and ``details``
    come from HishamOS's error body ``{"error": true, "message", "details", "status_code"}``.
    An error body may echo the request (a password, a key, a token): with ``scrubber`` every form
    of the known secrets is replaced in ``message`` and ``details`` before anything is formatted.
    """

    def __init__(self, status: int | None, message: str, details: Any = None, *, method: str = "",
                 path: str = "", scrubber: SecretScrubber | None = None) -> None:
        scrubber = scrubber or _NO_SECRETS
        self.status = status
        self.message = scrubber.scrub(message)
        self.details = scrubber.scrub_value(details) if details is not None else {}
        self.method = method
        self.path = path
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"{self.method} {self.path}".strip()
        head = f"HishamOS {where} failed" if where else "HishamOS call failed"
        head += f" with HTTP {self.status}" if self.status is not None else ""
        text = f"{head}: {self.message}"
        if self.details and self.details != {"detail": self.message}:
            detail_text = json.dumps(self.details, default=str, sort_keys=True)
            text += f" (details: {detail_text[:1000]})"
        return text

    def __reduce__(self):  # keep pickling (XCom, multiprocessing) working with keyword-only args
        return (_rebuild, (type(self), self.status, self.message, self.details, self.method, self.path))


def _rebuild(cls: type, status: int | None, message: str, details: Any, method: str, path: str) -> HishamOSAPIError:
    return cls(status, message, details, method=method, path=path)


class HishamOSEndpointNotFound(HishamOSAPIError):
    """Django's HTML 404 page: the path does not exist on this HishamOS (or an id is not a UUID)."""


class HishamOSConnectionError(HishamOSAPIError):
    """No response arrived (connection refused or reset, timeout) and retries were used up."""


class HishamOSNotFound(HishamOSAPIError):
    """A named object (agent, story...) looked up by the client does not exist."""


class HishamOSTierError(HishamOSAPIError):
    """The organization's subscription tier does not include a feature (e.g. ``projects.import_export``
    on ``trial``). Not retried: only an upgrade (or a connection of another organization) helps.

    ``feature`` and ``tier`` are as HishamOS named them (``tier`` None when it did not say).
    """

    def __init__(self, status: int | None, message: str, details: Any = None, *, method: str = "", path: str = "",
                 scrubber: SecretScrubber | None = None, feature: str = "", tier: str | None = None) -> None:
        self.feature, self.tier = feature, tier
        super().__init__(status, message, details, method=method, path=path, scrubber=scrubber)

    def __reduce__(self):
        return (_rebuild_tier, (self.status, self.message, self.details, self.method, self.path, self.feature,
                                self.tier))


def _rebuild_tier(status, message, details, method, path, feature, tier) -> HishamOSTierError:
    return HishamOSTierError(status, message, details, method=method, path=path, feature=feature, tier=tier)


class HishamOSAgentError(HishamOSAPIError):
    """HishamOS failed while running an agent (its execute answered 5xx). Reported with HishamOS's
    own message and never retried: each run is charged, and the backend fails the same way again."""


class HishamOSStoryStatusError(HishamOSAPIError):
    """``bulk-update-status`` answered 200 but left stories unchanged; ``failures`` maps each story id
    to HishamOS's reason."""

    def __init__(self, status: int | None, message: str, details: Any = None, *, method: str = "", path: str = "",
                 scrubber: SecretScrubber | None = None, failures: dict[str, str] | None = None) -> None:
        self.failures = dict(failures or {})
        super().__init__(status, message, details, method=method, path=path, scrubber=scrubber)


#: Errors a task retry cannot fix: operators fail them at once instead of retrying.
NOT_RETRYABLE = (HishamOSTierError, HishamOSAgentError)

_FEATURE = re.compile(r"This feature \((?P<feature>[\w.\-]+)\) is not available in the (?P<tier>[\w\- ]+?) tier",
                      re.IGNORECASE)
_API_ACCESS = re.compile(r"API access is not available for your subscription tier", re.IGNORECASE)


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _texts(v)]
    return []


def tier_error(err: HishamOSAPIError) -> HishamOSTierError | None:
    """The tier refusal ``err`` is, if it is one: HishamOS's 400 ``This feature (x) is not available
    in the T tier`` or its 401 ``API access is not available for your subscription tier``."""
    if err.status not in (400, 401, 403):
        return None
    for text in [err.message, *_texts(err.details)]:
        found = _FEATURE.search(text)
        if found:
            feature, tier = found["feature"], found["tier"].strip().lower()
            advice = (f"upgrade the organization's HishamOS subscription to a tier with {feature}, or use a "
                      "connection of an organization that has it")
        elif _API_ACCESS.search(text):
            feature, tier = "ai.api_access", None
            advice = ("use auth mode 'password' or 'jwt_secret' for this connection, or upgrade the "
                      "organization's HishamOS subscription to a tier with API access")
        else:
            continue
        on = f"the {tier} tier" if tier else "this organization's subscription tier"
        return HishamOSTierError(err.status, f"feature {feature} is not available on {on}: {advice} "
                                 f"(HishamOS: {text})", err.details, method=err.method, path=err.path,
                                 feature=feature, tier=tier)
    return None


def body_excerpt(body: bytes, scrubber: SecretScrubber | None = None, limit: int = 300) -> str:
    """The start of a non-JSON body for an error message, secrets scrubbed before the cut."""
    return (scrubber or _NO_SECRETS).truncate(body[: limit * 8].decode("utf-8", "replace"), limit)


def error_from_response(status: int, content_type: str, body: bytes, method: str, path: str,
                        reason: str = "", scrubber: SecretScrubber | None = None) -> HishamOSAPIError:
    """Turn an error response into the matching exception (secrets in the body scrubbed)."""
    err = _error_from_response(status, content_type, body, method, path, reason, scrubber)
    return tier_error(err) or err


def _error_from_response(status: int, content_type: str, body: bytes, method: str, path: str, reason: str,
                         scrubber: SecretScrubber | None) -> HishamOSAPIError:
    where = {"method": method, "path": path, "scrubber": scrubber}
    if "json" in content_type:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            if isinstance(data.get("error"), str):  # workflow/agent execution errors: {"success": false, "error", ...}
                said = str(data.get("message") or "")
                text = data["error"] if not said or said in data["error"] else f"{said}: {data['error']}"
                return HishamOSAPIError(status, text, {k: v for k, v in data.items() if k != "traceback"}, **where)
            if "message" in data:
                return HishamOSAPIError(status, str(data["message"]), data.get("details"), **where)
            if "detail" in data:
                return HishamOSAPIError(status, str(data["detail"]), data, **where)
            return HishamOSAPIError(status, reason or "error", data, **where)
    if status == 404 and "html" in content_type:
        return HishamOSEndpointNotFound(
            404, f"no such endpoint {path} (HishamOS answered its HTML 404 page: the path does not exist "
            "or an id in it is not a UUID)", **where)
    return HishamOSAPIError(status, reason or f"HTTP {status}", {"body": body_excerpt(body, scrubber)}, **where)
