"""The provider info Airflow reads: valid against Airflow's schema, and complete."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from pathlib import Path

import airflow
import jsonschema

import airflow_provider_hisham.hooks
import airflow_provider_hisham.operators
from airflow_provider_hisham.get_provider_info import get_provider_info

INFO = get_provider_info()


def test_valid_against_airflows_provider_info_schema():
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(INFO, schema)


def _modules(package) -> set[str]:
    return {f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)}


def _operator_modules() -> set[str]:
    """Modules of the operators package that define an operator (``observed`` is their shared mixin)."""
    from airflow.sdk import BaseOperator

    def defines_operator(name: str) -> bool:
        module = importlib.import_module(name)
        return any(issubclass(c, BaseOperator) and c.__module__ == name
                   for _, c in inspect.getmembers(module, inspect.isclass))

    return {m for m in _modules(airflow_provider_hisham.operators) if defines_operator(m)}


def test_every_operator_and_hook_module_is_listed():
    listed = {m for entry in INFO["operators"] for m in entry["python-modules"]}
    assert listed == _operator_modules()
    assert "airflow_provider_hisham.operators.observed" not in _operator_modules()
    hooks = {m for entry in INFO["hooks"] for m in entry["python-modules"]}
    assert hooks == _modules(airflow_provider_hisham.hooks)
    integrations = {i["integration-name"] for i in INFO["integrations"]}
    assert {e["integration-name"] for e in INFO["operators"] + INFO["hooks"]} <= integrations


def test_every_listed_class_imports():
    for path in (*INFO["extra-links"], *INFO["secrets-backends"],
                 *(c["hook-class-name"] for c in INFO["connection-types"])):
        module, _, name = path.rpartition(".")
        assert inspect.isclass(getattr(importlib.import_module(module), name)), path


def test_no_placeholder_documentation_url():
    """A URL is listed only where a real page exists: the forges' API docs, not this unpublished package."""
    urls = {i["integration-name"]: i.get("external-doc-url") for i in INFO["integrations"]}
    assert urls.pop("HishamOS") is None
    assert urls == {"GitHub": "https://docs.github.com/en/rest", "GitLab": "https://docs.gitlab.com/api/"}
    assert "pypi.org" not in repr(INFO)  # not published there (yet)
