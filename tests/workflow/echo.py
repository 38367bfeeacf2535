"""A test-only step type: returns its rendered ``value`` and when it ran (for order checks)."""

from __future__ import annotations

import time

from airflow.sdk import BaseOperator

from airflow_provider_hisham.workflow import StepType, registry

ECHO = StepType(
    "echo",
    "tests.workflow.echo.EchoOperator",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {"value": {}, "fail": {"type": "boolean"}, "note": {"type": "string"}},
    },
    "Test step: returns {'value': <rendered value>, 'at': <time>}.",
)


class EchoOperator(BaseOperator):
    template_fields = ("value",)

    def __init__(self, *, value=None, fail: bool = False, note: str = "", **kwargs):
        super().__init__(**kwargs)
        self.note = note  # not a template field
        self.value = value
        self.fail = fail

    def execute(self, context):
        started = time.time()
        time.sleep(0.01)
        if self.fail:
            raise RuntimeError("echo asked to fail")
        return {"value": self.value, "at": started}


def register() -> None:
    registry.register(ECHO, replace=True)
