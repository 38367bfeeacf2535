"""Repository settings applied on creation, so that a retry neither fails on "already set" nor undoes
what a person changed by hand since (plain Python, no Airflow).

Two phases:

- **with the create request**: visibility, description, delete-branch-on-merge (GitLab also
  topics, ``remove_source_branch_after_merge``, ``only_allow_merge_if_pipeline_succeeds``). They
  exist from the repository's first second and are never sent again.
- **after the first push** (the branch must exist): topics (GitHub), default branch, branch
  protection. The try that created the repository applies them as given; any later try (a
  retry, a re-run finding its own repository) applies a setting **only when it is absent**: no
  topics yet, the branch not protected yet. A default branch is only changed by the creating try.

A push right after creation may meet a forge that has not finished creating the repository
(404, "repository not found"): :func:`push_when_ready` retries exactly that, with backoff.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, TypeVar

import tenacity

from airflow_provider_hisham.export import git
from airflow_provider_hisham.export.errors import InvalidValueError, PushError
from airflow_provider_hisham.export.git import check_branch

log = logging.getLogger(__name__)

VISIBILITIES = ("private", "internal", "public")
_TOPIC = re.compile(r"[a-z0-9][a-z0-9-]{0,49}")
_CHECK = re.compile(r"[^\x00-\x1f\x7f]{1,255}")
_KNOWN = {"visibility", "description", "topics", "default_branch", "delete_branch_on_merge", "protect_branches",
          "required_reviews", "required_status_checks", "strict_status_checks"}
# What git says when the forge does not know the repository (yet).
_NOT_READY = re.compile(r"repository not found|not found|\b404\b|does not appear to be a git repository",
                        re.IGNORECASE)
T = TypeVar("T")


@dataclass(frozen=True)
class RepositorySettings:
    """Validated settings (``None``/empty: leave the forge's default)."""

    visibility: str | None = None
    description: str | None = None
    topics: tuple[str, ...] = ()
    default_branch: str | None = None
    delete_branch_on_merge: bool | None = None
    protect_branches: tuple[str, ...] = ()
    required_reviews: int | None = None
    required_status_checks: tuple[str, ...] = field(default=())
    strict_status_checks: bool = False

    @property
    def protects(self) -> bool:
        return bool(self.protect_branches)


def parse_settings(raw: object, field_name: str = "settings") -> RepositorySettings | None:
    """Check a ``settings`` mapping from a config or a run's conf; errors name the field."""
    if raw in (None, {}):
        return None
    if not isinstance(raw, dict):
        raise InvalidValueError(field_name, "must be a mapping")
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise InvalidValueError(f"{field_name}.{unknown[0]}", f"is not a setting (known: {', '.join(sorted(_KNOWN))})")
    visibility = raw.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        raise InvalidValueError(f"{field_name}.visibility", f"must be one of {', '.join(VISIBILITIES)}")
    description = raw.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 350
                                    or re.search(r"[\x00-\x1f\x7f]", description)):
        raise InvalidValueError(f"{field_name}.description", "must be one line of at most 350 characters")
    topics = _names(raw.get("topics"), f"{field_name}.topics", _TOPIC, 20,
                    "lowercase letters, digits and '-', at most 50 characters, at most 20 topics")
    checks = _names(raw.get("required_status_checks"), f"{field_name}.required_status_checks", _CHECK, 50,
                    "one-line check names")
    branches = tuple(check_branch(b, f"{field_name}.protect_branches")
                     for b in _list(raw.get("protect_branches"), f"{field_name}.protect_branches"))
    default_branch = raw.get("default_branch")
    if default_branch is not None:
        check_branch(default_branch, f"{field_name}.default_branch")
    reviews = raw.get("required_reviews")
    if reviews is not None and (isinstance(reviews, bool) or not isinstance(reviews, int) or not 0 <= reviews <= 6):
        raise InvalidValueError(f"{field_name}.required_reviews", "must be an integer from 0 to 6 (GitHub's range)")
    for flag in ("delete_branch_on_merge", "strict_status_checks"):
        if raw.get(flag) is not None and not isinstance(raw.get(flag), bool):
            raise InvalidValueError(f"{field_name}.{flag}", "must be true or false")
    if (reviews is not None or checks) and not branches:
        raise InvalidValueError(f"{field_name}.protect_branches", "is needed for required_reviews or "
                                                                  "required_status_checks (which branches?)")
    return RepositorySettings(visibility, description, topics, default_branch, raw.get("delete_branch_on_merge"),
                              branches, reviews, checks, bool(raw.get("strict_status_checks", False)))


def _list(value: object, name: str) -> list:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise InvalidValueError(name, "must be a list")
    return list(value)


def _names(value: object, name: str, pattern: re.Pattern, most: int, what: str) -> tuple[str, ...]:
    items = _list(value, name)
    if len(items) > most or not all(isinstance(i, str) and pattern.fullmatch(i) for i in items):
        raise InvalidValueError(name, f"must be {what}")
    return tuple(dict.fromkeys(items))


class SettingsForge(Protocol):
    """The after-push setting calls both hooks implement (``repository``: full name or project id)."""

    def get_topics(self, repository: Any) -> list[str]: ...
    def set_topics(self, repository: Any, topics: list[str]) -> None: ...
    def get_default_branch(self, repository: Any) -> str | None: ...
    def set_default_branch(self, repository: Any, branch: str) -> None: ...
    def get_protection(self, repository: Any, branch: str) -> dict | None: ...
    def set_protection(self, repository: Any, branch: str, required_reviews: int | None,
                       required_checks: list[str], strict: bool) -> None: ...


def apply_after_push(forge: SettingsForge, repository: Any, settings: RepositorySettings | None, *,
                     just_created: bool, topics_at_creation: bool = False) -> list[str]:
    """Apply the after-push settings (see the module docstring); returns what was applied."""
    if settings is None:
        return []
    applied: list[str] = []
    if settings.topics and not topics_at_creation and (just_created or not forge.get_topics(repository)):
        forge.set_topics(repository, list(settings.topics))
        applied.append("topics")
    if settings.default_branch and just_created and forge.get_default_branch(repository) != settings.default_branch:
        forge.set_default_branch(repository, settings.default_branch)
        applied.append("default_branch")
    for branch in settings.protect_branches:
        if just_created or forge.get_protection(repository, branch) is None:
            forge.set_protection(repository, branch, settings.required_reviews, list(settings.required_status_checks),
                                 settings.strict_status_checks)
            applied.append(f"protection:{branch}")
        else:
            log.info("branch %s is already protected; leaving its rules as they are", branch)
    return applied


def push_when_ready(push: Callable[[], T], *, attempts: int = 6, first_wait: float = 1.0, max_wait: float = 16.0,
                    sleep: Callable[[float], None] | None = None) -> T:
    """Run ``push`` (a push into a repository created moments ago), retrying only "repository not
    found" (404) failures with exponential backoff: the forge may not serve the new repository yet."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(lambda e: isinstance(e, PushError) and bool(_NOT_READY.search(e.stderr))),
        stop=tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_exponential(multiplier=first_wait, max=max_wait),
        before_sleep=lambda state: log.warning("the new repository is not ready yet (attempt %d): retrying",
                                               state.attempt_number),
        reraise=True,
        sleep=sleep or git.wait_before_retry,
    )
    return retrying(push)
