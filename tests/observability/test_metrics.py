"""Metric names and tags: endpoint templates group calls, tag values pass Airflow's name check."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_hisham.observability.metrics import METRICS, endpoint_template, markdown_table, tag_value

README = Path(__file__).resolve().parents[2] / "README.md"


def test_ids_in_paths_become_a_template_and_the_query_goes():
    uuid = "3f1c2b9e-8d7a-4e6f-9a1b-2c3d4e5f6a7b"
    assert endpoint_template(f"/api/v1/projects/{uuid}/stories/?page=2") == "/api/v1/projects/{id}/stories/"
    assert endpoint_template(f"/api/v1/agents/{uuid}/execute/") == "/api/v1/agents/{id}/execute/"
    assert endpoint_template("/api/v1/projects/sprints/42/") == "/api/v1/projects/sprints/{id}/"
    assert endpoint_template("/api/v1/projects/stories/") == "/api/v1/projects/stories/"


def test_tag_values_keep_to_the_characters_airflow_stats_accepts():
    from airflow.sdk._shared.observability.metrics.validators import stat_name_default_handler

    for raw in ("/api/v1/projects/{id}/stories/", "GET", 201, "a b,c=d{x}", "x" * 500):
        value = tag_value(raw)
        assert len(value) <= 120
        stat_name_default_handler(f"hisham.api.calls.{value}")  # raises for a character it refuses
    assert tag_value("/api/v1/projects/{id}/") == "/api/v1/projects/_id_/"


def test_readme_lists_every_metric_in_one_table():
    text = README.read_text()
    assert markdown_table() in text, "README's Observability table differs from observability.metrics.METRICS"
    assert len({m.name for m in METRICS}) == len(METRICS)
