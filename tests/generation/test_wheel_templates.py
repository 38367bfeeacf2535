"""The built wheel ships every template: installed into a fresh virtualenv, each one generates.

The wheel is built from this checkout with pip (no dependencies), installed with ``--no-deps``
into a new virtualenv whose only view of the shared environment is a ``.pth`` line (so Airflow
and Jinja are importable without a download, while the shared environment's editable install of
this provider is not), and the generation runs there with the checkout out of ``sys.path``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from airflow_provider_hisham.generation import available_templates, shipped_templates_dir
from tests.conftest import REPO_ROOT

SCRIPT = """
import json, os, sys
from airflow_provider_hisham.generation import ProjectGenerator, available_templates, shipped_templates_dir
shipped = shipped_templates_dir()
gen = ProjectGenerator(sys.argv[1], templates_dirs=[shipped])
out = {"shipped": shipped, "templates": {}}
for name in available_templates([shipped]):
    result = gen.generate(name, template=name)
    files = sorted(os.path.relpath(os.path.join(d, f), result.output_dir) for d, _, fs in os.walk(result.output_dir) for f in fs)
    out["templates"][name] = {"files": files, "total": result.summary["total_files"]}
print(json.dumps(out))
"""


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith(("AIRFLOW", "PIP_"))}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    src = tmp_path_factory.mktemp("src")  # a copy: the build leaves build/ and *.egg-info behind
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO_ROOT / name).exists():
            shutil.copy2(REPO_ROOT / name, src / name)
    shutil.copytree(REPO_ROOT / "airflow_provider_hisham", src / "airflow_provider_hisham",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(out)],
        capture_output=True, text=True, timeout=600, env=_clean_env(),
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = out.glob("airflow_provider_hisham-*.whl")
    return wheel


def test_installed_wheel_generates_from_every_shipped_template(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "shared-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        capture_output=True, text=True, timeout=300, env=_clean_env(),
    )
    assert install.returncode == 0, install.stdout + install.stderr
    run = subprocess.run([python, "-c", SCRIPT, str(tmp_path / "out")], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env=_clean_env())
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert Path(result["shipped"]).is_relative_to(Path(site)), result["shipped"]
    here = shipped_templates_dir()
    assert sorted(result["templates"]) == available_templates([here]) and len(result["templates"]) >= 3
    for name, info in result["templates"].items():
        # same file list as generating from the checkout, dotfiles included
        expected = sorted(
            os.path.relpath(os.path.join(d, f), tmp_path / "src" / name)
            for d, _, fs in os.walk(_generate_here(tmp_path / "src", name)) for f in fs
        )
        assert info["files"] == expected and info["total"] == len(expected), name
        assert ".gitignore" in info["files"], name


def _generate_here(root: Path, name: str) -> str:
    from airflow_provider_hisham.generation import ProjectGenerator

    return ProjectGenerator(str(root), templates_dirs=[shipped_templates_dir()]).generate(name, template=name).output_dir
