"""The one boolean parser: one truth table, unknown spellings refused with the field's name."""

from __future__ import annotations

import pytest

from airflow_provider_hisham.booleans import FALSE, TRUE, BooleanValueError, parse_bool


@pytest.mark.parametrize("text", sorted(TRUE) + [" TRUE ", "Yes", "ON"])
def test_true_spellings(text):
    assert parse_bool(text, "f") is True


@pytest.mark.parametrize("text", sorted(FALSE) + [" False", "OFF", "No"])
def test_false_spellings(text):
    assert parse_bool(text, "f") is False  # "off" is false everywhere


def test_bools_ints_and_defaults():
    assert parse_bool(True, "f") is True and parse_bool(0, "f") is False and parse_bool(1, "f") is True
    assert parse_bool(None, "f", default=True) is True and parse_bool("  ", "f", default=False) is False


@pytest.mark.parametrize("value", ["maybe", "offf", "2", 2, -1, 1.0, [], {}, None, ""])
def test_anything_else_is_refused_naming_the_field(value):
    with pytest.raises(BooleanValueError, match=r"^connection 'x': field 'verify_ssl': expected a boolean") as info:
        parse_bool(value, "connection 'x': field 'verify_ssl'")
    assert info.value.field == "connection 'x': field 'verify_ssl'"


def test_a_long_value_is_cut_in_the_message():
    message = str(pytest.raises(BooleanValueError, parse_bool, "y" * 10_000, "f").value)
    assert len(message) < 200
