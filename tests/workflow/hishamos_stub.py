"""Test-only stand-ins for the agent step and the agent resolver of HishamOS definitions.

The semantics tests (edges, handlers, rework, conditions, branches, loops) need agents that fail
on demand and answer what the test says; the shipped definitions run against the real operator
and the HishamOS stand-in elsewhere. ``inputs.answer`` is merged into the result; a task whose id
is in ``inputs.fail_tasks`` fails.
"""

from __future__ import annotations

import time

from airflow.sdk import BaseOperator

from airflow_provider_hisham.workflow.hishamos_definition import INTERNAL_STEP_TYPES
from airflow_provider_hisham.workflow.registry import StepType, StepTypeRegistry

AGENT = StepType(
    "agent",
    "tests.workflow.hishamos_stub.StubAgentOperator",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {k: {} for k in ("agent", "inputs", "agents", "hishamos_conn_id", "max_cost", "max_tokens")},
    },
)


class StubAgentOperator(BaseOperator):
    template_fields = ("agent", "inputs")

    def __init__(self, *, agent, inputs=None, agents=None, hishamos_conn_id="hishamos_default", max_cost=None, max_tokens=None, **kwargs):
        super().__init__(**kwargs)
        self.agent, self.inputs, self.agents = agent, inputs or {}, agents

    def execute(self, context):
        started = time.time()
        if self.task_id in (self.inputs.get("fail_tasks") or []):
            raise RuntimeError(f"stub agent {self.agent!r} asked to fail in {self.task_id}")
        answer = self.inputs.get("answer") or {}
        return {"text": f"{self.agent} done", "agent": self.agent,
                "inputs": self.inputs, "at": started, **(answer if isinstance(answer, dict) else {})}


def resolve(agents, mapping, hishamos_conn_id="hishamos_default"):
    return {name: {"id": name, "name": mapping.get(name, name), "agent_id": name} for name in agents}


RESOLVER = StepType(
    "hishamos_resolve_agents", "airflow.providers.standard.operators.python.PythonOperator", {"type": "object"},
    to_kwargs=lambda c: {"python_callable": resolve, "op_kwargs": dict(c)}, templated_as={"op_kwargs": "op_kwargs"},
)


def stub_registry() -> StepTypeRegistry:
    registry = StepTypeRegistry()
    for step_type in INTERNAL_STEP_TYPES:
        registry.register(step_type)
    registry.register(AGENT, replace=True)
    registry.register(RESOLVER, replace=True)
    return registry
