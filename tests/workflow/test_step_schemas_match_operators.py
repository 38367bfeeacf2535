"""Each step type's config schema against its operator's keyword parameters (``inspect.signature``).

A config's keys become the operator's keyword arguments (the built-in types have no ``to_kwargs``),
in the provider's format and in a HishamOS definition's ``type`` + ``config`` steps alike (both
validate against the registry's schema). So a schema property the operator does not take breaks
the DAG at build time, and a parameter the schema lacks cannot be set from a config at all.
"""

from __future__ import annotations

import inspect
import json
from importlib import resources
from pathlib import Path

import pytest
from airflow.sdk import BaseOperator
from jsonschema import Draft202012Validator

from airflow_provider_hisham.export import targets
from airflow_provider_hisham.workflow import hishamos_definition
from airflow_provider_hisham.workflow.hishamos_definition import compile_source
from airflow_provider_hisham.workflow.dag_builder import _SECONDS, _import_class
from airflow_provider_hisham.workflow.registry import BUILTIN_STEP_TYPES, StepTypeRegistry
from airflow_provider_hisham.workflow.source import parse_text

DEFINITIONS = Path(__file__).parent / "hishamos_definitions"

BASE_OPERATOR_KWARGS = frozenset(inspect.signature(BaseOperator.__init__).parameters) - {"self", "kwargs"}

#: operator parameters a config cannot set, and why (configs are data: a HishamOS definition or a
#: YAML file a DAG folder picks up; a Python DAG can still pass these)
NOT_FROM_CONFIG: dict[str, dict[str, str]] = {
    "api_call": {
        "response_check": "a Python callable; YAML/JSON cannot hold one",
    },
    "repo_creation": {
        "allow_local_remote": "security: lets git_url be a local path, so a run's conf could rewrite any "
                              "repository on the worker; only Python code may turn it on",
        "archive_root": "security: the folder archive_dir must stay inside (the DAG author's bound, "
                        "never templated); a config choosing it would have no bound",
        "commit_date": "a datetime; the default (newest file time) keeps a retried commit identical",
    },
    "pull_request": {
        "allow_local_remote": "security: as for repo_creation",
        "commit_date": "a datetime; as for repo_creation",
    },
}

#: template fields a config may not template, and why
STRICTER_THAN_OPERATOR: dict[str, dict[str, str]] = {
    "api_call": {"method": "checked against the five methods when the config is read; whether a call is "
                           "retried (idempotent) is then known from the config itself"},
}

#: config keys that are not operator parameters, and what the factory makes of them (none yet:
#: every built-in type passes its config through unchanged)
TRANSLATED: dict[str, dict[str, str]] = {}

#: step-level keys (beside ``config``) of the provider's format and what consumes them; the
#: others are BaseOperator arguments, renamed by ``dag_builder._SECONDS``
STEP_KEYS_CONSUMED = {
    "id": "the task_id, and the name steps.<id> references use",
    "type": "picks the StepType (operator and config schema)",
    "config": "the operator's keyword arguments (this file's other tests)",
    "depends_on": "extra upstream edges",
    "name": "doc_md when there is no doc",
    "doc": "doc_md",
}
#: a HishamOS definition's flow keys on a ``type`` + ``config`` step and what the compiler makes of them
HISHAMOS_STEP_KEYS_CONSUMED = {
    "id": "the task_id",
    "type": "picks the StepType",
    "config": "the operator's keyword arguments",
    "name": "doc_md",
    "depends_on": "edges", "on_success": "edges", "merge_after": "edges",
    "on_failure": "a handler edge (trigger rule one_failed) or a rework segment",
    "parallel": "edges: side by side with its group", "parallel_group": "edges: side by side with its group",
    "condition": "a gate task <id>__condition", "skip_if": "a gate task <id>__condition",
    "branch_group": "a gate task <id>__condition",
    "max_retries": "retries", "timeout_seconds": "execution_timeout",
}
HISHAMOS_RENAMES = {"max_retries": "retries", "timeout_seconds": "execution_timeout"}

PUBLIC = [t for t in BUILTIN_STEP_TYPES if not t.internal]


def _parameters(step_type) -> dict[str, inspect.Parameter]:
    """The operator's own keyword parameters (BaseOperator's arrive through ``**kwargs``)."""
    operator = _import_class(step_type.operator)
    params = inspect.signature(operator.__init__).parameters
    return {
        name: p for name, p in params.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and name not in BASE_OPERATOR_KWARGS
    }


def test_every_public_type_has_an_object_schema_closed_to_unknown_keys():
    assert {t.name for t in PUBLIC} == {"agent", "api_call", "approval", "combine_projects", "file_generation", "pull_request", "repo_creation"}
    for step_type in PUBLIC:
        assert step_type.to_kwargs is None, step_type.name  # else TRANSLATED must say what it does
        assert step_type.config_schema["additionalProperties"] is False, step_type.name


@pytest.mark.parametrize("step_type", PUBLIC, ids=lambda t: t.name)
def test_schema_properties_are_the_operator_parameters(step_type):
    params = _parameters(step_type)
    excluded = NOT_FROM_CONFIG.get(step_type.name, {})
    translated = TRANSLATED.get(step_type.name, {})
    properties = set(step_type.config_schema["properties"])
    assert not excluded.keys() - params.keys(), "an exclusion names no parameter of the operator"
    assert not properties & BASE_OPERATOR_KWARGS, "a config key would be taken as a BaseOperator argument"
    assert sorted(properties - params.keys() - translated.keys()) == [], "schema properties the operator does not take"
    assert sorted(params.keys() - properties - excluded.keys()) == [], "operator parameters a config cannot set"
    assert not properties & excluded.keys(), "a parameter both in the schema and excluded from it"


@pytest.mark.parametrize(("name", "others"), [("repo_creation", targets.REPO_CREATION_OTHERS),
                                             ("pull_request", targets.PULL_REQUEST_OTHERS)])
def test_the_target_enum_is_what_the_operator_takes(name, others):
    """The schema's targets come from ``export.targets``; the operator reaches a host through
    ``repo_creation.HOSTS`` and refuses the rest by ``check_target``: all three must agree."""
    from airflow_provider_hisham.export.archive import FORMATS
    from airflow_provider_hisham.operators import repo_creation

    assert tuple(repo_creation.HOSTS) == targets.HOST_TARGETS, "HOSTS drifted from export.targets.HOST_TARGETS"
    assert tuple(FORMATS) == targets.ARCHIVE_TARGETS
    (step_type,) = [t for t in PUBLIC if t.name == name]
    enum = step_type.config_schema["properties"]["target"]["anyOf"][0]["enum"]
    assert enum == [*repo_creation.HOSTS, *others]
    for target in enum:
        repo_creation.check_target(target, others)
    with pytest.raises(ValueError, match=f"target must be one of {', '.join(enum)}, got 'svn'"):
        repo_creation.check_target("svn", others)


@pytest.mark.parametrize("step_type", PUBLIC, ids=lambda t: t.name)
def test_required_properties_are_the_parameters_without_default(step_type):
    params = _parameters(step_type)
    without_default = {name for name, p in params.items() if p.default is inspect.Parameter.empty}
    assert not without_default & NOT_FROM_CONFIG.get(step_type.name, {}).keys(), "a config could never build the task"
    assert set(step_type.config_schema.get("required", ())) == without_default


@pytest.mark.parametrize("step_type", PUBLIC, ids=lambda t: t.name)
@pytest.mark.parametrize("template", ["{{ params.x }}", "{% if params.x %}a{% endif %}"])
def test_a_template_validates_exactly_where_the_operator_renders_it(step_type, template):
    """The builder refuses ``{{ ... }}`` in a field the operator does not render; the schema must
    say the same at validation (the plan CLI and a DAG folder's first check stop there)."""
    fields = set(_import_class(step_type.operator).template_fields)
    stricter = STRICTER_THAN_OPERATOR.get(step_type.name, {})
    for key, schema in step_type.config_schema["properties"].items():
        rendered = step_type.templated_as.get(key, key) in fields
        accepted = Draft202012Validator(schema).is_valid(template)
        if key in stricter:
            assert rendered and not accepted, f"{key}: no longer stricter than the operator"
        else:
            assert accepted is rendered, f"{key}: the schema {'accepts' if accepted else 'refuses'} a template, " \
                                         f"the operator {'renders' if rendered else 'does not render'} it"


@pytest.mark.parametrize(
    "schema, consumed, renames",
    [
        (json.loads(resources.files("airflow_provider_hisham.workflow").joinpath("schema/workflow.schema.json")
                    .read_text(encoding="utf-8"))["$defs"]["step"], STEP_KEYS_CONSUMED, _SECONDS),
        (hishamos_definition.PROVIDER_STEP_SCHEMA, HISHAMOS_STEP_KEYS_CONSUMED, HISHAMOS_RENAMES),
    ],
    ids=["provider_format", "hishamos_format"],
)
def test_step_level_keys_are_consumed_or_base_operator_arguments(schema, consumed, renames):
    for key in schema["properties"]:
        if key in consumed:
            continue
        assert renames.get(key, key) in BASE_OPERATOR_KWARGS, f"step key '{key}' is neither consumed nor a BaseOperator argument"
    assert set(schema["required"]) == {"id", "type"}


def test_internal_task_kinds_get_only_what_their_callable_takes():
    """The compiler's own kinds (no schema: no config author writes them): every config it
    builds for a shipped definition binds to the PythonOperator callable's signature, and the
    sub-workflow kind's keyword arguments are TriggerDagRunOperator's."""
    registry = StepTypeRegistry()
    hishamos_definition.register_internal_step_types(registry)
    seen = set()
    for path in sorted(DEFINITIONS.glob("*.yaml")):
        plan = compile_source(parse_text(path.read_text(encoding="utf-8"), path.name, fmt="yaml"), registry)
        for task in plan.tasks.values():
            if task.kind != "step" or not registry.get(task.step_type).internal:
                continue
            kwargs = registry.get(task.step_type).operator_kwargs(task.config)
            inspect.signature(kwargs["python_callable"]).bind(**kwargs["op_kwargs"])  # TypeError on a mismatch
            seen.add(task.step_type)
    assert {"hishamos_condition", "hishamos_resolve_agents", "hishamos_rework_join"} <= seen
    trigger = _import_class(hishamos_definition.TRIGGER_OPERATOR)
    kwargs = registry.get("hishamos_sub_workflow").operator_kwargs({"trigger_dag_id": "child", "conf": {}})
    assert set(kwargs) <= set(inspect.signature(trigger.__init__).parameters)
