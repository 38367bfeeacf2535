"""HishamOS's own workflow definitions (``workflow_schema.json``) compiled into this provider's plan.

A definition is recognised by its keys (``name`` and ``steps``, no ``dag_id``), validated against
HishamOS's schema (vendored in ``schema/hishamos_workflow.schema.json``) and turned into the same
:class:`~.plan.WorkflowPlan` the provider's own format compiles to, so one loader builds both.

What the fields become (the policy is documented in the README):

- DAG id: ``metadata.airflow_dag_id``, else ``name`` slugified ("Bug Lifecycle" -> ``bug_lifecycle``).
- ``{{input.x}}`` -> DAG Param ``x`` (string, or object when a key of it is read; declare others in
  ``metadata.params``); ``{{steps.<id>.output[.k]}}`` -> the step's XCom; a path that does not
  resolve at run time stays the literal text, as in HishamOS. Any other ``{{ }}`` text is literal:
  definitions never reach Jinja with text of their own.
- ``depends_on``, ``on_success``, ``merge_after`` are edges; a step linked by none of them follows
  the previous step (a ``parallel: true`` member of a ``parallel_group`` follows what the group's
  first member follows, so the members run side by side).
- ``on_failure`` pointing forward: the handler runs only when that step failed (trigger rule
  ``one_failed`` on edges from its failing steps); a run whose step failed stays failed (the task
  ``workflow_failed`` fails it) unless a rework attempt recovered.
- ``on_failure`` pointing back (review -> fix), or a handler whose ``on_success`` points back:
  the segment from the target to the failing step runs again, at most ``metadata.max_rework``
  times (default 2), as unrolled copies ``<step>__rework_<n>`` that start only when the attempt
  before failed; overlapping segments are merged. After the segment, ``<last>__reworked`` hands
  on the outputs of the attempt that succeeded.
- ``condition`` / ``skip_if`` / ``branch_group``: a gate task ``<step>__condition`` evaluates them
  in Jinja's sandbox and skips the step with the reason in its log (a condition that cannot be
  evaluated counts as false); a branch member runs only when no earlier member's condition held.
- ``max_retries``, ``timeout_seconds`` -> retries, execution timeout (HishamOS's defaults 3 / 300).
- ``loop`` (``type: for``) -> dynamic task mapping over the list (its body steps may be agents or
  provider steps, e.g. one ``api_call`` story per item; ``{{item.key}}`` reads the item); ``sub_workflow`` ->
  ``TriggerDagRunOperator`` waiting (deferred) for the other definition's DAG.
- A step may carry ``type`` (api_call, file_generation, repo_creation...) and ``config`` instead
  of ``agent``: it is checked against that step type's schema, not HishamOS's.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from airflow_provider_hisham.dry_run import PARAM as DRY_RUN_PARAM, param_spec as dry_run_param_spec
from airflow_provider_hisham.workflow.errors import ConfigIssue, UnknownStepTypeError, WorkflowConfigError
from airflow_provider_hisham.workflow.expressions import ExpressionError, _env, condition_references, template_references
from airflow_provider_hisham.workflow.plan import (
    TaskPlan,
    WorkflowPlan,
    _config_validator,
    _Compiler,
    _fast_valid,
    _rust_check,
    _schema_message,
    task_ancestors,
)
from airflow_provider_hisham.workflow.registry import StepType, StepTypeRegistry, registry as default_registry
from airflow_provider_hisham.workflow.source import ConfigSource, dotted

log = logging.getLogger(__name__)

SCHEMA_RESOURCE = "schema/hishamos_workflow.schema.json"
AGENT_STEP_TYPE = "agent"
RESOLVE_TASK = "resolve_agents"
FAIL_TASK = "workflow_failed"
DEFAULT_MAX_REWORK = 2
MAX_REWORK_LIMIT = 5
MAX_STEPS = 500  # with at most 5 reworks a definition stays a few thousand tasks
DEFAULT_RETRIES = 3  # HishamOS's schema defaults
DEFAULT_TIMEOUT = 300
DEFAULT_RETRY_DELAY = 30
PYTHON_OPERATOR = "airflow.providers.standard.operators.python.PythonOperator"
TRIGGER_OPERATOR = "airflow.providers.standard.operators.trigger_dagrun.TriggerDagRunOperator"


class HishamOSDefinitionError(WorkflowConfigError):
    """A HishamOS definition that cannot become a DAG (every issue with file, line, step, field)."""


# --- detection and schema ----------------------------------------------------------------------


def is_hishamos_definition(data: Any) -> bool:
    """HishamOS's format: a ``name`` and a ``steps`` list, and no ``dag_id`` (the provider's key)."""
    return isinstance(data, dict) and "dag_id" not in data and "name" in data and isinstance(data.get("steps"), list)


@lru_cache(maxsize=1)
def hishamos_schema() -> dict:
    """HishamOS's workflow JSON Schema (draft-07), as vendored from ``../shared``."""
    return json.loads(resources.files(__package__).joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _fast_hishamos_check():
    """HishamOS's schema compiled by jsonschema-rs: the yes/no the provider's own format gets
    (draft-07 and 2020-12 read this schema alike: ``definitions`` refs, object ``items``)."""
    return _rust_check(hishamos_schema())


@lru_cache(maxsize=1)
def _hishamos_validator():
    from jsonschema import Draft7Validator

    return Draft7Validator(hishamos_schema())


_ID = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "maxLength": 200}
_FLOW = {
    "id": _ID,
    "name": {"type": "string"},
    "depends_on": {"type": "array", "items": {"type": "string"}},
    "on_success": {"type": "string"},
    "on_failure": {"type": "string"},
    "condition": {"type": "string"},
    "skip_if": {"type": "string"},
    "max_retries": {"type": "integer", "minimum": 0, "maximum": 10},
    "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 3600},
    "parallel": {"type": "boolean"},
    "parallel_group": {"type": "string"},
    "branch_group": {"type": "string"},
    "merge_after": {"type": "string"},
}
#: a step of one of the provider's step types inside a HishamOS definition
PROVIDER_STEP_SCHEMA = {
    "type": "object",
    "required": ["id", "type"],
    "additionalProperties": False,
    "properties": {**_FLOW, "type": {"type": "string"}, "config": {"type": "object"}},
}
#: what this provider reads besides HishamOS's fields (HishamOS's metadata is open)
EXTENSIONS_SCHEMA = {
    "type": "object",
    "properties": {
        "airflow_dag_id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$", "maxLength": 250},
        "agents": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
        "max_rework": {"type": "integer", "minimum": 0, "maximum": MAX_REWORK_LIMIT},
        "retry_delay_seconds": {"type": "number", "minimum": 0, "maximum": 3600},
        "hishamos_conn_id": {"type": "string", "minLength": 1},
        "max_cost": {"type": "number", "exclusiveMinimum": 0},
        "max_tokens": {"type": "integer", "minimum": 1},
        "params": {"type": "object", "additionalProperties": {"type": "object"}},
    },
}
_VALIDATORS: dict[str, Any] = {}


def _validator(name: str, schema: dict):
    if name not in _VALIDATORS:
        from jsonschema import Draft202012Validator

        _VALIDATORS[name] = Draft202012Validator(schema)
    return _VALIDATORS[name]


def slugify(name: str) -> str:
    """``"Bug Lifecycle"`` -> ``bug_lifecycle`` (a DAG id)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:250] or "hishamos_workflow"


# --- references --------------------------------------------------------------------------------

_REF = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_INPUT = re.compile(rf"^(?:input|params)((?:\.{_NAME})+)$")
_STEP = re.compile(rf"^steps\.([a-z][a-z0-9_]*)\.(output|error)((?:\.{_NAME})*)$")
_BRACES = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")


@dataclass
class _Step:
    index: int
    data: dict
    id: str
    kind: str  # agent | provider | loop | sub_workflow
    success: list[str] = field(default_factory=list)  # success upstreams (step ids)
    failure: list[str] = field(default_factory=list)  # steps this one handles
    merge: bool = False

    @property
    def path(self) -> tuple:
        return ("steps", self.index)


def _literal(text: str) -> str:
    """``text`` as a Jinja string constant (rendered back to the same text), with no brace, quote
    or backslash of its own: Jinja unescapes ``\\uXXXX`` in string literals."""
    out = []
    for char in text:
        if char in "{}%#'\\" or not char.isprintable():
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
        else:
            out.append(char)
    return "'" + "".join(out) + "'"


def _text(text: str) -> str:
    """Text that Airflow renders back to itself (a template field never sees definition text)."""
    return "{{ " + _literal(text) + " }}" if _BRACES.search(text) else text


_CONDITION_NODES = (
    "Template", "Output", "Compare", "Operand", "And", "Or", "Not", "Neg", "Pos", "Const",
    "Name", "Getattr", "Getitem", "List", "Tuple", "Add", "Sub", "Mul", "Div", "FloorDiv", "Mod", "CondExpr",
)


def _plain_condition(expression: str) -> None:
    """Conditions are comparisons and boolean logic over references and literals: no calls,
    filters, tests or private attributes (the sandbox would refuse them late; refuse them early)."""
    from jinja2 import nodes

    def walk(node) -> None:
        name = type(node).__name__
        if name not in _CONDITION_NODES:
            raise ExpressionError(f"conditions may compare references and literals with and/or/not; {name.lower()} is not allowed")
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            raise ExpressionError(f"conditions may not read the private attribute '{node.attr}'")
        if isinstance(node, nodes.Getitem) and not (isinstance(node.arg, nodes.Const) and not str(node.arg.value).startswith("_")):
            raise ExpressionError("conditions may index only with a literal key")
        for child in node.iter_child_nodes():
            walk(child)

    walk(_env().parse("{{ (" + expression + "\n) }}"))


def _provider_loop_steps(steps: Any) -> list[tuple[int, int]]:
    """(step index, body index) of every provider step (one with ``type``) in a loop's body."""
    found = []
    for i, step in enumerate(steps if isinstance(steps, list) else []):
        body = step.get("loop", {}).get("steps") if isinstance(step, dict) and isinstance(step.get("loop"), dict) else None
        for j, sub in enumerate(body if isinstance(body, list) else []):
            if isinstance(sub, dict) and "type" in sub:
                found.append((i, j))
    return found


def _loop_view(step: Any, provider_bodies: list[int]) -> Any:
    """``step`` as HishamOS's schema should judge it: its provider body steps stood in for."""
    if not provider_bodies:
        return step
    body = [{"id": "x", "agent": "x"} if j in provider_bodies else s for j, s in enumerate(step["loop"]["steps"])]
    return {**step, "loop": {**step["loop"], "steps": body}}


class _Translator:
    """A HishamOS definition -> the provider's plan."""

    def __init__(self, source: ConfigSource, registry: StepTypeRegistry):
        self.source = source
        self.registry = registry
        self.issues: list[ConfigIssue] = []
        self.steps: dict[str, _Step] = {}
        self.tasks: dict[str, TaskPlan] = {}
        self.params: dict[str, dict] = {}
        self.where: dict[str, str] = {}  # task id -> step id it stands for (copies, gates)
        self.copy_of: dict[str, tuple[str, int]] = {}  # copy task id -> (step id, attempt)
        self.join_of: dict[str, str] = {}  # step id in a rework segment -> its join task id
        self.segment_of: dict[str, int] = {}
        self.field_base: dict[str, dict] = {}  # task id -> config key -> where it is in the file

    # --- reporting ---
    def issue(self, path: tuple, message: str, step: str | None = None) -> None:
        self.issues.append(ConfigIssue(self.source.name, message, dotted(path), step, self.source.line_of(path)))

    def fail(self) -> None:
        if self.issues:
            raise HishamOSDefinitionError(self.issues)

    # --- validation ---
    def check_schema(self) -> None:
        data = self.source.data
        steps = data.get("steps")
        provider = {i for i, s in enumerate(steps) if isinstance(s, dict) and "type" in s} if isinstance(steps, list) else set()
        in_loops = _provider_loop_steps(steps)  # (step index, body index) of provider steps in loops
        hishamos_view = {k: v for k, v in data.items() if k != "agents"}  # top-level agents: ours
        if provider or in_loops:  # judged by the provider's step-type schema below
            hishamos_view["steps"] = [
                {"id": "x", "agent": "x"} if i in provider else _loop_view(s, [j for k, j in in_loops if k == i])
                for i, s in enumerate(steps)
            ]
        if _fast_valid(_fast_hishamos_check(), hishamos_view):
            hishamos_view = None  # jsonschema-rs found nothing: no need for the messages
        for error in [] if hishamos_view is None else sorted(_hishamos_validator().iter_errors(hishamos_view), key=lambda e: list(map(str, e.absolute_path))):
            where = tuple(error.absolute_path)
            if len(where) >= 2 and where[0] == "steps" and where[1] in provider:
                continue  # judged by the provider's step-type schema below
            self.issue(where, _schema_message(error), self._step_at(where))
        for index in sorted(provider):
            step = steps[index]
            for error in _validator("provider_step", PROVIDER_STEP_SCHEMA).iter_errors(step):
                self.issue(("steps", index) + tuple(error.absolute_path), _schema_message(error), step.get("id"))
        for index, sub in in_loops:
            body = steps[index]["loop"]["steps"][sub]
            for error in _validator("provider_step", PROVIDER_STEP_SCHEMA).iter_errors(body):
                where = ("steps", index, "loop", "steps", sub) + tuple(error.absolute_path)
                self.issue(where, _schema_message(error), steps[index].get("id"))
        if "agents" in data:
            self.check_extension(("agents",), data["agents"], EXTENSIONS_SCHEMA["properties"]["agents"])
        if isinstance(data.get("metadata"), dict):
            self.check_extension(("metadata",), data["metadata"], EXTENSIONS_SCHEMA)
        self.fail()

    def check_extension(self, path: tuple, value: Any, schema: dict) -> None:
        for error in _validator(dotted(path), schema).iter_errors(value):
            self.issue(path + tuple(error.absolute_path), _schema_message(error))

    def _step_at(self, path: tuple) -> str | None:
        if len(path) >= 2 and path[0] == "steps":
            steps = self.source.data.get("steps") or []
            if isinstance(path[1], int) and path[1] < len(steps) and isinstance(steps[path[1]], dict):
                ident = steps[path[1]].get("id")
                return ident if isinstance(ident, str) else None
        return None

    @property
    def metadata(self) -> dict:
        return self.source.data.get("metadata") or {}

    # --- the step graph ---
    def collect(self) -> None:
        if len(self.source.data["steps"]) > MAX_STEPS:
            self.issue(("steps",), f"{len(self.source.data['steps'])} steps; a definition may have at most {MAX_STEPS}")
            self.fail()
        for index, data in enumerate(self.source.data["steps"]):
            kind = "provider" if "type" in data else data.get("step_type", "agent")
            if kind == "merge":
                kind = "agent"
            step = _Step(index, data, data["id"], kind, merge=data.get("step_type") == "merge")
            if step.id in self.steps:
                first = self.source.line_of(self.steps[step.id].path)
                self.issue(step.path + ("id",), f"duplicate step id '{step.id}' (first defined at line {first})", step.id)
                continue
            self.steps[step.id] = step
        self.fail()
        groups: dict[str, list[str]] = {}
        for step in self.steps.values():
            if "branch_group" in step.data:
                groups.setdefault(step.data["branch_group"], []).append(step.id)
        self.branch_groups = groups
        for step in self.steps.values():
            for field_name in ("on_success", "on_failure"):
                target = step.data.get(field_name)
                if target is not None and target not in self.steps:
                    self.issue(step.path + (field_name,), f"{field_name} names unknown step '{target}'; known: {', '.join(self.steps)}", step.id)
            for i, dep in enumerate(step.data.get("depends_on", [])):
                if dep not in self.steps:
                    self.issue(step.path + ("depends_on", i), f"depends on unknown step '{dep}'", step.id)
                elif dep == step.id:
                    self.issue(step.path + ("depends_on", i), f"step '{dep}' cannot depend on itself", step.id)
            group = step.data.get("merge_after")
            if group is not None and group not in groups:
                self.issue(step.path + ("merge_after",), f"merge_after names unknown branch_group '{group}'; known: {', '.join(groups) or 'none'}", step.id)
        self.fail()

    def link(self) -> None:
        """Success edges, failure edges, the implicit order; then back edges become rework loops."""
        steps = list(self.steps.values())
        incoming: dict[str, int] = {s.id: 0 for s in steps}
        failure_edges: list[tuple[str, str]] = []
        success_edges: list[tuple[str, str, tuple]] = []
        for step in steps:
            for i, dep in enumerate(step.data.get("depends_on", [])):
                success_edges.append((dep, step.id, step.path + ("depends_on", i)))
            if "on_success" in step.data:
                success_edges.append((step.id, step.data["on_success"], step.path + ("on_success",)))
            if "on_failure" in step.data:
                failure_edges.append((step.id, step.data["on_failure"]))
            if "merge_after" in step.data:
                for member in self.branch_groups[step.data["merge_after"]]:
                    success_edges.append((member, step.id, step.path + ("merge_after",)))
                step.merge = True
        for _, target, _ in success_edges:
            incoming[target] += 1
        # list order decides the direction: an on_failure to a step listed earlier loops back
        order = {s.id: i for i, s in enumerate(steps)}
        for source, target in failure_edges:
            if order[target] > order[source]:
                incoming[target] += 1
        handlers = {target for source, target in failure_edges if order[target] > order[source]}
        # implicit order: an unlinked step follows the previous one (groups run side by side)
        previous: list[str] = []
        group_start: dict[str, list[str]] = {}
        group_members: dict[str, list[str]] = {}
        last_group: str | None = None
        for step in steps:
            group = step.data.get("branch_group") or (step.data.get("parallel_group") if step.data.get("parallel") else None)
            key = ("b:" + step.data["branch_group"]) if "branch_group" in step.data else (("p:" + group) if group else None)
            if incoming[step.id] == 0 and previous:
                ups = group_start.setdefault(key, previous) if key else previous
                for up in ups:
                    success_edges.append((up, step.id, step.path))
                if key and key.startswith("b:") and key == last_group:
                    pass
            if step.id in handlers and incoming[step.id] == sum(1 for f, t in failure_edges if t == step.id and order[t] > order[f]):
                continue  # a pure failure handler is off the main line
            if key:
                group_members.setdefault(key, []).append(step.id)
                previous = group_members[key] if key == last_group or len(group_members[key]) > 1 else [step.id]
                last_group = key
            else:
                previous = [step.id]
                last_group = None
        # plain success edges first (a cycle among them is an error), then failure edges (back
        # ones become rework loops), then the on_success of handlers (back ones loop too)
        back: list[tuple[str, str, str]] = []  # (source, target, how)
        later = [(u, d, p) for u, d, p in success_edges if u in handlers and order[d] < order[u] and p[-1] == "on_success"]
        for up, down, path in [e for e in success_edges if e not in later]:
            if up == down or self.reaches(down, up):
                self.issue(path, f"'{up}' -> '{down}' closes a dependency cycle", down)
            elif up not in self.steps[down].success:
                self.steps[down].success.append(up)
        for source, target in failure_edges:
            if order[target] <= order[source]:
                back.append((source, target, "failure"))
            elif source not in self.steps[target].failure:
                self.steps[target].failure.append(source)
        for up, down, path in later:
            if self.reaches(down, up):
                back.append((up, down, "success"))
            elif up not in self.steps[down].success:
                self.steps[down].success.append(up)
        self.fail()
        self.back_edges = back

    def reaches(self, start: str, goal: str, failures: bool = True) -> bool:
        """``goal`` runs after ``start`` through success (and, with ``failures``, failure) edges."""
        seen, todo = set(), [goal]
        while todo:
            node = todo.pop()
            if node == start:
                return True
            if node not in seen:
                seen.add(node)
                step = self.steps[node]
                todo.extend(step.success + step.failure if failures else step.success)
        return False

    def success_reaches(self, start: str, goal: str) -> bool:
        return self.reaches(start, goal, failures=False)

    def ancestors_of(self, step: str) -> set[str]:
        """Steps that run before ``step`` through success edges."""
        seen, todo = set(), list(self.steps[step].success)
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(self.steps[node].success)
        return seen

    def descendants(self, step: str) -> set[str]:
        """Steps that run after ``step`` through success edges."""
        if not hasattr(self, "_downstream"):
            self._downstream: dict[str, list[str]] = {s: [] for s in self.steps}
            for node in self.steps.values():
                for up in node.success:
                    self._downstream[up].append(node.id)
        seen, todo = set(), list(self._downstream[step])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(self._downstream[node])
        return seen

    def segments(self) -> list[tuple[list[str], set[str]]]:
        """Rework segments (steps in definition order, the steps whose failure restarts them)."""
        found: list[tuple[set[str], set[str]]] = []
        for source, target, how in self.back_edges:
            sources = {source}
            if how == "success":  # a handler's way back: the failure of what it handles restarts
                sources = {s for s in self.steps[source].failure if target == s or self.success_reaches(target, s)}
                if not sources:
                    self.issue(self.steps[source].path + ("on_success",), f"on_success '{target}' points back, but '{source}' handles no step that runs after '{target}'", source)
                    continue
            for end in sources:
                if end != target and not self.success_reaches(target, end):
                    self.issue(self.steps[end].path + ("on_failure",), f"on_failure '{target}' points back through a failure handler; a rework must follow success edges", end)
                    continue
                nodes = {target, end} | (self.descendants(target) & self.ancestors_of(end))
                found.append((nodes, {end}))
        merged: list[tuple[set[str], set[str]]] = []
        for nodes, sources in found:
            for other in [m for m in merged if m[0] & nodes]:
                merged.remove(other)
                nodes, sources = nodes | other[0], sources | other[1]
            merged.append((nodes, sources))
        self.fail()
        order = list(self.steps)
        return [(sorted(nodes, key=order.index), sources) for nodes, sources in merged]

    # --- tasks ---
    def compile(self) -> WorkflowPlan:
        self.check_schema()
        self.collect()
        self.link()
        max_rework = self.metadata.get("max_rework", DEFAULT_MAX_REWORK)
        segments = self.segments()
        agents = [s for s in self.steps.values() if s.kind in ("agent", "loop") and "agent" in s.data]
        if agents:
            self.reserve(RESOLVE_TASK)
            self.tasks[RESOLVE_TASK] = TaskPlan(
                RESOLVE_TASK, (), "step", "hishamos_resolve_agents",
                {"agents": sorted({s.data["agent"] for s in agents}), "mapping": self.agent_mapping(), "hishamos_conn_id": self.conn_id()},
                {"doc_md": "Resolves every agent of the definition before any agent runs."},
            )
        in_segment = {n: i for i, (nodes, _) in enumerate(segments) for n in nodes}
        self.segment_of = in_segment
        for i, (nodes, _) in enumerate(segments):
            join = f"{nodes[-1]}__reworked"
            for n in nodes:
                self.join_of[n] = join
        # original steps, in definition order (upstreams refer to earlier or later tasks by id)
        for step in self.steps.values():
            self.add_step(step, attempt=0)
        for i, (nodes, sources) in enumerate(segments):
            previous_sources = [n for n in self.steps if n in sources]  # definition order
            for attempt in range(1, max_rework + 1):
                for n in nodes:
                    self.add_step(self.steps[n], attempt, nodes=set(nodes), restart_after=[self.task_name(s, attempt - 1) for s in previous_sources])
            sinks = [n for n in nodes if not any(n in self.steps[m].success for m in nodes)]
            if len(sinks) != 1:
                self.issue(self.steps[nodes[0]].path, f"the rework segment {', '.join(nodes)} has {len(sinks)} ends ({', '.join(sinks)}); a segment must end in one step", nodes[0])
                continue
            join = self.join_of[nodes[0]]
            self.reserve(join)
            attempts = [{n: "{{ steps.%s.output }}" % self.task_name(n, a) for n in nodes} for a in range(max_rework + 1)]
            self.tasks[join] = TaskPlan(
                join, self.steps[sinks[0]].path, "step", "hishamos_rework_join",
                {"sink": sinks[0], "attempts": attempts},
                {"doc_md": f"The outputs of the attempt of {', '.join(nodes)} that succeeded (at most {max_rework} reworks)."},
                [self.task_name(sinks[0], a) for a in range(max_rework + 1)], "one_success",
            )
        self.fail()
        self.redirect_to_joins(segments)
        if any(s.failure for s in self.steps.values()):
            self.add_failure_check(in_segment)
        self.fail()
        self.finish_templates()
        self.fail()
        return WorkflowPlan(self.source, self.dag_settings(), self.params, self.tasks, {})

    def reserve(self, task_id: str) -> None:
        if task_id in self.steps or task_id in self.tasks:
            self.issue((), f"task id '{task_id}' is generated by the provider and also used by a step; rename the step", task_id)

    def task_name(self, step_id: str, attempt: int) -> str:
        return step_id if attempt == 0 else f"{step_id}__rework_{attempt}"

    def agent_mapping(self) -> dict:
        return {**self.metadata.get("agents", {}), **(self.source.data.get("agents") or {})}

    def conn_id(self) -> str:
        return self.metadata.get("hishamos_conn_id", "hishamos_default")

    def add_step(self, step: _Step, attempt: int, nodes: set[str] | None = None, restart_after: list[str] | None = None) -> None:
        task_id = self.task_name(step.id, attempt)
        if attempt:
            self.reserve(task_id)
        nodes = nodes or set()
        if attempt and not any(up in nodes for up in step.success):
            upstream, rule = list(restart_after or []), "one_failed"  # the head: the attempt before failed
        else:
            upstream = [self.task_name(up, attempt if up in nodes else 0) for up in step.success]
            rule = "none_failed" if step.merge else None
            if step.failure and not attempt:
                upstream += [self.task_name(up, 0) for up in step.failure]
                rule = "one_failed"
        if not upstream and RESOLVE_TASK in self.tasks:
            upstream = [RESOLVE_TASK]
        gate = self.gate(step, attempt, task_id, upstream, rule)
        if gate:
            upstream, rule = [gate], None
        self.where[task_id] = step.id
        self.copy_of[task_id] = (step.id, attempt)
        options = self.options(step)
        if step.kind == "loop":
            self.add_loop(step, task_id, upstream, rule, options)
            return
        step_type, config = self.step_config(step, task_id)
        if step_type is None:
            return
        self.tasks[task_id] = TaskPlan(task_id, step.path, "step", step_type, config, options, upstream, rule)

    def options(self, step: _Step) -> dict:
        options = {
            "retries": step.data.get("max_retries", DEFAULT_RETRIES),
            "retry_delay_seconds": self.metadata.get("retry_delay_seconds", DEFAULT_RETRY_DELAY),
            "execution_timeout_seconds": step.data.get("timeout_seconds", DEFAULT_TIMEOUT),
        }
        doc = step.data.get("name")
        if doc:
            options["doc_md"] = doc
        return options

    def provider_config(self, data: dict, path: tuple, step_id: str, task_id: str,
                        loop_names: dict | None = None) -> tuple[str | None, dict]:
        """A step of one of the provider's types (``type`` + ``config``) at ``path``."""
        try:
            step_type = self.registry.get_public(data["type"])
        except UnknownStepTypeError as exc:
            self.issue(path + ("type",), str(exc), step_id)
            return None, {}
        config = data.get("config", {})
        for error in _config_validator(step_type.config_schema).iter_errors(config):
            self.issue(path + ("config",) + tuple(error.absolute_path), _schema_message(error), step_id)
        self.field_base[task_id] = {k: path + ("config", k) for k in config}
        return data["type"], self.refs(config, path + ("config",), task_id, loop_names)

    def step_config(self, step: _Step, task_id: str) -> tuple[str | None, dict]:
        data = step.data
        if step.kind == "provider":
            return self.provider_config(data, step.path, step.id, task_id)
        if step.kind == "sub_workflow":
            sub = data.get("sub_workflow")
            if not isinstance(sub, dict):
                self.issue(step.path + ("sub_workflow",), "a sub_workflow step needs sub_workflow.workflow_id", step.id)
                return None, {}
            if sub.get("output_mapping"):
                self.issue(step.path + ("sub_workflow", "output_mapping"), "output_mapping is not supported: the triggered DAG's results stay in its own run", step.id)
            conf = self.refs(sub.get("input_mapping", {}), step.path + ("sub_workflow", "input_mapping"), task_id)
            if isinstance(conf, dict) and DRY_RUN_PARAM not in conf:  # a dry parent triggers a dry child
                self.param(DRY_RUN_PARAM, "boolean")
                conf = {**conf, DRY_RUN_PARAM: "{{ params.%s }}" % DRY_RUN_PARAM}
            self.field_base[task_id] = {"conf": step.path + ("sub_workflow", "input_mapping")}
            return "hishamos_sub_workflow", {"trigger_dag_id": slugify(sub["workflow_id"]), "conf": conf, "timeout": data.get("timeout_seconds", DEFAULT_TIMEOUT)}
        return self.agent_config(step, task_id, data.get("inputs", {}), step.path + ("inputs",))

    def agent_config(self, step: _Step, task_id: str, inputs: dict, path: tuple, extra: dict | None = None) -> tuple[str | None, dict]:
        try:
            step_type = self.registry.get(AGENT_STEP_TYPE)
        except UnknownStepTypeError as exc:
            self.issue(step.path + ("agent",), str(exc), step.id)
            return None, {}
        self.field_base[task_id] = {"inputs": path}
        # the agent as the first task resolved it: a task whose resolver failed fails rendering,
        # so no agent runs (handlers and rework heads would otherwise run on upstream_failed); by
        # id, which no run's conf mapping can redirect again (the operator maps references only)
        agent_ref = "{{ steps.%s.output[%s].id }}" % (RESOLVE_TASK, _literal(step.data["agent"]))
        config = {
            "agent": agent_ref,
            "inputs": self.refs(inputs, path, task_id, extra),
            "hishamos_conn_id": self.conn_id(),
        }
        if self.agent_mapping():
            config["agents"] = self.agent_mapping()
        for key in ("max_cost", "max_tokens"):
            if key in self.metadata:
                config[key] = self.metadata[key]
        return AGENT_STEP_TYPE, config

    def gate(self, step: _Step, attempt: int, task_id: str, upstream: list[str], rule: str | None) -> str | None:
        data = step.data
        group = data.get("branch_group")
        earlier = []
        if group:
            members = self.branch_groups[group]
            earlier = [self.steps[m].data.get("condition") for m in members[: members.index(step.id)]]
            earlier = [c for c in earlier if c]
        if not (data.get("condition") or data.get("skip_if") or earlier):
            return None
        gate = f"{task_id}__condition"
        self.reserve(gate)
        config = {"step": step.id, "checks": []}
        for name, negate in (("condition", False), ("skip_if", True)):
            if data.get(name):
                config["checks"].append({"field": name, "expression": self.condition(data[name], step, name), "skip_when": negate, "text": _text(data[name])})
        for text in earlier:
            config["checks"].append({"field": "branch_group", "expression": self.condition(text, step, "branch_group"), "skip_when": True, "text": _text(f"an earlier branch of '{group}' was taken ({text})")})
        self.tasks[gate] = TaskPlan(gate, step.path, "step", "hishamos_condition", config, {"doc_md": f"Checks the condition of '{step.id}'."}, list(upstream), rule)
        self.where[gate] = step.id
        self.copy_of[gate] = (step.id, attempt)
        return gate

    def condition(self, text: str, step: _Step, field_name: str) -> dict:
        """A HishamOS condition -> a sandboxed Jinja expression over ``params`` and ``steps``."""
        path = step.path + (field_name if field_name != "branch_group" else "condition",)
        names: list[str] = []

        def ref(match: re.Match) -> str:
            names.append(match.group(1))
            return f" {match.group(1).replace('input.', 'params.', 1) if match.group(1).startswith('input.') else match.group(1)} "

        expression = _REF.sub(ref, text)
        expression = re.sub(r"&&", " and ", re.sub(r"\|\|", " or ", expression))
        expression = re.sub(r"!(?!=)", " not ", expression)
        if _BRACES.search(expression):
            self.issue(path, "a condition may only use {{input.<name>}} and {{steps.<id>.output[.<key>]}} references", step.id)
            return {}
        try:
            refs = condition_references(expression)
            _plain_condition(expression)
        except ExpressionError as exc:
            self.issue(path, str(exc), step.id)
            return {}
        values: dict = {"params": {}, "steps": {}}
        for r in refs:
            if r.kind == "params":
                self.param(r.name, "")
                values["params"][r.name] = "{{ params.%s }}" % r.name
            elif r.name not in self.steps:
                self.issue(path, f"refers to unknown step '{r.name}'", step.id)
            else:
                values["steps"][r.name] = {"output": "@@step:" + r.name}
        for name in names:
            match = _INPUT.match(name)
            if match and "." in match.group(1)[1:]:
                self.param(match.group(1)[1:].split(".")[0], "object")
        return {"expression": expression, "values": values}

    def add_loop(self, step: _Step, task_id: str, upstream: list[str], rule: str | None, options: dict) -> None:
        loop = step.data.get("loop") or {}
        path = step.path + ("loop",)
        if loop.get("type") != "for" or not isinstance(loop.get("over"), str):
            self.issue(path + ("type",), "only 'for' loops over a list ('over') can become mapped tasks; a 'while' loop has no bounded list to map over", step.id)
            return
        variable = loop.get("variable", "item")
        if not re.fullmatch(_NAME, variable):
            self.issue(path + ("variable",), f"'{variable}' is not a name", step.id)
            return
        items = f"{task_id}__items"
        self.reserve(items)
        over = self.refs(loop["over"], path + ("over",), task_id)
        self.tasks[items] = TaskPlan(
            items, step.path, "step", "hishamos_loop_items",
            {"items": over, "max_iterations": loop.get("max_iterations", 100), "step": step.id},
            {"doc_md": f"The list '{step.id}' iterates over."}, list(upstream), rule,
        )
        body = loop.get("steps") or [{"id": f"{step.id}__each", "agent": step.data.get("agent"), "inputs": step.data.get("inputs", {})}]
        item_expr = "ti.xcom_pull(task_ids='%s', key='items')[ti.map_index]" % items
        previous = items
        names = {variable: item_expr, "loop." + variable: item_expr, "loop.index": "ti.map_index"}
        for index, sub in enumerate(body):
            if not isinstance(sub, dict) or not (sub.get("agent") or sub.get("type")):
                self.issue(path + ("steps", index), "a loop body step needs an agent, or a type and its config", step.id)
                return
            sub_id = sub.get("id") or f"{step.id}__each"
            self.reserve(sub_id)
            if sub.get("type"):  # a provider step mapped over the list (e.g. one story per item)
                kind, config = self.provider_config(sub, path + ("steps", index), step.id, sub_id, names)
            else:
                sub_step = _Step(step.index, sub, sub_id, "agent")
                sub_path = path + ("steps", index, "inputs") if loop.get("steps") else step.path + ("inputs",)
                kind, config = self.agent_config(sub_step, sub_id, sub.get("inputs", {}), sub_path, names)
            if kind is None:
                return
            sub_options = {k: v for k, v in options.items() if k != "doc_md"}
            sub_options["expand_over"] = items
            self.tasks[sub_id] = TaskPlan(sub_id, step.path, "step", kind, config, sub_options, [previous])
            self.where[sub_id] = sub_id
            self.loop_body = getattr(self, "loop_body", {})
            self.loop_body[sub_id] = items
            previous = sub_id
        self.tasks[task_id] = TaskPlan(
            task_id, step.path, "step", "hishamos_loop_collect", {"results": "{{ steps.%s.output }}" % previous},
            {"doc_md": options.get("doc_md", f"The results of loop '{step.id}'.")}, [previous],
        )

    # --- params and references ---
    def param(self, name: str, kind: str) -> None:
        declared = self.metadata.get("params", {})
        if name in declared:
            self.params[name] = declared[name]
        elif kind == "object":
            self.params[name] = {"type": "object", "title": name}
        else:
            # a reference to the dry-run switch reads the boolean every workflow DAG has
            self.params.setdefault(name, dry_run_param_spec() if name == DRY_RUN_PARAM else {"type": "string", "title": name})

    def refs(self, value: Any, path: tuple, task_id: str, loop_names: dict | None = None) -> Any:
        """Translate HishamOS references in ``value`` (strings inside dicts and lists)."""
        if isinstance(value, dict):
            return {k: self.refs(v, path + (k,), task_id, loop_names) for k, v in value.items()}
        if isinstance(value, list):
            return [self.refs(v, path + (i,), task_id, loop_names) for i, v in enumerate(value)]
        if not isinstance(value, str) or not _BRACES.search(value):
            return value
        parts: list[str] = []
        pos = 0
        whole = _REF.fullmatch(value.strip()) is not None
        for match in _REF.finditer(value):
            if match.start() > pos:
                parts.append(_literal(value[pos:match.start()]))
            parts.append(self.ref(match.group(1), match.group(0), path, task_id, loop_names or {}))
            pos = match.end()
        if pos < len(value):
            parts.append(_literal(value[pos:]))
        if whole and len(parts) == 1:
            return "{{ " + parts[0] + " }}"
        return "".join("{{ (" + p + ") | string }}" if not p.startswith("'") else "{{ " + p + " }}" for p in parts)

    def ref(self, path_text: str, original: str, path: tuple, task_id: str, loop_names: dict) -> str:
        fallback = _literal(original)
        if path_text in loop_names:
            return f"({loop_names[path_text]})"
        head, _, rest = path_text.partition(".")
        if rest and head in loop_names and re.fullmatch(rf"{_NAME}(?:\.{_NAME})*", rest):  # {{item.title}}
            keys = "".join(f"[{_literal(k)}]" for k in rest.split("."))
            return f"(({loop_names[head]}){keys} | default({fallback}))"
        match = _INPUT.match(path_text)
        if match:
            keys = match.group(1)[1:].split(".")
            self.param(keys[0], "object" if len(keys) > 1 else "")
            return f"(params.{'.'.join(keys)} | default({fallback}))"
        if path_text == "steps":
            return "@@all_steps"
        match = _STEP.match(path_text)
        if match:
            step, what, keys = match.group(1), match.group(2), match.group(3)
            if step not in self.steps and step not in getattr(self, "loop_body", {}):
                self.issue(path, f"refers to unknown step '{step}'", self.where.get(task_id, task_id))
                return fallback
            if what == "error":
                return _literal(f"step '{step}' failed; its error is in the log of task '{step}'")
            return "@@step:" + step + keys + "|" + fallback
        return fallback  # not a HishamOS reference: literal text, as HishamOS leaves it

    # --- after every task exists ---
    def redirect_to_joins(self, segments) -> None:
        """Steps after a rework segment follow its join instead of the segment's steps."""
        for task in list(self.tasks.values()):
            if task.task_id in self.join_of.values():
                continue
            me = self.copy_of.get(task.task_id, (task.task_id, 0))
            new = []
            for up in task.upstream:
                step, attempt = self.copy_of.get(up, (up, 0))
                join = self.join_of.get(step)
                outside = self.segment_of.get(me[0]) != self.segment_of.get(step)
                if join and outside and task.trigger_rule != "one_failed" and join in self.tasks:
                    up = join
                if up not in new:
                    new.append(up)
            task.upstream = new

    def add_failure_check(self, in_segment: dict) -> None:
        upstream = [t for t, (step, attempt) in self.copy_of.items() if step not in in_segment and not t.endswith("__condition")]
        upstream += [j for j in set(self.join_of.values()) if j in self.tasks]
        self.reserve(FAIL_TASK)
        self.tasks[FAIL_TASK] = TaskPlan(
            FAIL_TASK, (), "step", "hishamos_fail_run", {},
            {"doc_md": "Fails the run when a step failed, even if its on_failure handler ran."},
            sorted(set(upstream)), "one_failed",
        )

    def finish_templates(self) -> None:
        """Resolve ``@@step:`` placeholders to the attempt of each step that runs before the task."""
        ancestors = task_ancestors(self.tasks)
        for task in self.tasks.values():
            task.config = self.resolve(task.config, task, ancestors.get(task.task_id, set()), ())

    def source_of(self, step: str, task: TaskPlan, before: set[str]) -> str | None:
        """The task whose output is ``step``'s output for ``task``, or None when none runs before."""
        me = self.copy_of.get(task.task_id)
        join = self.join_of.get(step)
        if me and me[1] and self.segment_of.get(step) == self.segment_of.get(me[0]) and step in self.segment_of:
            candidate = self.task_name(step, me[1])
            if candidate in before:
                return candidate
        if join and join in before:
            return join + ".output." + step
        if step in before:
            return step
        return None

    def field_path(self, task: TaskPlan, keys: tuple) -> tuple:
        if task.step_type == "hishamos_condition":
            return task.path + ("condition",)
        base = self.field_base.get(task.task_id, {}).get(keys[0]) if keys else None
        return base + keys[1:] if base else task.path

    def resolve(self, value: Any, task: TaskPlan, before: set[str], keys: tuple) -> Any:
        if isinstance(value, dict):
            return {k: self.resolve(v, task, before, keys + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, task, before, keys + (i,)) for i, v in enumerate(value)]
        if not isinstance(value, str) or "@@" not in value:
            return value
        if value.startswith("@@step:") and "|" not in value:  # a condition's value
            found = self.source_of(value[7:], task, before)
            if found is None:
                self.issue(self.field_path(task, keys), f"the condition refers to step '{value[7:]}', which does not run before this step", self.where.get(task.task_id))
                return None
            return "{{ steps.%s }}" % (found if ".output." in found else found + ".output")

        where = keys

        def step_ref(match: re.Match) -> str:
            step, keys, fallback = match.group(1), match.group(2), match.group(3)
            found = self.source_of(step, task, before)
            if found is None:
                self.issue(self.field_path(task, where), f"refers to step '{step}', which does not run before this step (add it to depends_on)", self.where.get(task.task_id))
                return fallback
            inner = self.loop_body.get(step) if hasattr(self, "loop_body") else None
            if inner and self.loop_body.get(task.task_id) == inner:  # the same iteration
                expr = "ti.xcom_pull(task_ids='%s', map_indexes=ti.map_index)" % step
                return f"({expr}{''.join(f'[{k!r}]' for k in keys.split('.')[1:])} | default({fallback}))"
            base = found if ".output." in found else found + ".output"
            return f"(steps.{base}{keys} | default({fallback}))"

        value = re.sub(r"@@step:([a-z][a-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\|('(?:[^'\\]|\\.)*')", step_ref, value)
        if "@@all_steps" in value:
            visible = [s for s in self.steps if self.source_of(s, task, before)]
            mapping = ", ".join(f"'{s}': {{'output': steps.{self.out(s, task, before)}}}" for s in visible)
            value = value.replace("@@all_steps", "{" + mapping + "}")
        return value

    def out(self, step: str, task: TaskPlan, before: set[str]) -> str:
        found = self.source_of(step, task, before)
        return found if ".output." in found else found + ".output"

    def dag_settings(self) -> dict:
        data = self.source.data
        tags = ["hishamos"] + [t for t in self.metadata.get("tags", []) if isinstance(t, str) and t]
        doc = f"HishamOS workflow **{data['name']}** {data.get('version', '')}\n\n{data.get('description', '')}"
        return {
            "dag_id": self.metadata.get("airflow_dag_id") or slugify(data["name"]),
            "description": data.get("description"),
            "schedule": None,
            "tags": list(dict.fromkeys(tags)),
            "doc_md": doc,
        }


def compile_hishamos(source: ConfigSource, registry: StepTypeRegistry | None = None) -> WorkflowPlan:
    """Validate a HishamOS definition and return the plan of its DAG (HishamOSDefinitionError
    lists every issue with file, line, step and field)."""
    registry = registry or default_registry
    register_internal_step_types(registry)
    plan = _Translator(source, registry).compile()
    _check_params(source, plan.params)
    _check_templates(source, plan)
    return plan


def _check_params(source: ConfigSource, params: dict) -> None:
    """``metadata.params`` through the provider's own param checks."""
    checker = _Compiler(source, default_registry)
    checker.check_params(params, False)
    if checker.issues:
        raise HishamOSDefinitionError(
            [ConfigIssue(i.file, i.message, "metadata." + i.field, i.step, source.line_of(("metadata",) + tuple(i.field.split(".")))) for i in checker.issues]
        )


def _check_templates(source: ConfigSource, plan: WorkflowPlan) -> None:
    """Every generated template parses and names only params and steps (a guard on this module's
    output, which is also what keeps definition text away from anything else)."""
    issues = []
    for task in plan.tasks.values():
        for value in _strings(task.config):
            if "{{" in value and "ti.xcom_pull" not in value:
                error = _template_error(_shape(value))
                if error:
                    issues.append(ConfigIssue(source.name, error, dotted(task.path), task.task_id, source.line_of(task.path)))
    if issues:
        raise HishamOSDefinitionError(issues)


_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'")
_NAMES = re.compile(r"\b(steps|params)\.[A-Za-z_][A-Za-z0-9_]*")
_ENTRY = r"'': \{'': steps\.x\.output(?:\.[A-Za-z0-9_]+)?\}"
_ALL_STEPS = re.compile(r"\{" + _ENTRY + r"(?:, " + _ENTRY + r")*\}")


def _shape(template: str) -> str:
    """``template`` with its string constants emptied and its step/param names made one: the
    same parse and the same verdict, so the check runs once per shape, not once per string."""
    shape = _NAMES.sub(r"\1.x", _LITERAL.sub("''", template))
    return _ALL_STEPS.sub("{'': {'': steps.x.output}}", shape)  # {{steps}}: one entry a step


@lru_cache(maxsize=1024)
def _template_error(shape: str) -> str | None:
    try:
        template_references(shape)
    except ExpressionError as exc:
        return str(exc)
    return None


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def compile_source(source: ConfigSource, registry: StepTypeRegistry | None = None) -> WorkflowPlan:
    """Either format: a HishamOS definition or the provider's own config."""
    if is_hishamos_definition(source.data):
        return compile_hishamos(source, registry)
    from airflow_provider_hisham.workflow.plan import compile_workflow

    return compile_workflow(source, registry)


# --- run time: the callables of the tasks this module adds (plain Python; Airflow imported lazily) --


def _skip(message: str) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    log.info("%s", message)
    raise AirflowSkipException(message)


def evaluate(expression: str, values: dict) -> tuple[bool | None, str]:
    """A condition's truth in Jinja's sandbox; (None, why) when it cannot be evaluated."""
    try:
        condition_references(expression)  # the names it may use, again: the plan is data too
        _plain_condition(expression)
        compiled = _env().compile_expression(expression, undefined_to_none=True)
        values = _as_substituted(values)
        return bool(compiled(params=values.get("params") or {}, steps=values.get("steps") or {})), ""
    except Exception as exc:  # a missing key, a type mismatch, a sandbox refusal: not true
        return None, f"{type(exc).__name__}: {exc}"


_SCALAR_TEXT = re.compile(r"-?\d{1,18}(\.\d{1,18})?|true|false|null")


def _as_substituted(value: Any) -> Any:
    """Strings that read as numbers, booleans or null become those values: HishamOS substitutes a
    reference's text into the condition before evaluating it, so "3" > 2 holds there too."""
    if isinstance(value, str):
        return json.loads(value) if _SCALAR_TEXT.fullmatch(value) else value
    if isinstance(value, dict):
        return {k: _as_substituted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_substituted(v) for v in value]
    return value


def check_conditions(step: str, checks: list[dict]) -> dict:
    """Gate callable: skip ``step`` (with the reason in the log) unless its checks pass."""
    for check in checks:
        result, error = evaluate(check["expression"]["expression"], check["expression"]["values"])
        if error:
            _skip(f"step '{step}' skipped: its {check['field']} {check['text']!r} could not be evaluated ({error}), so it counts as false")
        if check["skip_when"] and result:
            _skip(f"step '{step}' skipped: {check['field']} {check['text']!r} is true")
        if not check["skip_when"] and not result:
            _skip(f"step '{step}' skipped: {check['field']} {check['text']!r} is false")
        log.info("step '%s': %s %r -> %s", step, check["field"], check["text"], result)
    return {"step": step, "run": True}


def pick_attempt(sink: str, attempts: list[dict]) -> dict:
    """Rework join callable: the outputs of the attempt whose last step succeeded."""
    for number, outputs in enumerate(attempts):
        if outputs.get(sink) is not None:
            log.info("rework: attempt %d of the segment ending in '%s' succeeded", number, sink)
            return outputs
    raise RuntimeError(f"no attempt of the segment ending in '{sink}' succeeded")


def loop_items(step: str, items: Any, max_iterations: int, ti: Any = None) -> list[str]:
    """Loop callable: the list to map over (pushed as XCom ``items``), at most ``max_iterations``."""
    if isinstance(items, dict) or isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        raise TypeError(f"loop '{step}': 'over' must give a list, got {type(items).__name__}")
    items = list(items)
    if len(items) > max_iterations:
        log.warning("loop '%s': %d items, only the first %d (max_iterations) run", step, len(items), max_iterations)
        items = items[:max_iterations]
    if ti is not None:
        ti.xcom_push(key="items", value=items)
    return [f"{step} item {i + 1} of {len(items)}" for i in range(len(items))]


def collect(results: Any) -> list:
    """Loop collector: every iteration's result, as a list."""
    return list(results or [])


def fail_run() -> None:
    raise RuntimeError("a step of the workflow failed (its on_failure handler may have run); the run is failed")


def resolve_agents(agents: list[str], mapping: dict, hishamos_conn_id: str = "hishamos_default", dag_run: Any = None) -> dict:
    """First task of a definition: every agent it names resolved (``{reference: {"id", "name",
    "agent_id"}}``) before any agent runs, or one error naming each unresolved one. The run's
    ``dag_run.conf["agents"]`` maps what the definition's own mapping leaves open."""
    from airflow_provider_hisham.operators.agent import resolve_agents as resolve, run_mapping

    return resolve(agents, agents=mapping, hishamos_conn_id=hishamos_conn_id, conf_agents=run_mapping(dag_run))


def _internal(name: str, description: str, callable_: Any) -> StepType:
    """A PythonOperator task kind this module adds; its config is the callable's keyword args."""
    return StepType(
        name, PYTHON_OPERATOR, {"type": "object"}, description,
        lambda config: {"python_callable": callable_, "op_kwargs": dict(config)}, {"op_kwargs": "op_kwargs"}, internal=True,
    )


def _trigger_kwargs(config: dict) -> dict:
    return {
        "trigger_dag_id": config["trigger_dag_id"], "conf": config.get("conf") or {}, "wait_for_completion": True,
        "deferrable": True, "poke_interval": config.get("poke_interval", 5), "failed_states": ["failed"],
    }


INTERNAL_STEP_TYPES: tuple[StepType, ...] = (
    _internal("hishamos_condition", "Skips a step whose condition/skip_if/branch says so.", check_conditions),
    _internal("hishamos_rework_join", "The outputs of the rework attempt that succeeded.", pick_attempt),
    _internal("hishamos_loop_items", "The list a loop maps over.", loop_items),
    _internal("hishamos_loop_collect", "A loop's results as a list.", collect),
    _internal("hishamos_fail_run", "Fails a run whose step failed though a handler ran.", fail_run),
    _internal("hishamos_resolve_agents", "Resolves every agent of a definition first.", resolve_agents),
    StepType("hishamos_sub_workflow", TRIGGER_OPERATOR, {"type": "object"}, "Triggers another definition's DAG and waits.",
             _trigger_kwargs, internal=True),
)


def register_internal_step_types(registry: StepTypeRegistry) -> None:
    """The task kinds this module adds, in ``registry`` (so the builder and the plan cache know them)."""
    for step_type in INTERNAL_STEP_TYPES:
        try:
            registry.get(step_type.name)  # already there (tests may stand one in): keep it
        except UnknownStepTypeError:
            registry.register(step_type)
