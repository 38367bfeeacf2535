"""Make Airflow render a workflow DAG's templates in :class:`.sandbox.WorkflowSandbox`.

Airflow (Task SDK) renders a task's template fields with the environment its DAG's
``get_template_env()`` returns (``task_runner._prepare``: ``ti.task.dag.get_template_env()``;
``BaseOperator.render_template_fields`` through ``Templater.get_template_env(dag)``). No DAG
argument selects the environment's class (``render_template_as_native_obj=True`` gives Airflow's
unsandboxed NativeEnvironment), so workflow DAGs are a subclass of ``DAG`` that returns our
sandbox instead. That override is the one thing here Airflow does not document as an extension
point: tested with apache-airflow 3.3.2 (Task SDK 1.3.2). On any version, the first workflow DAG
built in a process checks that the override is honoured (the DAG's and an operator's environment
are the sandbox, and it refuses ``''.__class__``) and raises :class:`SandboxUnavailableError`
otherwise, so an Airflow that renders elsewhere fails loudly instead of running configs unsandboxed.
The run-time path itself (``dag.test()``, i.e. the task runner) is covered by the tests.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any

from airflow_provider_hisham.workflow.errors import WorkflowError
from airflow_provider_hisham.workflow.sandbox import WorkflowSandbox

TESTED_WITH = "apache-airflow 3.3.2 (apache-airflow-task-sdk 1.3.2)"


class SandboxUnavailableError(WorkflowError, RuntimeError):
    """This Airflow does not render workflow templates through the DAG's ``get_template_env``."""


@lru_cache(maxsize=1)
def workflow_dag_class() -> type:
    """The ``DAG`` subclass whose templates render in the workflow sandbox (checked once)."""
    from airflow.sdk import DAG

    try:
        from airflow.sdk.definitions._internal.templater import FILTERS as AIRFLOW_FILTERS
    except ImportError as exc:  # pragma: no cover - another Airflow
        raise SandboxUnavailableError(f"Airflow's template filters moved ({exc}); tested with {TESTED_WITH}") from None
    parameters = inspect.signature(DAG.get_template_env).parameters
    if list(parameters) != ["self", "force_sandboxed"]:  # pragma: no cover - another Airflow
        raise SandboxUnavailableError(
            f"DAG.get_template_env{inspect.signature(DAG.get_template_env)} is not the method this provider "
            f"overrides; tested with {TESTED_WITH}"
        )

    class WorkflowDAG(DAG):
        """A workflow config's DAG: every template renders in :class:`WorkflowSandbox`."""

        def get_template_env(self, *, force_sandboxed: bool = False) -> WorkflowSandbox:
            # no loader: a config value that ends like a template file name is not read from disk;
            # no macros and no extensions (the parse-time check allows neither)
            env = WorkflowSandbox(undefined=self.template_undefined)
            env.add_filters(AIRFLOW_FILTERS)
            env.add_filters(self.user_defined_filters or {})
            return env

    WorkflowDAG.__module__ = __name__
    WorkflowDAG.__qualname__ = "WorkflowDAG"
    _self_check(WorkflowDAG)
    return WorkflowDAG


def _self_check(dag_class: type) -> None:
    from airflow.sdk import BaseOperator
    from jinja2.sandbox import SecurityError

    dag = dag_class(dag_id="hisham_workflow_sandbox_self_check", schedule=None, render_template_as_native_obj=True)
    probe = BaseOperator(task_id="probe", dag=dag)
    for where, env in (("DAG.get_template_env()", dag.get_template_env()), ("BaseOperator.get_template_env()", probe.get_template_env())):
        if not isinstance(env, WorkflowSandbox):
            raise SandboxUnavailableError(f"{where} gives {type(env).__name__}, not the workflow sandbox; tested with {TESTED_WITH}")
    try:
        probe.render_template("{{ ''.__class__ }}", {}, probe.get_template_env())
    except SecurityError:
        return
    raise SandboxUnavailableError(f"templates render outside the workflow sandbox; tested with {TESTED_WITH}")


def check_task(task: Any) -> str | None:
    """Why ``task`` would render outside the sandbox (its own native setting builds Airflow's
    environment instead of asking the DAG), or None."""
    if getattr(task, "render_template_as_native_obj", None) is not None:
        return "the operator sets render_template_as_native_obj itself, which renders outside the workflow sandbox"
    return None
