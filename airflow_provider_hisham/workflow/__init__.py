"""DAG factories: YAML/JSON workflow configs -> Airflow DAGs made of this provider's step types.

``source`` (parsing with line numbers), ``plan`` (JSON Schema + semantic validation, compiled
into a plan), ``expressions`` (run-time references) and ``registry`` (step types) import no
Airflow; ``dag_builder`` is the Airflow adapter (``build_dag``, ``load_dags``).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_hisham.workflow.errors import (
    ConfigIssue,
    UnknownStepTypeError,
    WorkflowConfigError,
    WorkflowError,
)
from airflow_provider_hisham.workflow.registry import StepType, register_step_type, registry

SCHEMA_PATH = __path__[0] + "/schema/workflow.schema.json"

__all__ = [
    "SCHEMA_PATH",
    "ConfigIssue",
    "StepType",
    "UnknownStepTypeError",
    "WorkflowConfigError",
    "WorkflowError",
    "build_dag",
    "load_dags",
    "register_step_type",
    "registry",
]


def __getattr__(name: str) -> Any:  # the Airflow adapter is imported only when used
    if name in ("build_dag", "load_dags"):
        from airflow_provider_hisham.workflow import dag_builder

        return getattr(dag_builder, name)
    raise AttributeError(name)
