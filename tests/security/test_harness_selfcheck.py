"""The confinement harness itself (not counted as a test of the provider)."""

from __future__ import annotations

import time

import pytest

from tests.security.harness import assert_refused, run_confined

pytestmark = pytest.mark.harness  # the test harness, not the provider


def _boom():
    raise ValueError("refused: field 'x'")


def test_harness_reports_refusals_timeouts_and_memory():
    assert_refused(run_confined(_boom), ValueError, "field 'x'")
    assert run_confined(time.sleep, 30, timeout=1).kind == "timeout"
    out = run_confined(lambda: len("a" * (2 * 1024**3)), memory_mb=256)
    assert out.kind in ("raised", "killed") and (out.kind == "killed" or "MemoryError" in out.exc_type)
    assert run_confined(lambda: 6 * 7).value == 42
