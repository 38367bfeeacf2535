{{ (project_name ~ ": extract -> transform -> load, one run a " ~ schedule | replace("@", "") ~ ".") | pyrepr }}

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, task

from {{ package_name }}.transform import clean, parse_rows, totals_by_region

DATA_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "include", "{{ package_name }}", "sample.csv")

with DAG(
    dag_id={{ dag_id | pyrepr }},
    schedule={{ schedule | pyrepr }},
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"owner": {{ owner | pyrepr }}, "retries": {{ retries }}, "retry_delay": timedelta(minutes=5)},
    tags={{ tags | pyrepr }},
) as dag:

    @task
    def extract() -> list[dict[str, str]]:
        with open(DATA_FILE, encoding="utf-8") as fh:
            return parse_rows(fh.read())

    @task
    def transform(rows: list[dict[str, str]]) -> dict[str, float]:
        return totals_by_region(clean(rows))

    @task
    def load(totals: dict[str, float]) -> int:
        for region, amount in totals.items():
            print(f"{region}: {amount}")
        return len(totals)

    load(transform(extract()))
