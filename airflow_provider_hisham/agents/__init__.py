"""Agent steps in plain Python (no Airflow): resolving agent references, building the prompt and
context like HishamOS's engine, parsing answers, durable reuse, budgets, answers -> files."""

from airflow_provider_hisham.agents.budget import USAGE_XCOM_KEY, Spent, check_after, check_before, spent_by_others
from airflow_provider_hisham.agents.durable import answer_from_execution, find_execution
from airflow_provider_hisham.agents.errors import (
    AgentBudgetExceeded,
    AgentError,
    AgentMappingError,
    AgentNotFoundError,
    AgentOutputError,
    AgentRunPendingError,
)
from airflow_provider_hisham.agents.files import structure_from_output
from airflow_provider_hisham.agents.output import BASE_KEYS, iter_fences, parse_json_answer, step_result
from airflow_provider_hisham.agents.prompt import build_context, build_prompt
from airflow_provider_hisham.agents.resolve import AgentDirectory, mapping_from_conf, merge_mappings, slug_candidates, slugify

__all__ = [
    "BASE_KEYS", "USAGE_XCOM_KEY", "AgentBudgetExceeded", "AgentDirectory", "AgentError", "AgentMappingError", "AgentNotFoundError",
    "AgentOutputError", "AgentRunPendingError", "Spent", "answer_from_execution", "build_context", "build_prompt",
    "check_after", "check_before", "find_execution", "iter_fences", "mapping_from_conf", "merge_mappings", "parse_json_answer", "slug_candidates",
    "slugify", "spent_by_others", "step_result", "structure_from_output",
]
