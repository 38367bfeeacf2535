"""The seam between the plain clients and whoever observes them: a list of callbacks.

The HishamOS hook reports each HTTP request, retry and re-authentication, ``export.git`` each
push, as an :class:`Event`; the clients never import metrics or Airflow. A listener that fails is
logged and ignored: observing must never break a call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

API_CALL = "api_call"
API_RETRY = "api_retry"
API_REAUTH = "api_reauth"
GIT_PUSH = "git_push"

Listener = Callable[["Event"], None]
_listeners: list[Listener] = []


@dataclass(frozen=True)
class Event:
    """One thing a client did. ``fields`` hold only scrubbed, non-secret values (paths without
    query strings, statuses, sizes, user ids): listeners may log them as they are."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)


def active() -> bool:
    """Whether anyone listens (skip work done only to report)."""
    return bool(_listeners)


def emit(kind: str, **fields: Any) -> None:
    """Hand ``Event(kind, fields)`` to every listener (cheap when there is none)."""
    if not _listeners:
        return
    event = Event(kind, fields)
    for listener in list(_listeners):
        try:
            listener(event)
        except Exception:  # noqa: BLE001 - an observer's bug must not fail the call it observes
            log.exception("observability listener %r failed on %s", listener, kind)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Register ``listener`` for the duration of the block (a task's execute)."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)
