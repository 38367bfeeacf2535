"""Running the example DAGs against local or real services: shared by the e2e tests and the quickstart.

The example DAGs (``dags/``) take their targets from Params; these helpers fill the Params a DAG
declares with the local servers' settings and collect where a run's results went.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from tests.e2e.rest import Rest, RunResult

# The connection the example DAGs push to git remotes with (dags/workflows/*.yaml).
GIT_CONN_ID = "git_default"
# The pattern each example DAG shows, as its tag (dags/workflows/*.yaml).
PATTERNS = ("sequential", "parallel", "conditional", "agents")
# XCom keys of the provider's operators that say where results went (HishamOSFileGenerationOperator,
# HishamOSRepoCreationOperator).
RESULT_KEYS = ("output_dir", "manifest_path", "total_files", "url", "commit_sha", "archive_path",
               "generated_project_id")


def find_example(dags: list[dict[str, Any]], wanted: str) -> list[dict[str, Any]]:
    """The DAGs (``/api/v2/dags`` entries) called ``wanted`` or tagged with it (``sequential``)."""
    exact = [d for d in dags if d["dag_id"] == wanted]
    return exact or [d for d in dags if wanted in {t["name"] for t in d.get("tags") or []}]


def conf_for(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides for Params the DAG declares; the Params' own defaults fill in the rest."""
    return {key: value for key, value in overrides.items() if key in params and value is not None}


def local_git_settings(repo_url: str, token: str, repository: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Environment (a connection holding the token) and Params for pushing to a local git server."""
    env = {f"AIRFLOW_CONN_{GIT_CONN_ID.upper()}": json.dumps(
        {"conn_type": "generic", "host": "{0.scheme}://{0.netloc}".format(urlsplit(repo_url)),
         "login": "x-access-token", "password": token})}
    return env, {"target": "git", "git_url": repo_url, "git_conn_id": GIT_CONN_ID, "repository_name": repository}


def collect_results(rest: Rest, result: RunResult) -> dict[str, Any]:
    """``{"<task_id>.<key>": value}`` for the RESULT_KEYS found in the run's return values."""
    found: dict[str, Any] = {}
    for task_id, ti in result.tasks.items():
        if str(getattr(ti.state, "value", ti.state)) != "success":
            continue
        try:
            value = rest.xcom(result, task_id)
        except Exception:  # noqa: BLE001 - a task without a return value has no XCom entry
            continue
        if isinstance(value, dict):
            found.update({f"{task_id}.{k}": v for k, v in value.items() if k in RESULT_KEYS and v})
    return found
