"""The step type registry: a step's ``type`` -> the operator class (by path) and its config schema.

Operators are named by dotted path and imported only when a DAG is built, so validating configs
(and importing this module) never imports an operator, Airflow or a git library. Packages add
step types through the entry point group ``airflow_provider_hisham.step_types``; each entry point
loads a :class:`StepType` (or a list of them, or a callable returning either).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_hisham.export.targets import PULL_REQUEST_TARGETS, REPO_CREATION_TARGETS
from airflow_provider_hisham.workflow.errors import UnknownStepTypeError

ENTRY_POINT_GROUP = "airflow_provider_hisham.step_types"

#: a value rendered at run time: what the DAG builder takes for a template (``expressions.is_template``)
TEMPLATE = {"type": "string", "pattern": "\\{\\{|\\{%"}


def templated(schema: dict) -> dict:
    """``schema``, or a ``{{ ... }}`` string rendered at run time (native types keep their type)."""
    return {"anyOf": [schema, TEMPLATE]}


def plain(schema: dict) -> dict:
    """``schema`` for a field the operator does not render (not a template field): a ``{{ ... }}``
    in it is refused at validation, as the DAG builder would refuse it."""
    return {**schema, "not": TEMPLATE}


@dataclass(frozen=True)
class StepType:
    """How a step ``type`` becomes an Airflow task.

    ``operator`` is a dotted class path. ``config_schema`` is a JSON Schema for the step's
    ``config`` (unknown fields and wrong types are caught at parse time). ``to_kwargs`` maps a
    config to operator keyword arguments; by default config keys are the operator's arguments.
    """

    name: str
    operator: str
    config_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    description: str = ""
    to_kwargs: Callable[[dict], dict] | None = None
    #: operator keyword -> the template field it is stored in, when the names differ
    templated_as: Mapping[str, str] = field(default_factory=dict)
    #: a task kind a compiler adds (HishamOS gates, joins...): never named by a config, not listed
    internal: bool = False

    def operator_kwargs(self, config: dict) -> dict:
        return dict(self.to_kwargs(config) if self.to_kwargs else config)


def _object(properties: dict, required: Iterable[str] = ()) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": properties, "required": list(required)}


_STR = {"type": "string"}
_STR_T = {"type": "string", "minLength": 1}
_ANY_OBJ = templated({"type": "object"})
_BOOL = {"type": "boolean"}
_CONN_ID = plain(_STR_T)  # connections are the DAG author's choice, never rendered from a run's conf


def _count(maximum: int) -> dict:
    return {"type": "integer", "minimum": 1, "maximum": maximum}


# export/git.py push: transient failures retried ``push_retries`` times, ``push_backoff * 2**n`` s apart
_PUSH_RETRIES = {"type": "integer", "minimum": 0, "maximum": 10}
_PUSH_BACKOFF = {"type": "number", "minimum": 0, "maximum": 300}


# Repository settings on creation (export/settings.py checks the values again at run time).
SETTINGS_SCHEMA = _object({
    "visibility": {"enum": ["private", "internal", "public"]},
    "description": _STR,
    "topics": {"type": "array", "items": _STR_T, "maxItems": 20},
    "default_branch": _STR_T,
    "delete_branch_on_merge": _BOOL,
    "protect_branches": {"type": "array", "items": _STR_T, "maxItems": 20},
    "required_reviews": {"type": "integer", "minimum": 0, "maximum": 6},
    "required_status_checks": {"type": "array", "items": _STR_T, "maxItems": 50},
    "strict_status_checks": _BOOL,
})


BUILTIN_STEP_TYPES: tuple[StepType, ...] = (
    StepType(
        "api_call",
        "airflow_provider_hisham.operators.api_call.HishamOSApiCallOperator",
        _object(
            {
                "hishamos_conn_id": _CONN_ID,
                "action": _STR_T,
                "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
                "endpoint": _STR_T,
                "data": templated({"type": ["object", "array"]}),
                "query": _ANY_OBJ,
                "user_id": _STR_T,
                "result_path": _STR_T,
                "idempotent": _BOOL,
            }
        ),
        "An authenticated HishamOS REST call (a named action or method + endpoint).",
    ),
    StepType(
        "file_generation",
        "airflow_provider_hisham.operators.file_generation.HishamOSFileGenerationOperator",
        _object(
            {
                "project_id": _STR_T,
                "template": _STR_T,
                "structure": templated({"type": "object"}),
                "structure_from": {"type": ["object", "string"]},
                "source_step": plain(_STR_T),
                "context": _ANY_OBJ,
                "output_root": _STR_T,
                "hishamos_conn_id": _CONN_ID,
                "strict_hishamos_records": _BOOL,
                "hishamos_project_id": _STR_T,
                "hishamos_user_id": plain(_STR_T),
                "render_structure": _BOOL,
                "templates_dir": plain(_STR_T),
                "workers": _count(64),
                "max_file_bytes": _count(1024**3),  # 1 GiB
                "max_files": _count(1_000_000),
                "max_project_bytes": _count(16 * 1024**3),  # 16 GiB
                "progress_every": _count(1_000_000),
            },
            required=["project_id"],
        ),
        "Renders a project tree into generated-projects/{project_id}/.",
    ),
    StepType(
        "repo_creation",
        "airflow_provider_hisham.operators.repo_creation.HishamOSRepoCreationOperator",
        _object(
            {
                "source_dir": _STR_T,
                "target": templated({"enum": list(REPO_CREATION_TARGETS)}),
                "repository_name": _STR_T,
                "github_conn_id": _CONN_ID,
                "gitlab_conn_id": _CONN_ID,
                "git_url": _STR_T,
                "git_conn_id": _CONN_ID,
                "private": _BOOL,
                "default_branch": _STR_T,
                "on_conflict": {"enum": ["fail", "reuse", "suffix"]},
                "namespace": _STR_T,
                "description": _STR,
                "branches": templated({"type": "array", "items": _STR}),
                "commit_message": _STR_T,
                "author_name": _STR_T,
                "author_email": _STR_T,
                "archive_dir": _STR_T,
                "hishamos_conn_id": _CONN_ID,
                "strict_hishamos_records": _BOOL,
                "generated_project_id": _STR_T,
                # not a template field of the operator: the builder refuses "{{ ... }}" in it
                "settings": SETTINGS_SCHEMA,
                "source_storage_url": _STR_T,
                "source_manifest_sha256": _STR_T,
                "push_retries": _PUSH_RETRIES,
                "push_backoff": _PUSH_BACKOFF,
            },
            required=["source_dir"],
        ),
        "Publishes a directory as a GitHub/GitLab/git repository or a ZIP/TAR.GZ archive.",
    ),
    StepType(
        "agent",
        "airflow_provider_hisham.operators.agent.HishamOSAgentOperator",
        _object(
            {
                "agent": _STR_T,
                "prompt": _STR,
                "inputs": _ANY_OBJ,
                "context": _ANY_OBJ,
                "agents": {"type": "object", "additionalProperties": _STR_T},
                "hishamos_conn_id": _CONN_ID,
                "user_id": _STR_T,
                "max_cost": {"type": "number", "minimum": 0},
                "max_tokens": {"type": "integer", "minimum": 0},
            },
            required=["agent"],
        ),
        "Runs a HishamOS agent (durable across retries, within the run's budget); JSON answers become keys.",
    ),
    StepType(
        "combine_projects",
        "airflow_provider_hisham.operators.combine_projects.HishamOSCombineProjectsOperator",
        _object(
            {"project_id": _STR_T, "sources": templated({"type": ["object", "array"]}), "output_root": _STR_T},
            required=["project_id", "sources"],
        ),
        "Merges the projects parallel lanes generated into one (a parallel block's combine step).",
    ),
    StepType(
        "approval",
        "airflow_provider_hisham.operators.approval.HishamOSApprovalOperator",
        _object(
            {
                "project": templated({"type": ["object", "string"]}),
                "subject": _STR_T,
                "target": _STR_T,
                "branch": _STR_T,
                "story": templated({"type": ["object", "string", "integer"]}),
                "response_timeout_seconds": _count(31_622_400),  # at most 366 days, like every seconds field
                "on_timeout": {"enum": ["reject", "approve", "fail"]},
                "assigned_users": {"type": "array", "items": {"anyOf": [_STR_T, _object({"id": _STR_T, "name": _STR}, ["id"])]}},
                "list_limit": {"type": "integer", "minimum": 0, "maximum": 1000},
            },
            required=["project"],
        ),
        "A person approves (or rejects: what follows is skipped) what is about to be published.",
    ),
    StepType(
        "pull_request",
        "airflow_provider_hisham.operators.pull_request.HishamOSPullRequestOperator",
        _object(
            {
                "source_dir": _STR_T,
                "target": templated({"enum": list(PULL_REQUEST_TARGETS)}),
                "repository_name": _STR_T,
                "namespace": _STR_T,
                "github_conn_id": _CONN_ID,
                "gitlab_conn_id": _CONN_ID,
                "git_url": _STR_T,
                "git_conn_id": _CONN_ID,
                "base_branch": _STR_T,
                "head_branch": _STR_T,
                "subdir": _STR,
                "title": _STR_T,
                "body": _STR,
                "story_id": {"type": ["string", "integer"]},
                "story_url": _STR,
                "draft": _BOOL,
                "reviewers": templated({"type": "array", "items": _STR_T, "maxItems": 50}),
                "labels": templated({"type": "array", "items": _STR_T, "maxItems": 50}),
                "dry_run": _BOOL,
                "commit_message": _STR_T,
                "author_name": plain(_STR_T),  # not template fields of this operator (repo_creation's are)
                "author_email": plain(_STR_T),
                "push_retries": _PUSH_RETRIES,
                "push_backoff": _PUSH_BACKOFF,
            },
            required=["source_dir"],
        ),
        "Proposes a directory to an existing repository: a run-named branch on the base and one PR/MR for it.",
    ),
)


class StepTypeRegistry:
    """Built-in types, then types registered from Python, then entry points (loaded on demand)."""

    def __init__(self, builtins: Iterable[StepType] = BUILTIN_STEP_TYPES):
        self._types: dict[str, StepType] = {t.name: t for t in builtins}
        self._entry_points_loaded = False
        self._lock = threading.Lock()

    def register(self, step_type: StepType, *, replace: bool = False) -> StepType:
        if not replace and step_type.name in self._types and self._types[step_type.name] != step_type:
            raise ValueError(f"step type '{step_type.name}' is already registered ({self._types[step_type.name].operator})")
        self._types[step_type.name] = step_type
        return step_type

    def get(self, name: str) -> StepType:
        if name not in self._types:
            self.load_entry_points()
        try:
            return self._types[name]
        except KeyError:
            raise UnknownStepTypeError(
                f"unknown step type '{name}'; known step types: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        self.load_entry_points()
        return sorted(name for name, step_type in self._types.items() if not step_type.internal)

    def get_public(self, name: str) -> StepType:
        """:meth:`get` for a name written in a config: internal kinds are unknown there."""
        step_type = self.get(name)
        if step_type.internal:
            raise UnknownStepTypeError(f"unknown step type '{name}'; known step types: {', '.join(self.names())}")
        return step_type

    def load_entry_points(self) -> None:
        """Register the types other packages publish (once; a broken plugin names itself)."""
        with self._lock:
            if self._entry_points_loaded:
                return
            self._entry_points_loaded = True
            from importlib.metadata import entry_points

            for ep in entry_points(group=ENTRY_POINT_GROUP):
                loaded = ep.load()
                if callable(loaded) and not isinstance(loaded, StepType):
                    loaded = loaded()
                for step_type in [loaded] if isinstance(loaded, StepType) else list(loaded):
                    if not isinstance(step_type, StepType):
                        raise TypeError(f"entry point {ep.name} ({ep.value}) gave {step_type!r}, not a StepType")
                    self._types.setdefault(step_type.name, step_type)


registry = StepTypeRegistry()


def register_step_type(
    name: str | StepType,
    operator: str | None = None,
    config_schema: Mapping[str, Any] | None = None,
    *,
    description: str = "",
    to_kwargs: Callable[[dict], dict] | None = None,
    replace: bool = False,
) -> StepType:
    """Register a step type in the global registry (a :class:`StepType` or its fields)."""
    if isinstance(name, StepType):
        return registry.register(name, replace=replace)
    if not operator:
        raise ValueError("register_step_type needs the operator's dotted class path")
    step_type = StepType(name, operator, config_schema or {"type": "object"}, description, to_kwargs)
    return registry.register(step_type, replace=replace)
