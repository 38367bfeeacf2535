"""Create an object at most once across retries (plain Python, no Airflow).

The one rule every create of this provider follows (HishamOS records, GitHub repositories,
GitLab projects): **look up first** (an earlier try may have created it), **create** only when
nothing is found, and when the create fails in a way that may hide a success (the answer was
lost, or the service says the name is taken: perhaps by our own lost create) **look up again**
before giving up. What "found" means (a marker, a name) is the caller's ``lookup``; which
failures are ambiguous is the caller's ``ambiguous``.
"""

from __future__ import annotations

from typing import Callable, TypeVar, Union

T = TypeVar("T")

#: Which failures may hide a successful create: exception classes or a predicate.
Ambiguous = Union[type[BaseException], tuple[type[BaseException], ...], Callable[[BaseException], bool]]


def _is_ambiguous(exc: BaseException, ambiguous: Ambiguous) -> bool:
    if isinstance(ambiguous, tuple) or isinstance(ambiguous, type):
        return isinstance(exc, ambiguous)
    return bool(ambiguous(exc))


def create_once(lookup: Callable[[], T | None], create: Callable[[], T], *, ambiguous: Ambiguous = (),
                on_found: Callable[[T], None] | None = None) -> T:
    """``lookup()``, else ``create()``; after an ``ambiguous`` failure of ``create`` what ``lookup()``
    finds now, or the failure itself when it finds nothing.

    ``on_found`` is told about an object found by the first lookup (e.g. to log it). The default
    ``ambiguous=()`` suits a ``create`` that already looks up between its own attempts.
    """
    existing = lookup()
    if existing is not None:
        if on_found is not None:
            on_found(existing)
        return existing
    try:
        return create()
    except Exception as exc:
        if not _is_ambiguous(exc, ambiguous):
            raise
        found = lookup()
        if found is None:
            raise
        return found
