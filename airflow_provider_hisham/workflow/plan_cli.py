"""``python -m airflow_provider_hisham.workflow.plan_cli CONFIG [--conf JSON]``: a workflow's plan
without Airflow (no database, no scheduler; Airflow is not even imported).

Loads a config (the provider's format or a HishamOS definition), validates it the way the DAG
factory does, checks the conf against the params (``dry_run`` included) and prints, as JSON, the
tasks in run order with their upstreams and step configs. Values that are a whole
``{{ params.x }}`` are shown with the param's value; every other template (step outputs, run
context) is shown as written: it renders only in a run. Nothing in the config is executed.

Exit status: 0 the plan was printed; 2 the config or the conf is invalid (the errors name the
file, step, field and line, or the param).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow_provider_hisham.dry_run import PARAM as DRY_RUN_PARAM, with_param as with_dry_run_param
from airflow_provider_hisham.workflow.errors import WorkflowConfigError
from airflow_provider_hisham.workflow.hishamos_definition import compile_source
from airflow_provider_hisham.workflow.plan import WorkflowPlan
from airflow_provider_hisham.workflow.source import decode, parse_text, read_bounded

#: Longest conf accepted on the command line (a conf is a handful of values).
MAX_CONF_BYTES = 1_000_000
_WHOLE_PARAM = re.compile(r"^\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
#: Schema keywords that describe a param for people, not its values.
_NOT_VALIDATION = ("default", "values_display", "title", "description", "section")


class PlanConfError(ValueError):
    """The conf is not a JSON object, or a value does not fit its param."""


def load_plan(path: Path) -> WorkflowPlan:
    """The validated plan of one config file (either format)."""
    name = str(path)
    source = parse_text(decode(read_bounded(path), name), name, fmt="json" if path.suffix.lower() == ".json" else "yaml")
    return compile_source(source)


def resolve_params(plan: WorkflowPlan, conf: dict[str, Any]) -> dict[str, Any]:
    """Each param's value for a run with ``conf``: the conf's, else its default, checked against
    its schema (what Airflow checks when the run is triggered)."""
    from jsonschema import Draft202012Validator

    values, problems = {}, []
    for name, spec in with_dry_run_param(plan.params).items():
        if name in conf:
            value = conf[name]
        elif "default" in spec:
            value = spec["default"]
        else:
            problems.append(f"param '{name}' has no default: the conf must set it")
            continue
        schema = {k: v for k, v in spec.items() if k not in _NOT_VALIDATION}
        for error in Draft202012Validator(schema).iter_errors(value):
            problems.append(f"param '{name}': {error.message[:300]}")
        values[name] = value
    if problems:
        raise PlanConfError("; ".join(problems))
    return values


def _shown(value: Any, params: dict[str, Any]) -> Any:
    """``value`` with whole ``{{ params.x }}`` values replaced by the param's value."""
    if isinstance(value, str):
        match = _WHOLE_PARAM.match(value.strip())
        return params[match.group(1)] if match and match.group(1) in params else value
    if isinstance(value, dict):
        return {k: _shown(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v, params) for v in value]
    return value


def _in_run_order(plan: WorkflowPlan) -> list[str]:
    """Task ids so that every task comes after its upstreams (config order among equals)."""
    order: list[str] = []
    done: set[str] = set()
    pending = list(plan.tasks)
    while pending:
        ready = [t for t in pending if all(u in done for u in plan.tasks[t].upstream)]
        if not ready:  # validation refuses cycles; never loop on one
            order += pending
            break
        for task_id in ready:
            order.append(task_id)
            done.add(task_id)
        pending = [t for t in pending if t not in done]
    return order


def describe(plan: WorkflowPlan, conf: dict[str, Any]) -> dict[str, Any]:
    """The plan as a JSON-ready dict."""
    params = resolve_params(plan, conf)
    tasks = []
    for task_id in _in_run_order(plan):
        task = plan.tasks[task_id]
        entry: dict[str, Any] = {"task_id": task_id, "type": task.step_type if task.kind == "step" else task.kind,
                                 "upstream": list(task.upstream)}
        if task.kind == "branch":
            entry["branches"] = [{"when": when, "heads": list(heads)} for when, heads in task.branches]
            entry["otherwise"], entry["join"] = list(task.otherwise), task.join
        else:
            entry["config"] = _shown(task.config, params)
        if task.trigger_rule:
            entry["trigger_rule"] = task.trigger_rule
        tasks.append(entry)
    return {"file": plan.name, "dag_id": plan.dag.get("dag_id"), "dry_run": params.get(DRY_RUN_PARAM) is True,
            "params": params, "tasks": tasks}


def _conf(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CONF_BYTES:
        raise PlanConfError(f"--conf: longer than {MAX_CONF_BYTES} bytes")
    try:
        conf = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise PlanConfError(f"--conf: not JSON: {str(exc)[:200]}") from None
    if not isinstance(conf, dict):
        raise PlanConfError(f"--conf: expected a JSON object, got {type(conf).__name__}")
    return conf


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_hisham.workflow.plan_cli",
                                     description="Validate a workflow config and print its plan (no Airflow needed).")
    parser.add_argument("config", type=Path, help="a workflow config (.yaml, .yml or .json)")
    parser.add_argument("--conf", help='the run\'s conf as a JSON object, e.g. \'{"dry_run": true}\'')
    args = parser.parse_args(argv)
    try:
        plan = load_plan(args.config)
        out = describe(plan, _conf(args.conf))
    except OSError as exc:
        print(f"{args.config}: cannot read: {exc.strerror}", file=sys.stderr)
        return 2
    except (WorkflowConfigError, PlanConfError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
