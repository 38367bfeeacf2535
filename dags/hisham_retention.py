"""Daily maintenance: remove expired generated projects and archives (``[hisham] retention_days``
and/or ``retention_keep_last``) from storage and this worker's local root, mark their HishamOS
records archived, keep every version a running DAG run still uses.

Runs once at a time (``max_active_runs=1``). With Celery workers on several hosts, put a copy of
the task on each worker's queue (``queue=``) to clean every local cache.
"""

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_hisham.operators.retention import HishamOSRetentionOperator

with DAG(
    dag_id="hisham_retention",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["hisham", "maintenance"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
):
    HishamOSRetentionOperator(task_id="apply_retention")
