"""Idempotency markers."""

import pytest

from airflow_provider_hisham.api.idempotency import EXPORT, MARKER_FIELD, TASK, find_marked, marker, with_marker, with_marker_tag


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


def test_markers_in_export_config_and_generated_project_directory():
    from airflow_provider_hisham.api.idempotency import (
        MAX_DIRECTORY,
        directory_marker,
        marked_directory,
        marker_of,
        with_marker_config,
    )

    export = with_marker_config({"config": {"url": "u"}}, "k")
    assert export["config"] == {"url": "u", MARKER_FIELD: "k"} and find_marked([export], "k") is export
    assert marked_directory("/data/shop", "af1-x") == "/data/shop#af1-x"
    long = marked_directory("/" + "d" * 600, "af1-x")
    assert len(long) == MAX_DIRECTORY and long.startswith("...") and directory_marker(long) == "af1-x"
    assert marker_of({"output_directory": "/data/shop#af1-x"}) == "af1-x"
    assert marker_of({"output_directory": "/data/shop"}) is None and directory_marker(None) is None


def test_generated_project_transitions():
    from airflow_provider_hisham.records import transition_path

    assert transition_path("pending", "completed") == ["generating", "completed"]
    assert transition_path("generating", "failed") == ["failed"]
    assert transition_path("completed", "completed") == []
    assert transition_path("completed", "archived") == ["archived"]
    assert transition_path("failed", "completed") is None and transition_path("completed", "failed") is None


# Markers already written into remote records by released versions: a retry after an upgrade must
# compute the very same strings, so these values must never change.
PINNED = [
    (("dag", "manual__2024-01-01T00:00:00+00:00", "export", -1), "",
     "af1-89f606e1c0952e8faeb87ba626a9fd90d12b1994", "hisham-export:c7edd9a7f00747b9"),
    (("dag", "run", "export", 3), "", "af1-3ec3a921173946961aa12b1fd0817621ebc8a731", "hisham-export:8043ffe5200a1a74"),
    (("dag", "run", "export", None), "", "af1-b1a1e9047266da15022ba1375adac531690b3a33", "hisham-export:6992b4a6c7535361"),
    (("dåg", "rün", "tâsk", 0), "", "af1-ee167da3b090dc2cf8f84ad5abc530a1a78c78be", "hisham-export:ade04d50a20feb80"),
    (("dag", "run", "export", 3), "repository_export", "af1-7e7df26e0aa8f935fee43108738941dc69a18a52", None),
]


@pytest.mark.parametrize(("instance", "salt", "task", "export"), PINNED)
def test_markers_keep_the_values_earlier_releases_wrote(instance, salt, task, export):
    assert marker(*instance, salt=salt) == marker(*instance, salt=salt, scheme=TASK) == task
    if export is not None:
        assert marker(*instance, scheme=EXPORT) == export


def test_an_unsalted_scheme_refuses_a_salt():
    with pytest.raises(ValueError, match="take no salt"):
        marker("dag", "run", "task", -1, salt="x", scheme=EXPORT)
