"""Running the example DAGs against local or real services: shared by the e2e tests and the quickstart.

The example DAGs (``dags/``) take their targets from Params; these helpers fill the Params a DAG
declares with the local servers' settings and collect where a run's results went.
"""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.rest import Rest, RunResult

GIT_CONN_ID = "hisham_local_git"
# XCom keys of the provider's operators that say where results went (FileGenerationOperator,
# RepoCreationOperator).
RESULT_KEYS = ("output_dir", "manifest_path", "total_files", "url", "commit_sha", "archive_path",
               "generated_project_id")


def conf_for(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides for Params the DAG declares; the Params' own defaults fill in the rest."""
    return {key: value for key, value in overrides.items() if key in params and value is not None}


def local_git_settings(repo_url: str, token: str, repository: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Environment (a connection holding the token) and Params for pushing to a local git server."""
    env = {f"AIRFLOW_CONN_{GIT_CONN_ID.upper()}": json.dumps(
        {"conn_type": "generic", "login": "x-access-token", "password": token})}
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
