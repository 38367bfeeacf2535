"""Invalid configs: each mistake yields a message naming the file, step, field and line."""

from __future__ import annotations

import json
import textwrap

import pytest

from airflow_provider_hisham.workflow.errors import WorkflowConfigError
from airflow_provider_hisham.workflow.plan import compile_workflow
from airflow_provider_hisham.workflow.registry import StepTypeRegistry
from airflow_provider_hisham.workflow.source import parse_text

GOOD = """\
dag_id: good
params:
  target: {type: string, enum: [github, zip], default: zip}
steps:
  - id: stories
    type: api_call
    config: {action: create_story}
  - id: generate
    type: file_generation
    config: {project_id: demo}
  - conditional:
      id: choose
      branches:
        - when: params.target == 'github'
          steps:
            - {id: to_github, type: repo_creation, config: {source_dir: "{{ steps.generate.output.output_dir }}", target: github}}
      otherwise:
        - {id: to_zip, type: repo_creation, config: {source_dir: "{{ steps.generate.output.output_dir }}", target: zip}}
      join: {id: done, type: api_call, config: {action: finish}}
"""


def compile_text(text: str, name: str = "wf.yaml"):
    # a fresh registry: other tests register test-only step types in the global one
    return compile_workflow(parse_text(textwrap.dedent(text), name), StepTypeRegistry())


def issues_of(text: str, name: str = "wf.yaml"):
    with pytest.raises(WorkflowConfigError) as info:
        compile_text(text, name)
    return info.value.issues


def test_the_good_config_compiles():
    plan = compile_text(GOOD)
    assert list(plan.tasks) == ["stories", "generate", "choose", "to_github", "to_zip", "done"]
    assert plan.tasks["done"].upstream == ["to_github", "to_zip", "choose"]
    assert plan.tasks["done"].trigger_rule == "none_failed_min_one_success"


def test_the_good_config_as_json_compiles_with_lines():
    import yaml

    text = json.dumps(yaml.safe_load(GOOD), indent=2)
    plan = compile_text(text, "wf.json")
    assert plan.source.line_of(("steps", 1, "config", "project_id")) > 1


def steps(*lines: str) -> str:
    """A config whose steps are the given YAML lines (indented under ``steps:``)."""
    return "dag_id: t\nparams:\n  target: {type: string, default: zip}\nsteps:\n" + "\n".join(lines) + "\n"


S1 = "  - {id: a, type: api_call, config: {action: x}}"
S2 = "  - {id: b, type: api_call, config: {action: y}}"

# (case id, config text, expected message fragment, step, field, line)
CASES = [
    ("yaml-syntax", "dag_id: t\nsteps: [\n", "invalid YAML", None, "", 3),
    ("empty-file", "", "the file is empty", None, "", 1),
    ("not-a-mapping", "- a\n- b\n", "must be a mapping at the top level, not list", None, "", 1),
    ("duplicate-key", "dag_id: t\ndag_id: u\nsteps: []\n", "duplicate key 'dag_id'", None, "dag_id", 2),
    ("missing-dag-id", "steps:\n" + S1 + "\n", "'dag_id' is a required property", None, "", 1),
    ("bad-dag-id", "dag_id: 'my dag!'\nsteps:\n" + S1 + "\n", "does not match", None, "dag_id", 1),
    ("unknown-top-field", "dag_id: t\nschedul: '@daily'\nsteps:\n" + S1 + "\n", "unknown field 'schedul'; allowed:", None, "", 1),
    ("tags-not-list", "dag_id: t\ntags: hisham\nsteps:\n" + S1 + "\n", "'hisham' is not of type 'array'", None, "tags", 2),
    ("retries-wrong-type", "dag_id: t\ndefault_args: {retries: two}\nsteps:\n" + S1 + "\n", "'two' is not of type 'integer'", None, "default_args.retries", 2),
    ("retries-negative", "dag_id: t\ndefault_args:\n  retries: -1\nsteps:\n" + S1 + "\n", "-1 is less than the minimum of 0", None, "default_args.retries", 3),
    ("unknown-default-arg", "dag_id: t\ndefault_args:\n  retry: 1\nsteps:\n" + S1 + "\n", "unknown field 'retry'", None, "default_args", 2),
    ("bad-start-date", "dag_id: t\nstart_date: yesterday\nsteps:\n" + S1 + "\n", "'yesterday' does not match", None, "start_date", 2),
    ("bad-schedule-preset", "dag_id: t\nschedule: '@sometimes'\nsteps:\n" + S1 + "\n", "unknown schedule preset '@sometimes'", None, "schedule", 2),
    ("bad-cron", "dag_id: t\nschedule: '0 0 *'\nsteps:\n" + S1 + "\n", "is not a cron expression", None, "schedule", 2),
    ("empty-steps", "dag_id: t\nsteps: []\n", "[] should be non-empty", None, "steps", 2),
    ("step-missing-type", steps("  - id: a", "    config: {}"), "'type' is a required property", "a", "steps[0]", 5),
    ("step-missing-id", steps("  - type: api_call"), "'id' is a required property", None, "steps[0]", 5),
    ("step-id-uppercase", steps("  - {id: Make, type: api_call}"), "'Make' does not match", "Make", "steps[0].id", 5),
    ("unknown-step-field", steps("  - id: a", "    type: api_call", "    retires: 2"), "unknown field 'retires'", "a", "steps[0]", 5),
    ("unknown-step-type", steps("  - id: a", "    type: send_email"), "unknown step type 'send_email'; known step types: agent, api_call, approval, combine_projects, file_generation, pull_request, repo_creation", "a", "steps[0].type", 6),
    ("unknown-config-field", steps("  - id: a", "    type: file_generation", "    config:", "      project_id: p", "      projekt: q"), "unknown field 'projekt'; allowed: context, hishamos_conn_id", "a", "steps[0].config", 7),
    ("config-wrong-enum", steps("  - id: a", "    type: repo_creation", "    config:", "      source_dir: /x", "      target: bitbucket"), "'bitbucket' is not one of ['github', 'gitlab', 'git', 'zip', 'tar.gz'] (or a {{ ... }} template)", "a", "steps[0].config.target", 9),
    ("config-missing-required", steps("  - id: a", "    type: file_generation", "    config: {template: t}"), "'project_id' is a required property", "a", "steps[0].config", 7),
    ("config-not-object", steps("  - id: a", "    type: api_call", "    config: [1]"), "[1] is not of type 'object'", "a", "steps[0].config", 7),
    ("duplicate-step-id", steps(S1, "  - {id: a, type: api_call}"), "duplicate id 'a' (first defined at line 5)", "a", "steps[1].id", 6),
    ("duplicate-block-id", steps(S1, "  - parallel:", "      id: a", "      steps: [{id: p1, type: api_call}, {id: p2, type: api_call}]", "      combine: {id: c, type: api_call}"), "duplicate id 'a'", "a", "steps[1].parallel.id", 7),
    ("depends-on-unknown", steps(S1, "  - id: b", "    type: api_call", "    depends_on: [zz]"), "depends on unknown step 'zz'; known ids: a, b", "b", "steps[1].depends_on[0]", 8),
    ("depends-on-self", steps(S1, "  - id: b", "    type: api_call", "    depends_on: [b]"), "step 'b' cannot depend on itself", "b", "steps[1].depends_on[0]", 8),
    ("cycle", steps("  - id: a", "    type: api_call", "    depends_on: [c]", S2, "  - {id: c, type: api_call}"), "dependency cycle: a -> b -> c -> a", "a", "steps[0].depends_on", 7),
    ("parallel-one-lane", steps("  - parallel:", "      id: p", "      steps: [{id: p1, type: api_call}]", "      combine: {id: c, type: api_call}"), "is too short", "p", "steps[0].parallel.steps", 7),
    ("parallel-no-combine", steps("  - parallel:", "      id: p", "      steps: [{id: p1, type: api_call}, {id: p2, type: api_call}]"), "'combine' is a required property", "p", "steps[0].parallel", 5),
    ("conditional-no-join", steps("  - conditional:", "      id: c", "      branches: [{when: 'true', steps: [{id: x, type: api_call}]}]"), "'join' is a required property", "c", "steps[0].conditional", 5),
    ("branch-no-when", steps("  - conditional:", "      id: c", "      branches: [{steps: [{id: x, type: api_call}]}]", "      join: {id: j, type: api_call}"), "'when' is a required property", "c", "steps[0].conditional.branches[0]", 7),
    ("when-bad-syntax", steps("  - conditional:", "      id: c", "      branches: [{when: 'params.target ==', steps: [{id: x, type: api_call}]}]", "      join: {id: j, type: api_call}"), "bad expression:", "c", "steps[0].conditional.branches[0].when", 7),
    ("when-with-braces", steps("  - conditional:", "      id: c", "      branches: [{when: '{{ params.target }}', steps: [{id: x, type: api_call}]}]", "      join: {id: j, type: api_call}"), "without {{ }}", "c", "steps[0].conditional.branches[0].when", 7),
    ("when-unknown-name", steps("  - conditional:", "      id: c", "      branches: [{when: 'target == 1', steps: [{id: x, type: api_call}]}]", "      join: {id: j, type: api_call}"), "unknown name 'target'", "c", "steps[0].conditional.branches[0].when", 7),
    ("when-unknown-filter", steps("  - conditional:", "      id: c", "      branches: [{when: 'params.target | shout', steps: [{id: x, type: api_call}]}]", "      join: {id: j, type: api_call}"), "No filter named 'shout'", "c", "steps[0].conditional.branches[0].when", 7),
    ("unknown-param", steps("  - id: a", "    type: api_call", "    config: {endpoint: '/x/{{ params.projct }}'}"), "unknown param 'projct' (params: target)", "a", "steps[0].config.endpoint", 7),
    ("unknown-step-ref", steps("  - id: a", "    type: api_call", "    config: {endpoint: '{{ steps.nope.output.id }}'}"), "refers to unknown step 'nope'", "a", "steps[0].config.endpoint", 7),
    ("ref-to-later-step", steps("  - id: a", "    type: api_call", "    config: {endpoint: '{{ steps.b.output.id }}'}", S2), "refers to step 'b', which does not run before this step", "a", "steps[0].config.endpoint", 7),
    ("ref-to-parallel-sibling", steps("  - parallel:", "      id: p", "      steps:", "        - {id: p1, type: api_call}", "        - {id: p2, type: api_call, config: {endpoint: '{{ steps.p1.output }}'}}", "      combine: {id: c, type: api_call}"), "refers to step 'p1', which does not run before", "p2", "steps[0].parallel.steps[1].config.endpoint", 9),
    ("ref-to-self", steps("  - id: a", "    type: api_call", "    config: {endpoint: '{{ steps.a.output }}'}"), "cannot use its own output", "a", "steps[0].config.endpoint", 7),
    ("ref-without-output", steps(S1, "  - id: b", "    type: api_call", "    config: {endpoint: '{{ steps.a.result }}'}"), "refer to a step's result as steps.<id>.output", "b", "steps[1].config.endpoint", 8),
    ("bad-template-syntax", steps("  - id: a", "    type: api_call", "    config: {endpoint: '{{ params.target '}"), "bad expression:", "a", "steps[0].config.endpoint", 7),
    ("template-unknown-name", steps("  - id: a", "    type: api_call", "    config: {endpoint: '{{ ds }}'}"), "unknown name 'ds'", "a", "steps[0].config.endpoint", 7),
    ("param-default-wrong-type", "dag_id: t\nparams:\n  count: {type: integer, default: many}\nsteps:\n" + S1 + "\n", "default of param 'count' is invalid: 'many' is not of type 'integer'", None, "params.count.default", 3),
    ("param-default-not-in-enum", "dag_id: t\nparams:\n  target:\n    type: string\n    enum: [github, zip]\n    default: gitlab\nsteps:\n" + S1 + "\n", "default of param 'target' is invalid: 'gitlab' is not one of", None, "params.target.default", 6),
    ("param-bad-pattern", "dag_id: t\nparams:\n  name: {type: string, pattern: '[a-'}\nsteps:\n" + S1 + "\n", "param 'name' has an invalid schema", None, "params.name", 3),
    ("param-bad-type", "dag_id: t\nparams:\n  name: {type: text}\nsteps:\n" + S1 + "\n", "'text' is not valid under any of the given schemas", None, "params.name.type", 3),
    ("param-unknown-key", "dag_id: t\nparams:\n  name: {type: string, label: x}\nsteps:\n" + S1 + "\n", "unknown field 'label'", None, "params.name", 3),
    ("param-no-default-but-scheduled", "dag_id: t\nschedule: '@daily'\nparams:\n  name: {type: string}\nsteps:\n" + S1 + "\n", "param 'name' needs a default: scheduled runs", None, "params.name", 4),
    ("param-bad-name", "dag_id: t\nparams:\n  my-name: {type: string}\nsteps:\n" + S1 + "\n", "'my-name' does not match", None, "params", 2),
]


@pytest.mark.parametrize(("text", "message", "step", "field", "line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_mistake_is_reported_with_file_step_field_and_line(text, message, step, field, line):
    issues = issues_of(text)
    matching = [i for i in issues if message in i.message]
    assert matching, f"expected {message!r} in {[str(i) for i in issues]}"
    issue = matching[0]
    assert issue.file == "wf.yaml"
    assert issue.step == step
    assert issue.field == field
    if line is not None:
        assert issue.line == line
    rendered = str(issue)
    assert rendered.startswith("wf.yaml") and message in rendered
    if step:
        assert f"step '{step}'" in rendered


def test_there_are_at_least_30_distinct_mistakes():
    assert len({c[0] for c in CASES}) >= 30
    assert len({c[2] for c in CASES}) >= 30


def test_json_syntax_error_names_line_and_column():
    issues = issues_of('{\n  "dag_id": "t",\n  "steps": [,]\n}\n', "wf.json")
    assert issues[0].line == 3 and "invalid JSON" in issues[0].message and "column" in issues[0].message


def test_cycle_names_the_whole_loop():
    issues = issues_of(steps("  - id: a", "    type: api_call", "    depends_on: [c]", S2, "  - {id: c, type: api_call}"))
    cycle = [i for i in issues if "cycle" in i.message][0]
    assert {"a", "b", "c"} <= set(cycle.message.replace("->", " ").split())


def test_every_mistake_is_reported_not_only_the_first():
    issues = issues_of(steps("  - {id: a, type: nope}", "  - {id: a, type: api_call, config: {endpoint: '{{ params.zz }}'}}"))
    messages = " | ".join(i.message for i in issues)
    assert "unknown step type 'nope'" in messages and "duplicate id 'a'" in messages


def test_api_call_takes_its_query_string_as_query_not_params():
    """``params`` means Airflow's params everywhere; the query string of a raw call is ``query``."""
    plan = compile_text(steps("  - id: a", "    type: api_call",
                              "    config: {endpoint: /api/v1/agents/, query: {search: '{{ params.target }}'}}"))
    assert plan.tasks["a"].config["query"] == {"search": "{{ params.target }}"}
    issues = issues_of(steps("  - id: a", "    type: api_call", "    config: {endpoint: /x/, params: {search: QA}}"))
    assert any(i.step == "a" and "params" in i.message for i in issues), [str(i) for i in issues]
