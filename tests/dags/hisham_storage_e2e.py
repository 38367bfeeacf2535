"""Generation on one Celery worker, export and archive on another (issue 14's e2e test).

The workers have different local roots and no shared disk: the hand-off is the storage URL and
manifest digest in XCom, through ``[hisham] storage_url`` (an S3-compatible server). The queues
come from the environment the test sets (``HISHAM_E2E_QUEUE_GENERATE`` / ``..._EXPORT``).
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, Param

from airflow_provider_hisham.operators.file_generation import HishamOSFileGenerationOperator
from airflow_provider_hisham.operators.repo_creation import HishamOSRepoCreationOperator

HANDOFF = {
    "source_dir": "{{ ti.xcom_pull(task_ids='generate')['output_dir'] }}",
    "source_storage_url": "{{ ti.xcom_pull(task_ids='generate')['storage_url'] }}",
    "source_manifest_sha256": "{{ ti.xcom_pull(task_ids='generate')['manifest_sha256'] }}",
    "repository_name": "{{ params.project_id }}",
    "queue": os.environ.get("HISHAM_E2E_QUEUE_EXPORT", "default"),
}

with DAG(
    dag_id="hisham_storage_e2e",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"project_id": Param("storage-e2e", type="string"), "git_url": Param("", type="string")},
    tags=["hisham", "e2e"],
):
    generate = HishamOSFileGenerationOperator(
        task_id="generate", project_id="{{ params.project_id }}", template="python-package",
        context={"project_name": "{{ params.project_id }}", "package_name": "storage_e2e"},
        queue=os.environ.get("HISHAM_E2E_QUEUE_GENERATE", "default"))
    push = HishamOSRepoCreationOperator(task_id="push", target="git", git_url="{{ params.git_url }}",
                                git_conn_id="git_default", **HANDOFF)
    archive = HishamOSRepoCreationOperator(task_id="archive", target="zip", **HANDOFF)
    generate >> push >> archive  # one after the other: git's work folder must not be in the archive
