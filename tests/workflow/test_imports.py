"""Building DAGs from configs must not import the git libraries (they are heavy and optional)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
from pathlib import Path
import airflow_provider_hisham
from airflow_provider_hisham import workflow
from airflow_provider_hisham.workflow import load_dags
plain = sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow."))
result = load_dags(Path(sys.argv[1]), {}, cache_dir=False)
print(json.dumps({
    "airflow_before_building": plain,
    "dags": sorted(result.dags),
    "errors": {k: str(v) for k, v in result.errors.items()},
    "git_modules": sorted(m for m in sys.modules if m.split(".")[0] in ("git", "gitlab", "github")),
}))
"""


def run(folder: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(folder)], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_plain_workflow_layer_imports_no_airflow_and_building_imports_no_git_library():
    got = run(REPO / "dags" / "workflows")
    assert got["airflow_before_building"] == []  # parsing/validation layer is plain Python
    assert sorted(got["dags"]) == [
        "hisham_code_tests_docs", "hisham_export_by_choice", "hisham_review_before_publish",
        "hisham_review_then_pull_request",
        "hisham_story_to_repository", "hishamos_agents_to_repository", "hishamos_feature_to_archive",
    ], got["errors"]
    assert got["git_modules"] == []  # built without GitPython, python-gitlab or PyGithub
