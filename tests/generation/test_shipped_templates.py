"""The templates shipped in airflow_provider_hisham/templates generate projects whose own test suites pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_hisham.generation import ProjectGenerator, VariableError, available_templates, shipped_templates_dir

TEMPLATES = Path(shipped_templates_dir())

VARIANTS = {
    "python-package": [{}, {"project_name": "Text Tools", "use_cli": "false", "license": "Proprietary"}],
    "fastapi-service": [{}, {"service_name": "Orders API", "resource": "order", "api_prefix": "/v2", "include_docker": False}],
    "airflow-dags-project": [{}, {"project_name": "Ops Reports", "retries": "4", "tags": ["ops", "daily"], "with_example_data": True}],
}


def test_at_least_three_templates_are_shipped():
    assert set(VARIANTS) <= set(available_templates([str(TEMPLATES)]))
    for name in VARIANTS:
        assert (TEMPLATES / name / "template.yaml").is_file()


def _run_suite(project: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.parametrize("name, index", [(n, i) for n, vs in sorted(VARIANTS.items()) for i in range(len(vs))])
def test_generated_project_passes_its_own_tests(tmp_path, name, index):
    context = VARIANTS[name][index]
    result = ProjectGenerator(str(tmp_path), templates_dirs=[str(TEMPLATES)]).generate(f"{name}-{index}", template=name, context=context)
    project = Path(result.output_dir)
    assert not list(project.rglob("template.yaml"))
    run = _run_suite(project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed" in run.stdout and "failed" not in run.stdout


def test_conditional_files_follow_variables(tmp_path):
    gen = ProjectGenerator(str(tmp_path), templates_dirs=[str(TEMPLATES)])
    with_cli = Path(gen.generate("a", template="python-package").output_dir)
    without = Path(gen.generate("b", template="python-package", context={"use_cli": False, "license": "Proprietary"}).output_dir)
    assert (with_cli / "src/my_package/cli.py").is_file() and (with_cli / "LICENSE").is_file()
    assert not (without / "src/my_package/cli.py").exists() and not (without / "LICENSE").exists()
    assert not (without / "tests/test_cli.py").exists()
    api = Path(gen.generate("c", template="fastapi-service", context={"include_docker": "no"}).output_dir)
    assert not (api / "Dockerfile").exists()


def test_template_variables_are_validated(tmp_path):
    gen = ProjectGenerator(str(tmp_path), templates_dirs=[str(TEMPLATES)])
    with pytest.raises(VariableError, match="package_name"):
        gen.generate("x", template="python-package", context={"package_name": "Not-Valid"})
    with pytest.raises(VariableError, match="port"):
        gen.generate("x", template="fastapi-service", context={"port": 0})
