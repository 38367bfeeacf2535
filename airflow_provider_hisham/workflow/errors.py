"""Errors of workflow configs: each names the file, the step, the field and the line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigIssue:
    """One mistake in a workflow config, located as precisely as the parser allows."""

    file: str
    message: str
    field: str = ""
    step: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where]
        if self.step:
            parts.append(f"step '{self.step}'")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ": ".join(parts) + f": {self.message}"


class WorkflowError(Exception):
    """Base class of the workflow factory's errors."""


class WorkflowConfigError(WorkflowError, ValueError):
    """A workflow config is invalid; ``issues`` lists every mistake found (not only the first)."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class UnknownStepTypeError(WorkflowError, KeyError):
    """A step type name that no registry entry (built in, registered or entry point) provides."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])
