"""Prompt and context are built the way HishamOS's workflow engine builds them."""

from __future__ import annotations

import datetime as dt

from airflow_provider_hisham.agents import build_context, build_prompt
from airflow_provider_hisham.api.idempotency import MARKER_FIELD


def test_prompt_precedence():
    inputs = {"n": 3, "first": "", "task_description": "describe", "prompt": "the prompt", "other": "o"}
    assert build_prompt("QA Agent", "explicit", inputs) == "explicit"
    assert build_prompt("QA Agent", "  ", inputs) == "the prompt"
    assert build_prompt("QA Agent", None, {**inputs, "prompt": ""}) == "describe"
    assert build_prompt("QA Agent", None, {"n": 3, "blank": " ", "bug": "it crashes", "x": "y"}) == "it crashes"
    assert build_prompt("QA Agent", None, {"n": 3, "data": {"k": "v"}}) == "Execute QA Agent task"
    assert build_prompt("QA Agent") == "Execute QA Agent task"
    assert build_prompt("QA Agent", {"rendered": "natively"}) == '{"rendered": "natively"}'


def test_context_is_the_inputs_with_context_over_them_and_the_marker():
    ctx = build_context({"a": 1, "b": "x", "when": dt.date(2026, 1, 2)}, {"b": "y"}, "af1-key")
    assert ctx == {"a": 1, "b": "y", "when": "2026-01-02", MARKER_FIELD: "af1-key"}
    assert build_context(None, None, None) == {}
