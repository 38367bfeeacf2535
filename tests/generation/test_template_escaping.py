"""Every shipped template quotes context values for the language of the file it writes.

Values a HishamOS agent supplies (names, descriptions, authors, tags) hold quotes, triple quotes,
backslashes, newlines and Jinja syntax here. The generated Python must parse and the TOML load,
each value must come back unchanged as a string (never as code, never rendered a second time),
and the generated project's own tests must still pass.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from airflow_provider_hisham.generation import ProjectGenerator, VariableError, shipped_templates_dir
from tests.generation.test_shipped_templates import _run_suite

HOSTILE = 'Evil """ \'\'\' "x" \\ back\\slash\nimport os; os.system("id")\n{{ 7 * 7 }} {% if 1 %}1{% endif %} 100% \u2028 #'

VARIANTS = {
    "python-package": {"project_name": HOSTILE, "package_name": "evil_pkg", "description": HOSTILE, "author": HOSTILE},
    "fastapi-service": {"service_name": HOSTILE, "package_name": "evil_service"},
    "airflow-dags-project": {"project_name": HOSTILE, "package_name": "evil_dags", "owner": HOSTILE, "tags": [HOSTILE, "etl"]},
}
# free-form values only: the identifiers the templates paste unquoted are held to a pattern
REFUSED = {
    "python-package": {"package_name": 'x"; import os; "'},
    "fastapi-service": {"resource": 'item"\nimport os\n'},
    "airflow-dags-project": {"dag_id": 'd"); import os; ("'},
}


def _strings(project: Path) -> list[str]:
    """Every str constant of every generated .py file and every string of every .toml file."""
    found: list[str] = []
    for path in project.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))  # a syntax error fails here
        found += [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    for path in project.rglob("*.toml"):
        stack = [tomllib.loads(path.read_text(encoding="utf-8"))]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str):
                found.append(item)
    return found


def _code_nodes(project: Path) -> set[str]:
    """Names of every module imported by the generated code (an injected 'import os' would show)."""
    names = set()
    for path in project.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
    return names


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_hostile_values_round_trip_as_strings(tmp_path, name):
    clean = ProjectGenerator(str(tmp_path / "clean"), templates_dirs=[shipped_templates_dir()]).generate(
        name, template=name, context={k: v for k, v in VARIANTS[name].items() if k == "package_name"})
    result = ProjectGenerator(str(tmp_path), templates_dirs=[shipped_templates_dir()]).generate(name, template=name, context=VARIANTS[name])
    project = Path(result.output_dir)
    strings = _strings(project)
    assert sum(HOSTILE in s for s in strings) >= 2, "the hostile value does not come back as a string"
    assert not any("49" in s and HOSTILE.replace("{{ 7 * 7 }}", "49") in s for s in strings)  # never rendered twice
    assert _code_nodes(project) == _code_nodes(Path(clean.output_dir)), "the value added code"
    for path in project.rglob("*.toml"):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        if name == "python-package":
            assert data["project"]["description"] == HOSTILE and data["project"]["authors"] == [{"name": HOSTILE}]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_generated_project_with_hostile_values_passes_its_own_tests(tmp_path, name):
    result = ProjectGenerator(str(tmp_path), templates_dirs=[shipped_templates_dir()]).generate(name, template=name, context=VARIANTS[name])
    run = _run_suite(Path(result.output_dir))
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed" in run.stdout and "failed" not in run.stdout


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_values_pasted_as_identifiers_are_held_to_their_pattern(tmp_path, name):
    (var, value), = REFUSED[name].items()
    with pytest.raises(VariableError, match=var):
        ProjectGenerator(str(tmp_path), templates_dirs=[shipped_templates_dir()]).generate(name, template=name, context=REFUSED[name])
    assert not (tmp_path / name).exists()


def test_cli_help_keeps_a_percent_in_the_description(tmp_path):
    """argparse %-formats its help text: the template doubles a '%' so --help still works."""
    result = ProjectGenerator(str(tmp_path), templates_dirs=[shipped_templates_dir()]).generate(
        "p", template="python-package", context=VARIANTS["python-package"])
    run = subprocess.run([sys.executable, "-m", "evil_pkg", "--help"], cwd=Path(result.output_dir) / "src",
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "100%" in run.stdout
