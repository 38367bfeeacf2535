"""Agent references -> the backend's agents, the way workflow definitions name them.

HishamOS's own engine looks agents up by exact name, and its shipped definitions name agents the
backend does not have ("QA Agent" where the backend has "QA Engineer" / ``qa-testing-agent``).
Here a reference resolves, first match wins, by: an explicit mapping (reference -> id, name or
slug), the id, the exact name, the slug (``agent_id``), then the slug made from the reference
with and without a trailing "agent" ("DevOps Agent" -> ``devops-agent``, "Project Manager Agent"
-> ``project-manager``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_hisham.agents.errors import AgentMappingError, AgentNotFoundError


def slugify(name: str) -> str:
    """``"Project Manager Agent"`` -> ``"project-manager-agent"`` (lower case, runs of other chars -> ``-``)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def slug_candidates(reference: str) -> list[str]:
    """The slug of ``reference``, then the same with the trailing ``agent`` dropped or added."""
    slug = slugify(reference)
    if not slug:
        return []
    if slug == "agent":
        return [slug]
    return [slug, slug[: -len("-agent")] if slug.endswith("-agent") else f"{slug}-agent"]


#: ``dag_run.conf["agents"]``: at most this many references, each side at most MAX_REFERENCE chars.
MAX_CONF_MAPPINGS = 200
MAX_REFERENCE = 200
CONF_KEY = "agents"


def merge_mappings(*, task: Mapping[str, str] | None = None, conf: Mapping[str, str] | None = None,
                   connection: Mapping[str, str] | None = None) -> dict[str, str]:
    """The explicit mapping an agent step uses; earlier sources win per reference.

    Precedence (highest first): the task's own ``agents`` (the definition's ``metadata.agents`` /
    top-level ``agents``, or the step config of the provider's format), then the run's
    ``dag_run.conf["agents"]``, then the connection's extra ``agents``. A run may therefore map a
    reference its definition leaves open, or override a deployment-wide default, but never
    redirect an agent the workflow's author chose.
    """
    return {**dict(connection or {}), **dict(conf or {}), **dict(task or {})}


def mapping_from_conf(conf: Any) -> dict[str, str]:
    """``dag_run.conf["agents"]`` checked (the conf is untrusted): ``{}`` when absent, else a
    mapping of bounded, non-empty strings, or an error naming the field."""
    if not isinstance(conf, Mapping) or conf.get(CONF_KEY) in (None, {}):
        return {}
    raw = conf[CONF_KEY]
    where = f"dag_run.conf[{CONF_KEY!r}]"
    if not isinstance(raw, Mapping):
        raise AgentMappingError(f"{where} must map agent references to agent ids, names or slugs, got {type(raw).__name__}")
    if len(raw) > MAX_CONF_MAPPINGS:
        raise AgentMappingError(f"{where} has {len(raw)} entries; at most {MAX_CONF_MAPPINGS}")
    for key, value in raw.items():
        for side, text in (("reference", key), ("target", value)):
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_REFERENCE:
                raise AgentMappingError(f"{where}: {side} {str(text)[:60]!r} of {str(key)[:60]!r} must be a non-empty "
                                        f"string of at most {MAX_REFERENCE} characters")
    return {str(k): str(v) for k, v in raw.items()}


class AgentDirectory:
    """The backend's agents (one list call) with the references' mapping; resolves without I/O."""

    def __init__(self, agents: Iterable[Mapping[str, Any]], mapping: Mapping[str, str] | None = None) -> None:
        self.agents = [dict(a) for a in agents]
        self.mapping = {str(k): str(v) for k, v in (mapping or {}).items()}
        self._by_id = {str(a.get("id")): a for a in self.agents}
        self._by_name = {str(a.get("name")): a for a in self.agents}
        self._by_slug = {str(a.get("agent_id")): a for a in self.agents if a.get("agent_id")}

    def available(self) -> list[str]:
        """``"Name (slug)"`` of every agent, sorted by name."""
        return [f"{a.get('name')} ({a.get('agent_id')})" for a in sorted(self.agents, key=lambda a: str(a.get("name")))]

    def _direct(self, ref: str) -> dict[str, Any] | None:
        found = self._by_id.get(ref) or self._by_name.get(ref) or self._by_slug.get(ref)
        if found is None:
            found = next((self._by_slug[s] for s in slug_candidates(ref) if s in self._by_slug), None)
        return found

    def find(self, reference: str) -> dict[str, Any] | None:
        ref = str(reference).strip()
        if ref in self.mapping:
            return self._direct(self.mapping[ref].strip())
        return self._direct(ref)

    def resolve(self, reference: str) -> dict[str, Any]:
        return self.resolve_all([reference])[str(reference)]

    def resolve_all(self, references: Iterable[str]) -> dict[str, dict[str, Any]]:
        """``{reference: agent}`` for all of them, or one error naming every unresolved reference."""
        found: dict[str, dict[str, Any]] = {}
        missing: list[str] = []
        for ref in references:
            agent = self.find(ref)
            if agent is None:
                missing.append(str(ref))
            else:
                found[str(ref)] = agent
        if missing:
            raise AgentNotFoundError(list(dict.fromkeys(missing)), self.available())
        return found
