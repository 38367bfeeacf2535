"""The ``[hisham]`` configuration: one option list, one reader, the provider info generated from it."""

from __future__ import annotations

import os

import pytest

from airflow_provider_hisham import config
from airflow_provider_hisham.get_provider_info import get_provider_info


def test_provider_info_lists_every_option_with_description_type_and_default():
    section = get_provider_info()["config"]["hisham"]
    assert set(section["options"]) == set(config.OPTIONS)
    for name, entry in section["options"].items():
        assert entry["description"] and entry["type"] in ("string", "integer", "boolean", "float"), name
        assert isinstance(entry["default"], str) and entry["version_added"] == config.VERSION_ADDED, name


def test_airflow_takes_the_defaults_from_the_provider_info(monkeypatch):
    from airflow.configuration import conf

    for name, option in config.OPTIONS.items():
        monkeypatch.delenv(f"AIRFLOW__HISHAM__{name.upper()}", raising=False)
        assert conf.get("hisham", name) == option.default, name
        assert config.get(name) == option.default


def test_readers(monkeypatch, tmp_path):
    home = os.environ["AIRFLOW_HOME"]
    monkeypatch.setenv("AIRFLOW__HISHAM__GENERATED_PROJECTS_ROOT", "")
    assert config.generated_projects_root() == os.path.join(home, "generated-projects")
    monkeypatch.setenv("AIRFLOW__HISHAM__GENERATED_PROJECTS_ROOT", "~/gp")
    assert config.generated_projects_root() == os.path.expanduser("~/gp")
    monkeypatch.setenv("AIRFLOW__HISHAM__TEMPLATES_DIR", os.pathsep.join([str(tmp_path), "", "rel"]))
    assert config.templates_dirs() == [str(tmp_path), os.path.abspath("rel")]
    monkeypatch.delenv("AIRFLOW__HISHAM__WORKFLOW_PLAN_CACHE_DIR", raising=False)
    assert str(config.workflow_plan_cache_dir()) == os.path.join(home, "cache", "hisham-workflow-plans")
    monkeypatch.setenv("AIRFLOW__HISHAM__MAX_FILES", " 12 ")
    assert config.get_int("max_files") == 12
    monkeypatch.setenv("AIRFLOW__HISHAM__STRICT_HISHAMOS_RECORDS", "off")
    assert config.strict_hishamos_records() is False
    monkeypatch.setenv("AIRFLOW__HISHAM__STRICT_HISHAMOS_RECORDS", "Yes")
    assert config.strict_hishamos_records() is True


@pytest.mark.parametrize("name, value, message", [
    ("max_files", "lots", r"\[hisham\] max_files must be an integer, got 'lots'"),
    ("strict_hishamos_records", "sometimes", r"\[hisham\] strict_hishamos_records: expected a boolean"),
    ("retention_days", "a week", r"\[hisham\] retention_days must be a number, got 'a week'"),
    ("retention_days", "nan", r"\[hisham\] retention_days must be a finite number"),
])
def test_wrong_types_are_refused_naming_the_option(monkeypatch, name, value, message):
    monkeypatch.setenv(f"AIRFLOW__HISHAM__{name.upper()}", value)
    with pytest.raises(config.HishamConfigError, match=message):
        {"integer": config.get_int, "float": config.get_float}.get(config.OPTIONS[name].type, config.get_bool)(name)


def test_no_other_module_reads_the_section():
    """One reader: nothing else in the package calls Airflow's conf for [hisham]."""
    package = os.path.dirname(config.__file__)
    offenders = []
    for folder, _, files in os.walk(package):
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith(".py") and path != config.__file__ and "/templates/" not in path:
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
                if '"hisham",' in text or "'hisham'," in text or "conf.getboolean" in text:
                    offenders.append(os.path.relpath(path, package))
    assert offenders == []


def test_readme_documents_every_option():
    from tests.conftest import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| Option (`[hisham]`)"):]
    table = table[:table.index("\n\n")]
    assert {line.split("`")[1] for line in table.splitlines()[2:]} == set(config.OPTIONS)
