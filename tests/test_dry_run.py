"""The one dry-run switch: params.dry_run or the operator's argument, text read as booleans."""

from __future__ import annotations

import pytest

from airflow_provider_hisham.booleans import BooleanValueError
from airflow_provider_hisham.dry_run import declares_same_meaning, is_dry_result, is_dry_run, param_spec, report


@pytest.mark.parametrize(("params", "explicit", "expected"), [
    ({}, None, False),
    ({"dry_run": False}, None, False),
    ({"dry_run": True}, None, True),
    ({"dry_run": "yes"}, None, True),
    ({"dry_run": "off"}, None, False),
    ({"dry_run": None}, True, True),
    ({"dry_run": True}, False, True),  # an explicit False does not make one step of a dry run real
    ({}, "true", True),
])
def test_is_dry_run_reads_params_and_the_explicit_argument(params, explicit, expected):
    assert is_dry_run({"params": params}, explicit) is expected


def test_is_dry_run_refuses_what_is_not_a_boolean_naming_the_field():
    with pytest.raises(BooleanValueError, match="params.dry_run"):
        is_dry_run({"params": {"dry_run": "perhaps"}})
    assert is_dry_run(None) is False and is_dry_run({}) is False


def test_the_param_and_the_report():
    assert param_spec()["type"] == "boolean" and param_spec()["default"] is False
    assert declares_same_meaning({"type": "boolean", "default": True})
    assert declares_same_meaning({"type": ["boolean", "null"]})
    assert not declares_same_meaning({"type": "string"}) and not declares_same_meaning({"type": ["boolean", "string"]})
    out = report("api_call", "call", method="POST")
    assert out == {"dry_run": True, "step": "api_call", "would": "call", "method": "POST"} and is_dry_result(out)
    assert not is_dry_result({"dry_run": "true"}) and not is_dry_result(None)
