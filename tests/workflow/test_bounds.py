"""What the bounds still accept: anchors within the budget, safe patterns, sane numbers."""

from __future__ import annotations

import pytest

from airflow_provider_hisham.workflow.regex_guard import UnsafePatternError, guard_schema, max_input
from airflow_provider_hisham.workflow.source import MAX_ALIAS_VALUES, parse_text


def test_aliases_within_the_budget_are_expanded():
    source = parse_text("base: &b {retries: 2, pool: p}\nsteps: [*b, *b, {x: *b}]\n", "ok.yaml")
    assert source.data["steps"] == [{"retries": 2, "pool": "p"}] * 2 + [{"x": {"retries": 2, "pool": "p"}}]
    many = "item: &i [1, 2]\nall: [" + ",".join(["*i"] * (MAX_ALIAS_VALUES // 3 - 1)) + "]\n"
    assert len(parse_text(many, "ok.yaml").data["all"]) == MAX_ALIAS_VALUES // 3 - 1


@pytest.mark.parametrize(
    "pattern, limit",
    [(r"^[a-z][a-z0-9_]*$", 10_000), (r"^https?://[^/]+(/.*)?$", 10_000), (r"^[a-z]+@[a-z]+\.[a-z]+$", 464), (r"\w+@", 10_000)],
)
def test_safe_patterns_are_kept_and_bounded(pattern, limit):
    assert max_input(pattern) == limit
    guarded = guard_schema({"type": "string", "pattern": pattern})
    assert guarded["maxLength"] == limit and "pattern" not in guarded
    assert guarded["allOf"] == [{"if": {"maxLength": limit}, "then": {"pattern": pattern}}]


def test_a_guarded_param_accepts_matching_values_and_refuses_others_quickly():
    from airflow.sdk import Param

    schema = guard_schema({"type": "string", "pattern": r"^[a-z]+@[a-z]+\.[a-z]+$"})
    assert Param("dev@example.org", **schema).resolve() == "dev@example.org"
    for bad in ("not an address", "a" * 100_000):
        with pytest.raises(ValueError):
            Param(**schema).resolve(bad)


def test_an_explicit_max_length_within_the_bound_is_kept():
    assert guard_schema({"type": "string", "pattern": r"^\w*\w*@", "maxLength": 40})["maxLength"] == 40
    with pytest.raises(UnsafePatternError, match="at most 10000"):
        guard_schema({"type": "string", "pattern": r"^\w*\w*@", "maxLength": 20_000})
