"""When a failed HishamOS request may be sent again, and how long to wait (plain Python + tenacity).

A failure is one of:

* ``NOT_PROCESSED``: the server certainly did not act (connection never made, 429 throttled,
  503 unavailable). Safe to resend anything, POST included.
* ``AMBIGUOUS``: the request may have been processed, only the answer was lost (connection reset
  or read timeout after sending, 502/504 from a proxy). Safe to resend only idempotent requests,
  or a create whose caller can first look the object up (see ``idempotency``).

Waits grow exponentially with jitter and honour ``Retry-After``; all attempts together stay within
a total deadline.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import requests
import tenacity

NOT_PROCESSED = "not_processed"
AMBIGUOUS = "ambiguous"
RETRY_STATUSES = {429: NOT_PROCESSED, 503: NOT_PROCESSED, 502: AMBIGUOUS, 504: AMBIGUOUS}
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class RetryableResponse(Exception):
    """A response whose status is worth retrying; carries the response for the final error."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _connect_failed(exc: BaseException) -> bool:
    """True when ``requests`` never got a connection, so nothing was sent."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        name = type(node).__name__
        if name in ("NewConnectionError", "ConnectTimeoutError", "ConnectionRefusedError", "NameResolutionError"):
            return True
        reason = getattr(node, "reason", None)
        nxt = reason if isinstance(reason, BaseException) else None
        if nxt is None and node.args and isinstance(node.args[0], BaseException):
            nxt = node.args[0]
        node = nxt or node.__cause__ or node.__context__
    return False


def classify(exc: BaseException) -> str | None:
    """``NOT_PROCESSED``, ``AMBIGUOUS`` or None (not retryable)."""
    if isinstance(exc, RetryableResponse):
        return RETRY_STATUSES.get(exc.response.status_code)
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return NOT_PROCESSED if _connect_failed(exc) else AMBIGUOUS
    return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` tries within ``deadline`` seconds; backoff ``base * 2**n`` capped at ``cap``.

    ``sleep`` waits between attempts (``time.sleep``): a seam so tests record the waits instead of
    spending them on the clock."""

    max_attempts: int = 6
    deadline: float = 120.0
    base: float = 0.5
    cap: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def may_retry(self, exc: BaseException, *, idempotent: bool) -> bool:
        kind = classify(exc)
        return kind == NOT_PROCESSED or (kind == AMBIGUOUS and idempotent)

    def backoff(self, attempt: int) -> float:
        """Equal jitter: half the exponential step plus a random part of the other half."""
        step = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        return step / 2 + random.uniform(0, step / 2)

    def wait(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        backoff = self.backoff(retry_state.attempt_number)
        if isinstance(exc, RetryableResponse):
            after = parse_retry_after(exc.response.headers.get("Retry-After"))
            if after is not None:
                return after + random.uniform(0, min(1.0, after * 0.1))  # never earlier than asked
        return backoff

    def retrying(self, *, idempotent: bool, before_sleep: Any = None,
                 sleep: Callable[[float], None] | None = None) -> tenacity.Retrying:
        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts) | tenacity.stop_before_delay(self.deadline),
            wait=self.wait,
            retry=tenacity.retry_if_exception(lambda e: self.may_retry(e, idempotent=idempotent)),
            reraise=True,
            before_sleep=before_sleep,
            sleep=sleep or self.sleep,
        )
