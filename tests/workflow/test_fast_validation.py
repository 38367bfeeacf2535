"""The Rust schema check is only a shortcut: every config gets the same verdict and the same
messages as with the Python validator alone."""

from __future__ import annotations

import textwrap

import pytest

from airflow_provider_hisham.workflow import plan
from airflow_provider_hisham.workflow.errors import WorkflowConfigError
from airflow_provider_hisham.workflow.plan import compile_workflow
from airflow_provider_hisham.workflow.registry import StepTypeRegistry
from airflow_provider_hisham.workflow.source import ConfigSource, parse_text
from tests.workflow.test_validation import CASES, GOOD

# values where the two validators part ways (Python's regex `$` takes a final newline, its `\d`
# any Unicode digit, YAML gives NaN, non-string keys and bytes) or the Rust one cannot take them
EDGES = {
    "id-with-final-newline": 'dag_id: t\nsteps:\n  - {id: "a\\n", type: api_call}\n',
    "nan-timeout": "dag_id: t\ndagrun_timeout_seconds: .nan\nsteps:\n  - {id: a, type: api_call}\n",
    "int-key": "dag_id: t\n1: x\nsteps:\n  - {id: a, type: api_call}\n",
    "int-param-name": "dag_id: t\nparams: {1: {type: string}}\nsteps:\n  - {id: a, type: api_call}\n",
    "binary-description": "dag_id: t\ndescription: !!binary aGVsbG8=\nsteps:\n  - {id: a, type: api_call}\n",
    "arabic-digits-date": "dag_id: t\nstart_date: '\u0662\u0660\u0662\u0665-01-01'\nsteps:\n  - {id: a, type: api_call}\n",
    "lone-surrogate": '{"dag_id": "t\\ud800", "steps": [{"id": "a", "type": "api_call"}]}',
}
PARAM = "dag_id: t\nparams:\n  p: {spec}\nsteps:\n  - {{id: a, type: api_call}}\n"
# param schemas, checked against the metaschema: regex formats are Python's `re` on both sides
PARAM_EDGES = {
    "param-nested-bad-regex": PARAM.format(spec="{type: object, properties: {a: {type: string, pattern: '[a-'}}}"),
    "param-nested-ecma-only-regex": PARAM.format(spec="{type: object, properties: {a: {pattern: '(?<n>x)'}}}"),
    "param-nested-python-regex": PARAM.format(spec="{type: object, properties: {a: {pattern: '(?P<n>x)'}}}"),
    "param-pattern-properties": PARAM.format(spec="{type: object, properties: {a: {patternProperties: {'(?<n>x)': {}}}}}"),
    "param-id-not-a-uri": PARAM.format(spec="{type: object, properties: {a: {$id: 'not a uri ::'}}}"),
    "param-anchor-final-newline": PARAM.format(spec='{type: object, properties: {a: {$anchor: "a\\n"}}}'),
    "param-duplicate-required": PARAM.format(spec="{type: object, required: [a, a]}"),
    "param-min-length-float": PARAM.format(spec="{type: string, minLength: 1.0, default: x}"),
    "param-min-length-bool": PARAM.format(spec="{type: string, minLength: true}"),
    "param-int-key": PARAM.format(spec="{type: object, properties: {1: {type: string}}}"),
}
EDGES.update(PARAM_EDGES)
TEXTS = [(c[0], c[1]) for c in CASES] + [("good", textwrap.dedent(GOOD))] + list(EDGES.items())


def outcome(text: str) -> str:
    name = "wf.json" if text.startswith("{") else "wf.yaml"
    try:
        return "ok: " + ", ".join(compile_workflow(parse_text(text, name), StepTypeRegistry()).tasks)
    except WorkflowConfigError as exc:
        return str(exc)


@pytest.mark.parametrize("text", [t for _, t in TEXTS], ids=[n for n, _ in TEXTS])
def test_same_verdict_and_messages_with_and_without_the_rust_check(text, monkeypatch):
    assert plan._fast_schema_check() is not None  # jsonschema-rs is a dependency
    assert plan._fast_param_schema_check() is not None
    fast = outcome(text)
    monkeypatch.setattr(plan, "_fast_schema_check", lambda: None)
    monkeypatch.setattr(plan, "_fast_param_schema_check", lambda: None)
    assert fast == outcome(text)


@pytest.mark.parametrize("text", [t for _, t in TEXTS], ids=[n for n, _ in TEXTS])
def test_the_rust_check_never_passes_what_the_python_validator_fails(text):
    try:
        data = parse_text(text, "wf.json" if text.startswith("{") else "wf.yaml").data
    except WorkflowConfigError:
        return
    if not plan._json_typed(data):
        return  # never shown to the Rust check
    try:
        passed = plan._fast_schema_check()(data)
    except Exception:
        return  # a value it cannot take: the Python validator decides
    if passed:
        assert plan._schema_validator().is_valid(data)


@pytest.mark.parametrize("text", list(PARAM_EDGES.values()), ids=list(PARAM_EDGES))
def test_the_rust_metaschema_check_never_passes_a_param_schema_python_fails(text):
    spec = parse_text(text, "wf.yaml").data["params"]["p"]
    if plan._fast_valid(plan._fast_param_schema_check(), spec):
        assert next(plan._param_schema_validator().iter_errors(spec), None) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"dag_id": "t", "steps": ({"id": "a", "type": "api_call"},)}, "is not of type 'array'"),
        ({"dag_id": "t", "tags": ("x",), "steps": [{"id": "a", "type": "api_call"}]}, "is not of type 'array'"),
    ],
    ids=["tuple-steps", "tuple-tags"],
)
def test_python_api_values_rust_would_accept_are_left_to_the_python_validator(data, message):
    # a tuple is no JSON array to jsonschema; jsonschema-rs would take it as one
    with pytest.raises(WorkflowConfigError, match=message):
        compile_workflow(ConfigSource("<dict>", data, {}), StepTypeRegistry())


def test_a_config_schema_changed_in_place_is_validated_against_its_new_content():
    schema = {"type": "object", "additionalProperties": False, "properties": {"a": {"type": "string"}}}
    reg = StepTypeRegistry()
    from airflow_provider_hisham.workflow.registry import StepType

    reg.register(StepType("thing", "x.Y", schema))
    text = "dag_id: t\nsteps:\n  - {id: s, type: thing, config: {a: 1}}\n"
    with pytest.raises(WorkflowConfigError, match="1 is not of type 'string'"):
        compile_workflow(parse_text(text, "wf.yaml"), reg)
    schema["properties"]["a"] = {"type": "integer"}
    assert "s" in compile_workflow(parse_text(text, "wf.yaml"), reg).tasks
