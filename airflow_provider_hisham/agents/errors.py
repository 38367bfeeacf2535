"""Exceptions of agent steps; each names the agent, step or path at fault."""

from __future__ import annotations

from airflow_provider_hisham.api.errors import HishamOSConfigError, HishamOSError
from airflow_provider_hisham.generation.errors import GenerationError


class AgentError(HishamOSError):
    """Base class of agent-step errors."""


class AgentNotFoundError(AgentError, HishamOSConfigError):
    """An agent reference matches no agent of the backend (names them all, and the agents it has)."""

    def __init__(self, unresolved: list[str], available: list[str]) -> None:
        self.unresolved = list(unresolved)
        self.available = list(available)
        names = ", ".join(repr(u) for u in self.unresolved)
        super().__init__(
            f"agent {names} not found in HishamOS (tried the mapping, id, exact name, slug and the slug "
            f"of the name with/without 'agent'); map it, e.g. agents={{{self.unresolved[0]!r}: '<slug>'}}. "
            f"The backend has: {', '.join(self.available) or 'no agents'}")


class AgentMappingError(AgentError, HishamOSConfigError):
    """An agent mapping (here: ``dag_run.conf["agents"]``) that is not reference -> agent strings."""


class AgentBudgetExceeded(AgentError):
    """The run's agent steps spent (or this step would spend) more than ``max_cost``/``max_tokens``."""


class AgentRunPendingError(AgentError):
    """An earlier try's execution of this step is still running on HishamOS: retry later, do not pay twice."""


class AgentOutputError(GenerationError):
    """Agent output refused as a project structure; names the step that produced it."""

    def __init__(self, source: str, message: str, path: str | None = None) -> None:
        self.source = source
        self.path = path
        super().__init__(f"output of step {source!r}: {message}")
