"""Hostile HishamOS workflow definitions: each is refused with a message naming the field, or
neutralised (its text stays text), within memory and time limits."""

from __future__ import annotations

import pytest
import yaml

from airflow_provider_hisham.workflow.hishamos_definition import HishamOSDefinitionError, compile_source
from airflow_provider_hisham.workflow.source import parse_text
from tests.security.harness import Case, assert_refused, files_under, run_confined
from tests.workflow.hishamos_stub import stub_registry

AREA = "hishamos_definitions"


def definition(*steps: dict, **top) -> str:
    return yaml.safe_dump({"name": "Hostile", "version": "1.0", "steps": list(steps), **top})


def step(step_id: str = "a", **fields) -> dict:
    return {"id": step_id, "agent": "Coding Agent", **fields}


REFUSED = HishamOSDefinitionError
CASES: list[Case] = [
    Case("condition-private-attribute", AREA, "reach Python internals from a condition",
         definition(step(), step("b", condition="{{steps.a.output.x}}.__class__.__mro__ == 1")),
         {"refused": r"steps\[1\].condition.*attribute '__mro__' is not allowed"}),
    Case("condition-call", AREA, "call a function from a condition",
         definition(step(), step("b", condition="range(10**9) == 1")), {"refused": r"steps\[1\].condition.*(call is not allowed|refused by the template sandbox)"}),
    Case("condition-filter", AREA, "use a Jinja filter (attr) to walk objects",
         definition(step(), step("b", skip_if="{{steps.a.output}} | attr('__class__')")), {"refused": r"steps\[1\].skip_if.*(filter is not allowed|attribute '__class__' is not allowed)"}),
    Case("condition-template-block", AREA, "smuggle a template block into a condition",
         definition(step(), step("b", condition="{{steps.a.output.x}} == '{% raw %}'")), {"refused": r"steps\[1\].condition.*may only use"}),
    Case("rework-bomb", AREA, "ask for a billion rework copies",
         definition(step(), step("b", on_failure="a"), metadata={"max_rework": 10**9}), {"refused": r"metadata.max_rework"}),
    Case("loop-bomb", AREA, "a loop of 10**9 iterations",
         definition(step("l", step_type="loop", loop={"type": "for", "over": "{{input.x}}", "max_iterations": 10**9})),
         {"refused": r"steps\[0\].loop.max_iterations"}),
    Case("step-id-injection", AREA, "a step id that closes the generated template",
         definition(step("a'] }}{{ 7*7 }}")), {"refused": r"steps\[0\].id"}),
    Case("too-many-steps", AREA, "thousands of steps, each reworked",
         definition(*[step(f"s{i}", on_failure="s0") for i in range(2000)]), {"refused": r"field 'steps'.*at most 500"}),
    Case("input-template-injection", AREA, "Jinja code in an input value",
         definition(step(inputs={"x": "{{ cycler.__init__.__globals__.os.popen('id').read() }}"})), {"literal": "x"}),
    Case("agent-name-injection", AREA, "an agent name that closes the generated subscript",
         definition(step(agent="x'].name }}{{ 7*7 }}{{ '")), {"literal_agent": "x'].name }}{{ 7*7 }}{{ '"}),
    Case("dense-reworks", AREA, "300 steps each looping back to the first, each reading {{steps}}",
         definition(*[step(f"s{i}", on_failure="s0", inputs={"all": "{{steps}}"}) for i in range(300)]), {"tasks": 902}),
]


def compile_case(text: str):
    plan = compile_source(parse_text(text, "hostile.yaml"), stub_registry())
    return {t.task_id: t.config for t in plan.tasks.values()}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_hostile_definition(case, tmp_path):
    from jinja2.sandbox import SandboxedEnvironment

    before = files_under(tmp_path)
    outcome = run_confined(compile_case, case.payload, timeout=20, memory_mb=512)
    if "refused" in case.extra:
        assert_refused(outcome, REFUSED, case.extra["refused"])
        assert "hostile.yaml" in outcome.message
    else:
        assert outcome.kind == "returned", outcome.describe()
        tasks = outcome.value
        if "literal" in case.extra:  # the text renders back to itself: never evaluated
            value = tasks["a"]["inputs"][case.extra["literal"]]
            original = yaml.safe_load(case.payload)["steps"][0]["inputs"][case.extra["literal"]]
            assert SandboxedEnvironment().from_string(value).render() == original
        if "literal_agent" in case.extra:  # the name is a string constant of the subscript
            template = tasks["a"]["agent"]
            name = case.extra["literal_agent"]
            rendered = SandboxedEnvironment().from_string(template).render(steps={"resolve_agents": {"output": {name: {"id": "N"}}}})
            assert template.count("{{") == 1 and rendered == "N"  # one expression: the name is only its key
            assert tasks["resolve_agents"]["agents"] == [case.extra["literal_agent"]]
        if "tasks" in case.extra:
            assert len(tasks) == case.extra["tasks"]
    assert files_under(tmp_path) == before
