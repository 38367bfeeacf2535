"""Budget arithmetic and its messages."""

from __future__ import annotations

import pytest

from airflow_provider_hisham.agents import AgentBudgetExceeded, Spent, check_after, check_before, spent_by_others
from airflow_provider_hisham.agents.budget import usage_record


def test_spent_by_the_other_steps_of_the_run():
    records = [usage_record("a", -1, "x", 0.5, 10, False), usage_record("m", 0, "x", 0.25, 5, False),
               usage_record("m", 1, "x", 0.25, 5, True), None, {"cost": "bad"}, "junk"]
    assert spent_by_others(records, "m", 1) == Spent(0.75, 15, 2)
    assert spent_by_others([], "m", -1) == Spent()


def test_before_paying():
    check_before("s", Spent(0.5, 10, 1), 1.0, None)
    check_before("s", Spent(0.5, 10, 1), None, None)
    with pytest.raises(AgentBudgetExceeded) as err:
        check_before("s", Spent(1.0, 10, 2), 1.0, 100)
    assert str(err.value) == ("agent step 's' not run: this run's agent steps already spent cost 1.000000 and 10 "
                              "tokens over 2 agent step(s), at or over the budget (max_cost 1.0 / max_tokens 100)")
    with pytest.raises(AgentBudgetExceeded, match=r"\(max_tokens 10\)"):
        check_before("s", Spent(0.0, 10, 1), None, 10)


def test_after_the_answer():
    check_after("s", Spent(0.5, 10, 1), 0.5, 5, 1.0, 15)  # exactly at the budget passes
    with pytest.raises(AgentBudgetExceeded) as err:
        check_after("s", Spent(0.5, 10, 1), 0.25, 6, 1.0, 15)
    assert str(err.value) == (
        "agent step 's' took this run over budget (max_cost 1.0 / max_tokens 15): it spent cost 0.250000 and 6 "
        "tokens; the run's agent steps spent cost 0.750000 and 16 tokens in all (earlier: cost 0.500000 and 10 "
        "tokens over 1 agent step(s)); its usage is recorded")
