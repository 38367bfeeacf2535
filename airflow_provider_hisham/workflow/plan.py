"""Validate a workflow config and compile it into a flat plan of tasks (no Airflow involved).

The plan is what the Airflow adapter turns into a DAG: one entry per task with its step type,
raw config, upstream task ids and trigger rule; conditional blocks add a branch task. All
mistakes found are reported together, each with file, step, field and line.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from airflow_provider_hisham.dry_run import PARAM as DRY_RUN_PARAM, declares_same_meaning
from airflow_provider_hisham.workflow.errors import ConfigIssue, UnknownStepTypeError, WorkflowConfigError
from airflow_provider_hisham.workflow.expressions import (
    ExpressionError,
    Reference,
    condition_references,
    is_template,
    template_references,
)
from airflow_provider_hisham.workflow.regex_guard import UnsafePatternError, guard_schema
from airflow_provider_hisham.workflow.registry import TEMPLATE, StepTypeRegistry, registry as default_registry
from airflow_provider_hisham.workflow.source import ConfigSource, dotted

SCHEMA_RESOURCE = "schema/workflow.schema.json"
SCHEDULE_PRESETS = frozenset(
    {"@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly", "@annually"}
)
JOIN_TRIGGER_RULE = "none_failed_min_one_success"


@lru_cache(maxsize=1)
def workflow_schema() -> dict:
    """The published JSON Schema (draft 2020-12) shipped in the package."""
    return json.loads(resources.files(__package__).joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8"))


_RECURSIVE_DEFS = frozenset({"items", "item", "parallel", "conditional", "sequential"})


def _inline_refs(node: Any, defs: dict) -> Any:
    """Copy non-recursive ``$defs`` into place: the same schema, ~2x faster to validate
    (every ``$ref`` is a registry lookup in jsonschema)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] not in _RECURSIVE_DEFS:
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**_inline_refs(defs[ref[8:]], defs), **rest}
        return {k: _inline_refs(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


@lru_cache(maxsize=1)
def _schema_validator():
    from jsonschema import Draft202012Validator

    schema = workflow_schema()
    return Draft202012Validator(_inline_refs(schema, schema["$defs"]))


def _rust_check(schema: dict, **options: Any):
    """``schema`` compiled by jsonschema-rs (Rust): an ``is_valid`` in microseconds.

    Only a yes/no: data it rejects (or cannot take) goes through the Python validator, whose
    errors are the messages users see. None when jsonschema-rs is not installed.
    """
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - a declared dependency; the Python validator suffices
        return None
    return jsonschema_rs.Draft202012Validator(schema, **options).is_valid


@lru_cache(maxsize=1)
def _fast_schema_check():
    """The workflow schema's Rust check (see :func:`_fast_valid`)."""
    return _rust_check(workflow_schema())


@lru_cache(maxsize=1)
def _fast_param_schema_check():
    """The draft 2020-12 metaschema's Rust check, with jsonschema's own format checks (Python's
    ``re`` for "regex", and whatever else its checker knows here) in place of Rust's."""
    from jsonschema import Draft202012Validator

    checker = Draft202012Validator.FORMAT_CHECKER
    formats = {name: functools.partial(checker.conforms, format=name) for name in checker.checkers}
    return _rust_check(Draft202012Validator.META_SCHEMA, formats=formats, validate_formats=True)


def _fast_valid(check, data: Any) -> bool:
    """True when the Rust ``check`` passes ``data``: the Python validator would find no error.

    False means "ask the Python validator": Rust said no, or could not take the data. Where the
    two differ (Python's regex ``$`` before a final newline, Unicode ``\\d``, NaN, formats that
    jsonschema does not check here) the Rust check is the stricter, so Python still decides.
    """
    if check is None or not _json_typed(data):
        return False
    try:
        return check(data)
    except Exception:  # a value Rust cannot hold (a lone surrogate...), a format check that raised
        return False


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _json_typed(value: Any) -> bool:
    """Only dicts with string keys, lists and JSON scalars, exactly (as parsing YAML/JSON gives).

    The Python validator calls a tuple no array and a str enum no string; the Rust one would
    accept them, so data from the Python API with such values is left to the Python validator.
    """
    kind = type(value)
    if kind is dict:
        return all(type(key) is str and _json_typed(item) for key, item in value.items())
    if kind is list:
        return all(_json_typed(item) for item in value)
    return kind in _JSON_SCALARS


_CONFIG_VALIDATORS: dict[int, tuple] = {}  # id(schema) -> (schema, a copy of it, its validator)


def _config_validator(schema: Any):
    """The validator of a step type's config schema, built once per schema object (and again
    if the object was changed in place since)."""
    cached = _CONFIG_VALIDATORS.get(id(schema))
    if cached is None or cached[0] is not schema or cached[1] != schema:
        from jsonschema import Draft202012Validator

        if len(_CONFIG_VALIDATORS) >= 256:
            _CONFIG_VALIDATORS.clear()
        validator = Draft202012Validator(json.loads(json.dumps(schema, sort_keys=True)))  # plain JSON
        cached = _CONFIG_VALIDATORS[id(schema)] = (schema, copy.deepcopy(schema), validator)
    return cached[2]


@lru_cache(maxsize=1)
def _param_schema_validator():
    """Checks a param's schema against the draft 2020-12 metaschema, as
    ``Draft202012Validator.check_schema`` does, but built once instead of on every call."""
    from jsonschema import Draft202012Validator, validators

    meta = Draft202012Validator.META_SCHEMA
    cls = validators.validator_for(meta, default=Draft202012Validator)
    return cls(meta, format_checker=cls.FORMAT_CHECKER)


@dataclass
class TaskPlan:
    """One Airflow task to create."""

    task_id: str
    path: tuple
    kind: str = "step"  # "step" | "branch"
    step_type: str | None = None
    config: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)  # retries, timeouts, pool, queue, doc
    upstream: list[str] = field(default_factory=list)
    trigger_rule: str | None = None
    # branch tasks only: (condition, head task ids) in order, the heads of "otherwise", the join
    branches: list[tuple[str, list[str]]] = field(default_factory=list)
    otherwise: list[str] = field(default_factory=list)
    join: str | None = None


@dataclass
class WorkflowPlan:
    source: ConfigSource
    dag: dict  # top-level settings (dag_id, description, tags, schedule, ...)
    params: dict[str, dict]
    tasks: dict[str, TaskPlan]
    lanes: dict[str, list[str]]  # parallel block id -> its lanes' last task ids

    @property
    def name(self) -> str:
        return self.source.name


class _Compiler:
    def __init__(self, source: ConfigSource, registry: StepTypeRegistry):
        self.source = source
        self.registry = registry
        self.issues: list[ConfigIssue] = []
        self.tasks: dict[str, TaskPlan] = {}
        self.lanes: dict[str, list[str]] = {}
        self.ids: dict[str, tuple] = {}  # every id (tasks and blocks) -> where it was defined
        self.aliases: dict[str, str] = {}  # parallel block id -> its combine task id

    # --- reporting ---------------------------------------------------------------------------
    def issue(self, path: tuple, message: str, step: str | None = None) -> None:
        self.issues.append(
            ConfigIssue(self.source.name, message, dotted(path), step or self.step_at(path), self.source.line_of(path))
        )

    def step_at(self, path: tuple) -> str | None:
        """The id of the innermost step or block containing ``path``."""
        data, found = self.source.data, None
        for part in path:
            try:
                data = data[part]
            except (KeyError, IndexError, TypeError):
                break
            if isinstance(data, dict):
                if isinstance(data.get("id"), str):
                    found = data["id"]
        return found

    # --- schema ------------------------------------------------------------------------------
    def check_schema(self) -> bool:
        data = self.source.data
        if not isinstance(data, dict):
            self.issue((), f"a workflow must be a mapping at the top level, not {type(data).__name__}")
            return False
        if _fast_valid(_fast_schema_check(), data):
            return True
        for error in sorted(_schema_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
            self.issue(tuple(error.absolute_path), _schema_message(error))
        return not self.issues

    # --- structure ---------------------------------------------------------------------------
    def define(self, ident: str, path: tuple) -> None:
        if ident in self.ids:
            first = self.source.line_of(self.ids[ident])
            self.issue(path + ("id",), f"duplicate id '{ident}' (first defined at line {first})", ident)
        else:
            self.ids[ident] = path

    def walk(self, items: list, path: tuple, upstream: list[str]) -> tuple[list[str], str]:
        """Add ``items`` in order after ``upstream``; return (head task ids, last task id)."""
        heads: list[str] | None = None
        for index, item in enumerate(items):
            item_heads, tail = self.item(item, path + (index,), upstream)
            heads = item_heads if heads is None else heads
            upstream = [tail]
        return heads or [], upstream[0]

    def item(self, item: dict, path: tuple, upstream: list[str]) -> tuple[list[str], str]:
        if "parallel" in item:
            return self.parallel(item["parallel"], path + ("parallel",), upstream)
        if "conditional" in item:
            return self.conditional(item["conditional"], path + ("conditional",), upstream)
        if "sequential" in item:
            block = item["sequential"]
            if "id" in block:
                self.define(block["id"], path + ("sequential",))
            return self.walk(block["steps"], path + ("sequential", "steps"), upstream)
        return [self.step(item, path, upstream)], item["id"]

    def step(self, step: dict, path: tuple, upstream: list[str], trigger_rule: str | None = None) -> str:
        self.define(step["id"], path)
        options = {k: step[k] for k in ("retries", "retry_delay_seconds", "execution_timeout_seconds", "pool", "queue") if k in step}
        doc = step.get("doc") or step.get("name")
        if doc:
            options["doc_md"] = doc
        task = TaskPlan(
            step["id"], path, "step", step["type"], step.get("config", {}), options, list(upstream), trigger_rule
        )
        self.tasks.setdefault(step["id"], task)
        try:
            step_type = self.registry.get_public(step["type"])
        except UnknownStepTypeError as exc:
            self.issue(path + ("type",), str(exc), step["id"])
        else:
            self.check_config(step_type.config_schema, task)
        return step["id"]

    def check_config(self, schema: dict, task: TaskPlan) -> None:
        for error in _config_validator(schema).iter_errors(task.config):
            self.issue(task.path + ("config",) + tuple(error.absolute_path), _schema_message(error), task.task_id)

    def parallel(self, block: dict, path: tuple, upstream: list[str]) -> tuple[list[str], str]:
        self.define(block["id"], path)
        heads, tails = [], []
        for index, lane in enumerate(block["steps"]):
            lane_heads, tail = self.item(lane, path + ("steps", index), upstream)
            heads += lane_heads
            tails.append(tail)
        self.lanes[block["id"]] = tails
        combine = self.step(block["combine"], path + ("combine",), tails)
        self.aliases[block["id"]] = combine
        return heads, combine

    def conditional(self, block: dict, path: tuple, upstream: list[str]) -> tuple[list[str], str]:
        branch_id = block["id"]
        self.define(branch_id, path)
        branch = TaskPlan(branch_id, path, "branch", upstream=list(upstream))
        self.tasks.setdefault(branch_id, branch)
        tails = []
        for index, arm in enumerate(block["branches"]):
            heads, tail = self.walk(arm["steps"], path + ("branches", index, "steps"), [branch_id])
            branch.branches.append((arm["when"], heads))
            tails.append(tail)
        if "otherwise" in block:
            branch.otherwise, tail = self.walk(block["otherwise"], path + ("otherwise",), [branch_id])
            tails.append(tail)
        # the join also follows the branch task directly, so it runs when no branch is taken
        join = self.step(block["join"], path + ("join",), tails + [branch_id], JOIN_TRIGGER_RULE)
        branch.join = join
        return [branch_id], join

    # --- dependencies and references ---------------------------------------------------------
    def link_depends_on(self) -> None:
        for task in self.tasks.values():
            if task.kind != "step":
                continue
            step = self.node(task.path)
            for index, dep in enumerate(step.get("depends_on", [])):
                where = task.path + ("depends_on", index)
                target = self.aliases.get(dep, dep)
                if dep == task.task_id:
                    self.issue(where, f"step '{dep}' cannot depend on itself", task.task_id)
                elif target not in self.tasks:
                    self.issue(where, f"depends on unknown step '{dep}'; known ids: {', '.join(sorted(self.ids))}", task.task_id)
                elif target not in task.upstream:
                    task.upstream.append(target)

    def find_cycle(self) -> list[str] | None:
        state: dict[str, int] = {}
        stack: list[str] = []

        def visit(node: str) -> list[str] | None:
            state[node] = 1
            stack.append(node)
            for up in self.tasks[node].upstream:
                if state.get(up) == 1:
                    return stack[stack.index(up):] + [up]
                if up not in state and (cycle := visit(up)):
                    return cycle
            stack.pop()
            state[node] = 2
            return None

        for node in self.tasks:
            if node not in state and (cycle := visit(node)):
                return cycle
        return None

    def ancestors(self) -> dict[str, set[str]]:
        return task_ancestors(self.tasks)

    def check_references(self, params: dict, ancestors: dict[str, set[str]]) -> None:
        for task in self.tasks.values():
            if task.kind == "branch":
                block = self.node(task.path)
                for index, arm in enumerate(block["branches"]):
                    where = task.path + ("branches", index, "when")
                    self.check_refs(where, task.task_id, arm["when"], params, ancestors, condition=True)
            else:
                for where, value in _strings(task.config, task.path + ("config",)):
                    if is_template(value):
                        self.check_refs(where, task.task_id, value, params, ancestors)

    def check_refs(self, where, task_id, text, params, ancestors, condition=False) -> None:
        try:
            refs: list[Reference] = condition_references(text) if condition else template_references(text)
        except ExpressionError as exc:
            self.issue(where, str(exc), task_id)
            return
        before = ancestors.get(task_id, set())
        for ref in refs:
            if ref.kind == "params":
                if ref.name not in params:
                    known = ", ".join(sorted(params)) or "none declared"
                    self.issue(where, f"unknown param '{ref.name}' (params: {known})", task_id)
            elif ref.name == task_id:
                self.issue(where, f"step '{task_id}' cannot use its own output", task_id)
            elif ref.name not in self.ids:
                self.issue(where, f"refers to unknown step '{ref.name}'", task_id)
            elif ref.name in self.lanes:
                if self.aliases[ref.name] != task_id and self.aliases[ref.name] not in before:
                    self.issue(where, f"refers to parallel block '{ref.name}', which does not run before this step", task_id)
            elif ref.name not in before:
                self.issue(
                    where,
                    f"refers to step '{ref.name}', which does not run before this step (add it to depends_on or reorder)",
                    task_id,
                )

    def node(self, path: tuple) -> Any:
        data = self.source.data
        for part in path:
            data = data[part]
        return data

    # --- params and top level ----------------------------------------------------------------
    def check_params(self, params: dict, scheduled: bool) -> dict[str, dict]:
        """Check each param's schema and default; return the params with their patterns bounded
        (see :mod:`.regex_guard`), as the DAG's Params get them."""
        from jsonschema import Draft202012Validator

        checked: dict[str, dict] = {}
        for name, spec in params.items():
            where = ("params", name)
            checked[name] = spec  # replaced below when its schema is sound
            if name == DRY_RUN_PARAM and not declares_same_meaning(spec):
                self.issue(where, f"param '{name}' is the dry-run switch every workflow DAG has: declare it "
                                  "as type boolean, or leave it out")
                continue
            if scheduled and "default" not in spec:
                self.issue(where, f"param '{name}' needs a default: scheduled runs are triggered without conf")
            schema = {k: v for k, v in spec.items() if k not in ("default", "values_display")}
            # the first metaschema error, the one Draft202012Validator.check_schema raises
            invalid = None
            if not _fast_valid(_fast_param_schema_check(), schema):
                invalid = next(_param_schema_validator().iter_errors(schema), None)
            if invalid is not None:
                self.issue(where, f"param '{name}' has an invalid schema: {getattr(invalid, 'message', invalid)}")
                continue
            try:
                schema = guard_schema(schema)
            except UnsafePatternError as exc:
                self.issue(where + exc.path, f"param '{name}' has an unsafe pattern: {exc}")
                continue
            checked[name] = {**spec, **schema}
            if "pattern" in spec:
                del checked[name]["pattern"]
            if "default" in spec and spec["default"] is not None:
                for error in Draft202012Validator(schema).iter_errors(spec["default"]):
                    self.issue(where + ("default",), f"default of param '{name}' is invalid: {error.message}")
        return checked

    def check_schedule(self, schedule: Any) -> None:
        if isinstance(schedule, str) and schedule.startswith("@") and schedule not in SCHEDULE_PRESETS:
            self.issue(("schedule",), f"unknown schedule preset '{schedule}'; use one of {', '.join(sorted(SCHEDULE_PRESETS))} or a cron expression")
        elif isinstance(schedule, str) and not schedule.startswith("@") and len(schedule.split()) not in (5, 6):
            self.issue(("schedule",), f"'{schedule}' is not a cron expression (5 fields) nor a preset")

    def compile(self) -> WorkflowPlan:
        if not self.check_schema():
            raise WorkflowConfigError(self.issues)
        data = self.source.data
        params = data.get("params", {})
        self.check_schedule(data.get("schedule"))
        params = self.check_params(params, data.get("schedule") is not None)
        self.walk(data["steps"], ("steps",), [])
        self.link_depends_on()
        cycle = self.find_cycle() if not self.issues else None
        if cycle:
            first = self.tasks[cycle[0]]
            self.issue(first.path + ("depends_on",), "dependency cycle: " + " -> ".join(reversed(cycle)), cycle[0])
        if not self.issues:
            self.check_references(params, self.ancestors())
        if self.issues:
            raise WorkflowConfigError(self.issues)
        dag = {k: v for k, v in data.items() if k not in ("steps", "params", "$schema")}
        return WorkflowPlan(self.source, dag, params, self.tasks, self.lanes)


def task_ancestors(tasks: dict[str, TaskPlan]) -> dict[str, set[str]]:
    """Every task id -> the ids of all tasks that run before it (the plan has no cycle)."""
    memo: dict[str, set[str]] = {}

    def of(node: str) -> set[str]:
        if node not in memo:
            result: set[str] = set()
            for up in tasks[node].upstream:
                result |= {up} | of(up)
            memo[node] = result
        return memo[node]

    for node in tasks:
        of(node)
    return memo


def _strings(value: Any, path: tuple):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, path + (index,))


def _schema_message(error) -> str:
    """jsonschema's message, reworded where it is cryptic."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return f"unknown field '{extra[0]}'; allowed: {', '.join(allowed)}"
    if error.validator == "pattern":
        return f"{error.instance!r} does not match {error.validator_value}"
    if error.validator == "not" and error.validator_value == TEMPLATE:
        return f"{error.instance!r}: this field is not rendered at run time, it cannot hold {{{{ ... }}}}"
    if error.validator == "anyOf" and error.schema.get("anyOf", [{}])[-1] == TEMPLATE:
        best = error.context[0].message if error.context else error.message
        return f"{best} (or a {{{{ ... }}}} template)"
    return error.message


def compile_workflow(source: ConfigSource, registry: StepTypeRegistry | None = None) -> WorkflowPlan:
    """Validate ``source`` and return its plan; raise WorkflowConfigError listing every issue."""
    return _Compiler(source, registry or default_registry).compile()
