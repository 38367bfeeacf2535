"""Airflow adapter: turn a compiled workflow plan into an Airflow DAG, and load a config folder.

The plain modules beside this one (source, plan, registry, expressions) validate configs without
Airflow; this one instantiates operators (imported lazily by class path), Params and the branch
task of conditional blocks.
"""

from __future__ import annotations

import ast
import datetime
import importlib
import os
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_hisham.dry_run import with_param as with_dry_run_param
from airflow_provider_hisham.workflow.airflow_env import check_task, workflow_dag_class
from airflow_provider_hisham.workflow.errors import ConfigIssue, WorkflowConfigError
from airflow_provider_hisham.workflow.expressions import condition_template, is_template, single_expression, translate
from airflow_provider_hisham.workflow.hishamos_definition import compile_source, register_internal_step_types
from airflow_provider_hisham.workflow.plan import TaskPlan, WorkflowPlan
from airflow_provider_hisham.workflow.registry import StepTypeRegistry, registry as default_registry
from airflow_provider_hisham.workflow.plan_cache import PlanCache
from airflow_provider_hisham.workflow.source import CONFIG_SUFFIXES, ConfigSource, decode, dotted, parse_text, read_bounded

DEFAULT_START_DATE = "2025-01-01"
_SECONDS = {
    "retry_delay_seconds": "retry_delay",
    "max_retry_delay_seconds": "max_retry_delay",
    "execution_timeout_seconds": "execution_timeout",
}
_CLASS_CACHE: dict[str, type] = {}


def choose_branch(conditions: list, heads: list[list[str]], otherwise: list[str], join: str) -> list[str]:
    """Branch callable: the heads of the first branch whose rendered condition is true.

    Conditions arrive already rendered by Airflow (templated ``op_kwargs``), so params and step
    outputs are read at run time. With no match and no ``otherwise`` only the join runs.
    """
    for condition, branch_heads in zip(conditions, heads):
        if condition is True or (isinstance(condition, str) and condition.strip() == "True"):
            return list(branch_heads)
    return list(otherwise) or [join]


def _import_class(path: str) -> type:
    if path not in _CLASS_CACHE:
        module, _, name = path.rpartition(".")
        _CLASS_CACHE[path] = getattr(importlib.import_module(module), name)
    return _CLASS_CACHE[path]


def _seconds_to_timedeltas(values: dict) -> dict:
    out = {}
    for key, value in values.items():
        if key in _SECONDS:
            out[_SECONDS[key]] = datetime.timedelta(seconds=value)
        else:
            out[key] = value
    return out


def _translate_all(value: Any, lanes: dict[str, list[str]]) -> Any:
    """Step references -> XCom pulls, in a value Airflow will render (a template field)."""
    if isinstance(value, str):
        if not is_template(value):
            return _keep_string(value)
        expression = single_expression(value)
        if expression is not None:  # a whole-value reference: its type is kept, strings stay strings
            return translate("{{ (" + expression.strip() + ") | " + KEEP_TYPE_FILTER + " }}", lanes)
        return translate(value, lanes)
    if isinstance(value, dict):
        return {k: _translate_all(v, lanes) for k, v in value.items()}
    if isinstance(value, list):
        return [_translate_all(v, lanes) for v in value]
    return value


KEEP_TYPE_FILTER = "hisham_keep_type"


def keep_type(value: Any) -> Any:
    """Jinja filter: a string renders as its repr so native rendering gives the string back."""
    return repr(value) if isinstance(value, str) else value


def _keep_string(value: str) -> str:
    """Native rendering turns a plain "42" or "[1]" into 42 or [1]; its repr renders back to the
    string itself, so literal text in the config stays text."""
    if "{#" in value:
        return value
    try:
        ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, TypeError, RecursionError):
        return value
    return repr(value)


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False


def _start_date(value: str | None) -> datetime.datetime:
    import pendulum

    return pendulum.parse(value or DEFAULT_START_DATE, tz="UTC")


def _params(spec: dict) -> dict:
    """The DAG's Params: the config's, plus ``dry_run`` (every factory-built DAG accepts it; a
    user-declared one is kept, validation made sure it is a boolean)."""
    from airflow.sdk import Param

    params = {}
    for name, schema in with_dry_run_param(spec).items():
        schema = dict(schema)
        if "default" in schema:
            params[name] = Param(schema.pop("default"), **schema)
        else:
            params[name] = Param(**schema)
    return params


class _Builder:
    def __init__(self, plan: WorkflowPlan, registry: StepTypeRegistry):
        self.plan = plan
        self.registry = registry
        self.issues: list[ConfigIssue] = []

    def issue(self, task: TaskPlan | None, field_path: tuple, message: str) -> None:
        line = self.plan.source.line_of(field_path)
        self.issues.append(ConfigIssue(self.plan.name, message, dotted(field_path), task.task_id if task else None, line))

    def dag(self):
        settings = self.plan.dag
        kwargs: dict[str, Any] = {
            "dag_id": settings["dag_id"],
            "description": settings.get("description"),
            "schedule": settings.get("schedule"),
            "start_date": _start_date(settings.get("start_date")),
            "catchup": settings.get("catchup", False),
            "tags": list(settings.get("tags", [])),
            "default_args": _seconds_to_timedeltas(settings.get("default_args", {})),
            "params": _params(self.plan.params),
            # "{{ steps.x.output }}" keeps its type (dict, list, int) when it is a whole value; the
            # environment is the workflow sandbox (see airflow_env), native too
            "render_template_as_native_obj": True,
            "user_defined_filters": {KEEP_TYPE_FILTER: keep_type},
            "doc_md": settings.get("doc_md"),
        }
        for key in ("max_active_runs", "owner_links"):
            if key in settings:
                kwargs[key] = settings[key]
        if "dagrun_timeout_seconds" in settings:
            kwargs["dagrun_timeout"] = datetime.timedelta(seconds=settings["dagrun_timeout_seconds"])
        dag_class = workflow_dag_class()  # raises SandboxUnavailableError on an Airflow it cannot hook
        try:
            dag = dag_class(**kwargs)
        except Exception as exc:  # e.g. a cron expression Airflow cannot read
            field_name = "schedule" if "schedule" in str(exc).lower() or "cron" in str(exc).lower() else ""
            raise WorkflowConfigError([ConfigIssue(self.plan.name, f"{type(exc).__name__}: {exc}", field_name)]) from None
        for task in self.plan.tasks.values():
            self.task(dag, task)
        if self.issues:
            raise WorkflowConfigError(self.issues)
        self.link(dag.task_dict)
        return dag

    def link(self, tasks: dict) -> None:
        """Set the plan's edges, one Airflow call per group of tasks with the same upstreams, made
        from the side with fewer tasks: Airflow checks both ends' DAG on every call, so a 14-way
        fan-out is one call after its head, as ``head >> lanes`` would be, not 14."""
        groups: dict[tuple[str, ...], list[str]] = {}
        for task in self.plan.tasks.values():
            if task.upstream:
                groups.setdefault(tuple(task.upstream), []).append(task.task_id)
        for upstream, downstream in groups.items():
            if len(upstream) <= len(downstream):
                for up in upstream:
                    tasks[up].set_downstream([tasks[down] for down in downstream])
            else:
                for down in downstream:
                    tasks[down].set_upstream([tasks[up] for up in upstream])

    def task(self, dag, task: TaskPlan) -> None:
        lanes = self.plan.lanes
        options = _seconds_to_timedeltas(task.options)
        if task.trigger_rule:
            options["trigger_rule"] = task.trigger_rule
        if task.kind == "branch":
            from airflow.providers.standard.operators.python import BranchPythonOperator

            BranchPythonOperator(
                task_id=task.task_id,
                dag=dag,
                python_callable=choose_branch,
                op_kwargs={
                    "conditions": [condition_template(when, lanes) for when, _ in task.branches],
                    "heads": [heads for _, heads in task.branches],
                    "otherwise": task.otherwise,
                    "join": task.join,
                },
                doc_md="Chooses the branch: " + "; ".join(f"`{when}`" for when, _ in task.branches),
                **options,
            )
            return
        step_type = self.registry.get(task.step_type)
        try:
            operator = _import_class(step_type.operator)
        except Exception as exc:
            self.issue(task, task.path + ("type",), f"step type '{step_type.name}': cannot import {step_type.operator}: {exc}")
            return
        kwargs = step_type.operator_kwargs(task.config)
        templated = set(getattr(operator, "template_fields", ()))
        for key, value in kwargs.items():
            if step_type.templated_as.get(key, key) not in templated and _has_template(value):
                self.issue(task, task.path + ("config", key), f"'{key}' is not a template field of {operator.__name__}; it cannot hold {{{{ ... }}}}")
        kwargs = {
            k: _translate_all(v, lanes) if step_type.templated_as.get(k, k) in templated else v for k, v in kwargs.items()
        }
        try:
            if "expand_over" in options:  # a HishamOS loop body: one mapped instance per list item
                over = dag.get_task(options.pop("expand_over")).output
                instance = operator.partial(task_id=task.task_id, dag=dag, **options, **kwargs).expand(doc_md=over)
            else:
                instance = operator(task_id=task.task_id, dag=dag, **options, **kwargs)
        except Exception as exc:
            self.issue(task, task.path + ("config",), f"{operator.__name__} rejected the config: {type(exc).__name__}: {exc}")
            return
        if problem := check_task(instance):
            self.issue(task, task.path + ("type",), f"step type '{step_type.name}': {problem}")


def build_dag_from_source(source: ConfigSource, registry: StepTypeRegistry | None = None):
    """Validate ``source`` and build its DAG (raises WorkflowConfigError naming file/step/field/line)."""
    registry = registry or default_registry
    return build_dag_from_plan(compile_source(source, registry), registry)


def build_dag_from_plan(plan: WorkflowPlan, registry: StepTypeRegistry | None = None):
    return _Builder(plan, registry or default_registry).dag()


def default_cache_dir() -> Path:
    """``[hisham] workflow_plan_cache_dir``, else ``$AIRFLOW_HOME/cache/hisham-workflow-plans``."""
    from airflow_provider_hisham.config import workflow_plan_cache_dir

    return workflow_plan_cache_dir()


def load_plan(path: Path, name: str, registry: StepTypeRegistry, cache: PlanCache | None) -> WorkflowPlan:
    """The validated plan of one config file, from the cache when its bytes are unchanged."""
    plan = load_plans({name: path}, registry, cache)[name]
    if isinstance(plan, Exception):
        raise plan
    return plan


def load_plans(
    files: dict[str, Path], registry: StepTypeRegistry, cache: PlanCache | None
) -> dict[str, WorkflowPlan | Exception]:
    """:func:`load_plan` for each ``name -> file``: its plan, or the exception that stopped it.

    One stage at a time over all the files (read and look up the cache, parse, validate, store)
    rather than file by file, so each stage's code stays warm in the CPU's caches.
    """
    register_internal_step_types(registry)  # before the cache: cached HishamOS plans name them
    done: dict[str, WorkflowPlan | Exception] = {}
    todo: dict[str, tuple[Path, bytes, str]] = {}
    for name, path in files.items():
        try:
            text = read_bounded(path)
        except OSError as exc:
            done[name] = WorkflowConfigError([ConfigIssue(name, f"cannot read: {exc.strerror}")])
            continue
        key = cache.key(text, name) if cache else ""
        if cache and (plan := cache.load(key, registry)):
            done[name] = plan
        else:
            todo[name] = (path, text, key)
    sources: dict[str, ConfigSource] = {}
    for name, (path, text, _) in todo.items():
        try:
            sources[name] = parse_text(decode(text, name), name, fmt="json" if path.suffix.lower() == ".json" else "yaml")
        except Exception as exc:
            done[name] = exc
    plans: dict[str, WorkflowPlan] = {}
    for name, source in sources.items():
        try:
            plans[name] = compile_source(source, registry)  # either format (HishamOS's or ours)
        except Exception as exc:
            done[name] = exc
    for name, plan in plans.items():
        if cache:
            cache.store(todo[name][2], plan, registry)
        # a folder of parsed configs would stay alive while the DAGs are built, for Python's
        # garbage collector to walk again and again: keep the text, as a cached plan does
        plan.source.keep_text_only()
        done[name] = plan
    return {name: done[name] for name in files}


def _config_error(name: str, exc: Exception) -> WorkflowConfigError:
    if isinstance(exc, WorkflowConfigError):
        return exc
    # a plugin's step type blew up: still this file's error
    return WorkflowConfigError([ConfigIssue(name, f"{type(exc).__name__}: {exc}")])


def build_dag(config: dict, *, name: str = "<dict>", registry: StepTypeRegistry | None = None):
    """The Python API: a config as a dict (same format as the YAML) -> an Airflow DAG."""
    return build_dag_from_source(ConfigSource(name, config, {}), registry)


@dataclass
class LoadResult:
    """What :func:`load_dags` found: DAGs by id, and the error of each invalid config by file."""

    dags: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, WorkflowConfigError] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)  # config name -> file


def config_files(folder: str | Path, suffixes: Iterable[str] = CONFIG_SUFFIXES) -> list[Path]:
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes and p.is_file())


def load_dags(
    folder: str | Path,
    namespace: MutableMapping[str, Any] | None = None,
    *,
    registry: StepTypeRegistry | None = None,
    report_errors: bool = True,
    cache_dir: str | Path | None | bool = None,
) -> LoadResult:
    """Build a DAG from every YAML/JSON config under ``folder`` into ``namespace`` (a DAG file's
    ``globals()``).

    A bad config never stops the others. With ``report_errors``, each invalid config becomes
    an Airflow import error of its own file (see :mod:`.import_errors`) naming the step, the
    field and the line of every mistake. Validated plans are cached on disk
    (``cache_dir``; None = :func:`default_cache_dir`, False = no cache).
    """
    registry = registry or default_registry
    cache = None if cache_dir is False else PlanCache(default_cache_dir() if cache_dir in (None, True) else cache_dir)
    folder = Path(folder)
    base = folder.parent
    result = LoadResult()
    errors: dict[str, WorkflowConfigError] = {}
    # every plan first, then every DAG: each stage's code stays warm in the CPU's caches, which
    # makes a cold folder (~10%) faster than alternating validation and building file by file
    result.paths = {os.path.relpath(path, base): path for path in config_files(folder)}
    plans: dict[str, WorkflowPlan] = {}
    for name, plan in load_plans(result.paths, registry, cache).items():
        if isinstance(plan, Exception):
            errors[name] = _config_error(name, plan)
        else:
            plans[name] = plan
    origins: dict[str, str] = {}
    for name, plan in plans.items():
        try:
            dag = build_dag_from_plan(plan, registry)
        except Exception as exc:
            errors[name] = _config_error(name, exc)
            continue
        if dag.dag_id in result.dags:
            other = origins[dag.dag_id]
            errors[name] = WorkflowConfigError([ConfigIssue(name, f"dag_id '{dag.dag_id}' is already used by {other}", "dag_id")])
            continue
        result.dags[dag.dag_id] = dag
        origins[dag.dag_id] = name
    result.errors = {name: errors[name] for name in result.paths if name in errors}  # in file order
    if namespace is not None:
        for dag_id, dag in result.dags.items():
            namespace[f"hisham_workflow__{dag_id}"] = dag
    if report_errors and result.errors:
        from airflow_provider_hisham.workflow.import_errors import report_config_errors

        report_config_errors(result.errors, result.paths, (namespace or {}).get("__file__"))
    return result
