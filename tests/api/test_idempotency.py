"""Idempotency markers."""

from airflow_provider_hisham.api.idempotency import MARKER_FIELD, find_marked, marker, with_marker, with_marker_tag


def test_marker_is_stable_per_task_instance_and_distinct_otherwise():
    a = marker("dag", "run1", "task", -1)
    assert a == marker("dag", "run1", "task", None) and a.startswith("af1-")
    others = {marker("dag", "run2", "task"), marker("dag", "run1", "task", 0), marker("dag", "run1", "other"),
              marker("dag2", "run1", "task"), marker("dag", "run1", "task", salt="x")}
    assert a not in others and len(others) == 5


def test_marker_round_trip_in_custom_fields_and_tags():
    body = with_marker({"title": "t", "custom_fields": {"keep": 1}}, "k")
    assert body["custom_fields"] == {"keep": 1, MARKER_FIELD: "k"}
    project = with_marker_tag({"tags": ["x"]}, "k")
    assert project["tags"] == ["x", f"{MARKER_FIELD}=k"]
    assert find_marked([{"id": 1}, {"id": 2, **body}], "k")["id"] == 2
    assert find_marked([{"id": 3, **project}], "k")["id"] == 3
    assert find_marked([{"id": 2, **body}], "other") is None
