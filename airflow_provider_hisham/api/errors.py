"""Exceptions raised for HishamOS API failures; their text never contains credentials."""

from __future__ import annotations

import json
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


def body_excerpt(body: bytes, scrubber: SecretScrubber | None = None, limit: int = 300) -> str:
    """The start of a non-JSON body for an error message, secrets scrubbed before the cut."""
    return (scrubber or _NO_SECRETS).truncate(body[: limit * 8].decode("utf-8", "replace"), limit)


def error_from_response(status: int, content_type: str, body: bytes, method: str, path: str,
                        reason: str = "", scrubber: SecretScrubber | None = None) -> HishamOSAPIError:
    """Turn an error response into the matching exception (secrets in the body scrubbed)."""
    where = {"method": method, "path": path, "scrubber": scrubber}
    if "json" in content_type:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            if "message" in data:
                return HishamOSAPIError(status, str(data["message"]), data.get("details"), **where)
            if "error" in data:  # workflow execution errors: {"success": false, "error", "message", ...}
                return HishamOSAPIError(status, str(data["error"]), data, **where)
            if "detail" in data:
                return HishamOSAPIError(status, str(data["detail"]), data, **where)
            return HishamOSAPIError(status, reason or "error", data, **where)
    if status == 404 and "html" in content_type:
        return HishamOSEndpointNotFound(
            404, f"no such endpoint {path} (HishamOS answered its HTML 404 page: the path does not exist "
            "or an id in it is not a UUID)", **where)
    return HishamOSAPIError(status, reason or f"HTTP {status}", {"body": body_excerpt(body, scrubber)}, **where)
