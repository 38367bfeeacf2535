"""Run budgets of agent steps: what the run's agent steps spent, and the step that would pass it.

Each agent step records its usage (XCom key ``hisham_agent_usage``); a step with ``max_cost`` /
``max_tokens`` sums the usage of the run's other agent steps before it pays (and fails if the run
is already at or over budget), then adds its own and fails, usage kept, if that went over.
Steps running at the same moment do not see each other: the check is per step, not a lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_hisham.agents.errors import AgentBudgetExceeded

USAGE_XCOM_KEY = "hisham_agent_usage"


@dataclass(frozen=True)
class Spent:
    cost: float = 0.0
    tokens: int = 0
    steps: int = 0

    def describe(self) -> str:
        return f"cost {self.cost:.6f} and {self.tokens} tokens over {self.steps} agent step(s)"


def usage_record(task_id: str, map_index: int, agent: str, cost: float, tokens: int, reused: bool) -> dict[str, Any]:
    return {"task_id": task_id, "map_index": map_index, "agent": agent, "cost": cost, "tokens": tokens,
            "reused": reused}


def spent_by_others(records: Iterable[Any], task_id: str, map_index: int) -> Spent:
    """Sum the usage records, leaving out this task instance's own (an earlier try of it)."""
    cost, tokens, steps = 0.0, 0, 0
    for rec in records:
        if not isinstance(rec, Mapping) or (rec.get("task_id"), rec.get("map_index")) == (task_id, map_index):
            continue
        try:
            cost += float(rec.get("cost") or 0)
            tokens += int(rec.get("tokens") or 0)
        except (TypeError, ValueError):
            continue
        steps += 1
    return Spent(cost, tokens, steps)


def _limits(max_cost: float | None, max_tokens: int | None) -> str:
    parts = ([f"max_cost {max_cost}"] if max_cost is not None else []) + \
        ([f"max_tokens {max_tokens}"] if max_tokens is not None else [])
    return " / ".join(parts)


def check_before(step: str, spent: Spent, max_cost: float | None, max_tokens: int | None) -> None:
    """Refuse to pay when the run is already at or over its budget."""
    if (max_cost is not None and spent.cost >= max_cost) or (max_tokens is not None and spent.tokens >= max_tokens):
        raise AgentBudgetExceeded(f"agent step {step!r} not run: this run's agent steps already spent "
                                  f"{spent.describe()}, at or over the budget ({_limits(max_cost, max_tokens)})")


def check_after(step: str, spent: Spent, cost: float, tokens: int, max_cost: float | None,
                max_tokens: int | None) -> None:
    """Fail the step whose answer took the run over budget (its usage is already recorded)."""
    total_cost, total_tokens = spent.cost + cost, spent.tokens + tokens
    if (max_cost is not None and total_cost > max_cost) or (max_tokens is not None and total_tokens > max_tokens):
        raise AgentBudgetExceeded(
            f"agent step {step!r} took this run over budget ({_limits(max_cost, max_tokens)}): it spent cost "
            f"{cost:.6f} and {tokens} tokens; the run's agent steps spent cost {total_cost:.6f} and {total_tokens} "
            f"tokens in all (earlier: {spent.describe()}); its usage is recorded")
