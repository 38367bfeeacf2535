"""The ``agent`` step: run one HishamOS agent as an Airflow task, durably and within a run budget.

A thin operator over :mod:`airflow_provider_hisham.agents` (plain Python) and the HishamOS hook:

* the agent reference resolves by the ``agents`` mapping (the task's, then the run's
  ``dag_run.conf["agents"]``, then the connection's extra ``agents``: see
  :func:`~airflow_provider_hisham.agents.resolve.merge_mappings`; an agent id is never remapped),
  then id, exact name, slug, and the slug of the name with/without "agent"; the backend's agent
  list is fetched once per process and connection and kept ``AGENT_CACHE_SECONDS`` (Airflow 3
  runs each task in its own process, so in practice: once per task; under ``dag.test()`` once
  per run). :func:`resolve_agents` checks references before any agent runs;
* prompt and context are built like HishamOS's engine (:mod:`airflow_provider_hisham.agents.prompt`);
* durable: the context carries the task instance's marker (``airflow_idempotency_key``); a retry
  (try 2+) looks it up in the agent's executions and reuses that answer instead of paying again.
  Clearing a task re-runs it in the same DAG run and so also reuses the answer: trigger a new run
  for a fresh one;
* HishamOS's own answers to the execute call (500 "You cannot call this from an async context",
  400, 403 tier limit...) fail the task without retries; only lost connections are retried;
* usage (cost, tokens) goes to the result, XCom ``hisham_agent_usage``, the log and the Stats
  metrics ``hisham.agent.cost`` (a delta gauge) / ``hisham.agent.tokens`` (a counter), tagged by agent.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_hisham.agents import (
    USAGE_XCOM_KEY,
    AgentBudgetExceeded,
    AgentDirectory,
    AgentMappingError,
    AgentNotFoundError,
    Spent,
    answer_from_execution,
    build_context,
    build_prompt,
    check_after,
    check_before,
    find_execution,
    mapping_from_conf,
    merge_mappings,
    spent_by_others,
    step_result,
)
from airflow_provider_hisham.agents.budget import usage_record
from airflow_provider_hisham.api.errors import HishamOSAPIError, HishamOSConfigError
from airflow_provider_hisham.api.idempotency import marker
from airflow_provider_hisham.dry_run import is_dry_run, report
from airflow_provider_hisham.operators.observed import Observed, observed

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_hisham.hooks.hishamos import HishamOSHook

try:
    from airflow.sdk.observability.stats import Stats
except ImportError:  # pragma: no cover - Airflow < 3.2
    from airflow.stats import Stats  # type: ignore[no-redef]

AGENT_CACHE_SECONDS = 300.0
#: Records older than the DAG run's start minus this cannot be the run's (allows for clock skew).
LOOKUP_SKEW = dt.timedelta(hours=1)
#: Statuses worth a task retry (the hook already retried them); any other answer fails the task.
_TRANSIENT = (429, 502, 503, 504)

_agent_cache: dict[tuple[str, str], tuple[float, list[dict[str, Any]]]] = {}


def _hook(conn_id: str, user_id: str | None) -> HishamOSHook:
    from airflow_provider_hisham.hooks.hishamos import HishamOSHook

    return HishamOSHook(conn_id, user_id=user_id)


def _connection_mapping(hook: HishamOSHook) -> dict[str, str]:
    """The connection's extra ``agents``: ``{"QA Agent": "qa-testing-agent", ...}``."""
    raw = hook.extra_field("agents", {})
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise HishamOSConfigError(f"connection {hook.hishamos_conn_id!r}: extra field 'agents' must map agent "
                                  "references to agent ids, names or slugs (strings)")
    return raw


def clear_agent_cache() -> None:
    """Forget the cached agent lists (e.g. after agents were added to the backend)."""
    _agent_cache.clear()


def agent_directory(hook: HishamOSHook, mapping: Mapping[str, str] | None = None,
                    run_mapping: Mapping[str, str] | None = None) -> AgentDirectory:
    """The backend's agents (cached per process and connection) with the references of ``mapping``
    (the task's), ``run_mapping`` (the run's conf) and the connection's extra, in that precedence."""
    hook.get_conn()
    key = (hook.hishamos_conn_id, hook.base_url)
    cached = _agent_cache.get(key)
    if cached is None or time.monotonic() - cached[0] > AGENT_CACHE_SECONDS:
        cached = (time.monotonic(), hook.list_agents())
        _agent_cache[key] = cached
    return AgentDirectory(cached[1], merge_mappings(task=mapping, conf=run_mapping, connection=_connection_mapping(hook)))


def run_mapping(dag_run: Any) -> dict[str, str]:
    """The run's ``dag_run.conf["agents"]``, checked; a malformed one fails the task without retries."""
    try:
        return mapping_from_conf(getattr(dag_run, "conf", None))
    except AgentMappingError as exc:
        raise AirflowFailException(str(exc)) from exc


def resolve_agents(names: Iterable[str], *, agents: Mapping[str, str] | None = None,
                   hishamos_conn_id: str = "hishamos_default", user_id: str | None = None,
                   conf_agents: Mapping[str, str] | None = None) -> dict[str, dict[str, str]]:
    """``{reference: {"id", "name", "agent_id"}}`` for every reference, or one
    :class:`AgentNotFoundError` naming all unresolved ones and the agents the backend has.
    Call it in a workflow's first task so that a bad reference fails before any agent runs;
    ``conf_agents`` is the run's ``dag_run.conf["agents"]`` (below ``agents`` in precedence)."""
    directory = agent_directory(_hook(hishamos_conn_id, user_id), agents, conf_agents)
    found = directory.resolve_all(names)
    return {ref: {k: str(a.get(k)) for k in ("id", "name", "agent_id")} for ref, a in found.items()}


def _is_agent_id(reference: str) -> bool:
    try:
        uuid.UUID(reference.strip())
    except ValueError:
        return False
    return True


def _is_agent_task(task: Any) -> bool:
    cls = getattr(task, "operator_class", None) or type(task)  # a mapped task is a MappedOperator
    return isinstance(cls, type) and issubclass(cls, HishamOSAgentOperator)


class HishamOSAgentOperator(Observed, BaseOperator):
    """Execute a HishamOS agent and return its answer.

    :param agent: the agent: id, name, slug, or a reference resolved through ``agents``.
    :param prompt: the prompt; default ``inputs.prompt``, ``inputs.task_description``, the first
        non-empty string input, else ``"Execute <agent> task"`` (HishamOS's engine's rule).
    :param inputs: the step's inputs (templated; sent as the context, like HishamOS's engine).
    :param context: more context, merged over ``inputs``.
    :param agents: reference -> agent id, name or slug (over ``dag_run.conf["agents"]``, which is
        over the connection's extra ``agents``).
    :param user_id: HishamOS user to act as (auth mode ``jwt_secret``).
    :param max_cost: / :param max_tokens: the run's budget for agent steps: fail before paying when
        the run's other agent steps already spent it, or after the answer that went over it.
    :returns: ``{"text", "content", "success", "cost", "tokens_used", "execution_time" (ms),
        "agent" (the agent's slug)}`` plus, when the answer is JSON (the whole text or its one
        fenced ``json`` block), the object's keys (except those base keys; a non-object JSON, or
        one with a base key, is under ``json``).
    """

    hisham_step = "agent"

    template_fields: Sequence[str] = ("agent", "prompt", "inputs", "context", "user_id")
    template_fields_renderers = {"inputs": "json", "context": "json"}
    ui_color = "#f3e8fb"

    def __init__(self, *, agent: str, prompt: str | None = None, inputs: dict[str, Any] | None = None,
                 context: dict[str, Any] | None = None, agents: dict[str, str] | None = None,
                 hishamos_conn_id: str = "hishamos_default", user_id: str | None = None,
                 max_cost: float | None = None, max_tokens: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not agent:
            raise HishamOSConfigError(f"task {kwargs.get('task_id')!r}: 'agent' is required")
        for name, value in (("max_cost", max_cost), ("max_tokens", max_tokens)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise HishamOSConfigError(f"task {kwargs.get('task_id')!r}: {name} must be a non-negative number")
        self.agent = agent
        self.prompt = prompt
        self.inputs = inputs
        self.context = context
        self.agents = dict(agents or {})
        self.hishamos_conn_id = hishamos_conn_id
        self.user_id = user_id
        self.max_cost = max_cost
        self.max_tokens = max_tokens

    def _user(self) -> str | None:
        value = str(self.user_id).strip() if self.user_id is not None else ""
        return None if value in ("", "None") else value

    def _dict(self, name: str) -> dict[str, Any]:
        value = getattr(self, name)
        if value in (None, ""):
            return {}
        if not isinstance(value, Mapping):
            raise HishamOSConfigError(f"task {self.task_id!r}: {name} must be a mapping, got {type(value).__name__}")
        return dict(value)

    @observed
    def execute(self, context: Context) -> dict[str, Any]:
        hook = _hook(self.hishamos_conn_id, self._user())
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        map_index = -1 if map_index is None else map_index
        try:
            # an agent id (what a definition's resolve_agents task hands on) is final: the run's
            # conf maps references, it does not redirect an agent already resolved
            conf_mapping = {} if _is_agent_id(str(self.agent)) else run_mapping(context.get("dag_run"))
            agent = agent_directory(hook, self.agents, conf_mapping).resolve(str(self.agent))
        except AgentNotFoundError as exc:
            if is_dry_run(context):
                return self._dry_report(None, str(exc))
            raise AirflowFailException(f"task {self.task_id}: {exc}") from exc
        slug = str(agent.get("agent_id") or agent["id"])
        if is_dry_run(context):
            return self._dry_report(agent, None)
        budgeted = self.max_cost is not None or self.max_tokens is not None
        spent = spent_by_others(self._usage_of_run(context), self.task_id, map_index) if budgeted else Spent()
        try:
            check_before(self.task_id, spent, self.max_cost, self.max_tokens)
        except AgentBudgetExceeded as exc:
            raise AirflowFailException(str(exc)) from exc

        inputs = self._dict("inputs")
        key = marker(ti.dag_id, ti.run_id, ti.task_id, map_index, salt="agent")
        answer, reused = self._earlier_answer(hook, agent, key, context), True
        if answer is None:
            prompt = build_prompt(str(self.agent), self.prompt, inputs)
            run_context = build_context(inputs, self._dict("context"), key)
            answer, reused = self._execute(hook, agent, prompt, run_context), False
        result = step_result(answer, slug)

        cost, tokens = result["cost"], result["tokens_used"]
        ti.xcom_push(key=USAGE_XCOM_KEY, value=usage_record(self.task_id, map_index, slug, cost, tokens, reused))
        tags = {"agent": slug}
        if not reused:
            Stats.gauge("hisham.agent.cost", cost, delta=True, tags=tags)
            Stats.incr("hisham.agent.tokens", tokens, tags=tags)
        self.log.info("Agent %s (%s) %s: cost %.6f, %d tokens, %.0f ms%s", agent.get("name"), slug,
                      "answer of an earlier try reused" if reused else "answered", cost, tokens,
                      result["execution_time"], f"; run's agent steps so far: {spent.describe()}" if budgeted else "")
        try:
            check_after(self.task_id, spent, cost, tokens, self.max_cost, self.max_tokens)
        except AgentBudgetExceeded as exc:
            raise AirflowFailException(str(exc)) from exc
        return result

    def _dry_report(self, agent: Mapping[str, Any] | None, problem: str | None) -> dict[str, Any]:
        """A dry run resolves the agent (a read) and builds the prompt; it does not run the agent."""
        prompt = build_prompt(str(self.agent), self.prompt, self._dict("inputs"))
        found = {"agent": str(agent.get("agent_id") or agent["id"]), "agent_name": agent.get("name")} if agent else {}
        self.log.info("Dry run: agent %s %s; prompt of %d characters not sent", self.agent,
                      "resolved" if agent else "NOT resolved", len(prompt))
        return report(self.hisham_step, "execute agent", reference=str(self.agent), agent_resolved=agent is not None,
                      **found, **({"problem": problem} if problem else {}), prompt_chars=len(prompt))

    def _usage_of_run(self, context: Context) -> list[Any]:
        """The usage records the run's agent tasks pushed (every map index)."""
        dag = context.get("dag") or self.dag
        task_ids = [t.task_id for t in dag.tasks if _is_agent_task(t)]
        pulled = context["ti"].xcom_pull(task_ids=task_ids, key=USAGE_XCOM_KEY) if task_ids else []
        return [p for p in (pulled or []) if p is not None]

    def _earlier_answer(self, hook: HishamOSHook, agent: Mapping[str, Any], key: str,
                        context: Context) -> dict[str, Any] | None:
        """On a retry, the answer an earlier try of this task instance got (a first try has none)."""
        if int(getattr(context["ti"], "try_number", 1) or 1) <= 1:
            return None
        started = getattr(context.get("dag_run"), "start_date", None)
        not_before = started - LOOKUP_SKEW if isinstance(started, dt.datetime) and started.tzinfo else None
        record = find_execution(hook.iter_agent_executions(str(agent["id"])), key, not_before=not_before)
        if record is None:
            return None
        self.log.info("Reusing execution %s of agent %s: an earlier try of this task already got its answer",
                      record.get("id"), agent.get("name"))
        return answer_from_execution(record)

    def _execute(self, hook: HishamOSHook, agent: Mapping[str, Any], prompt: str,
                 run_context: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = hook.execute_agent(str(agent["id"]), prompt, run_context)
        except HishamOSAPIError as exc:
            if exc.status is None or exc.status in _TRANSIENT:
                raise  # no answer arrived: a task retry first looks for the execution, then runs
            raise AirflowFailException(f"HishamOS agent {agent.get('name')} ({agent.get('agent_id')}) failed; not "
                                       f"retried: {exc}") from exc
        if not isinstance(answer, Mapping):
            raise AirflowFailException(f"HishamOS agent {agent.get('name')}: unexpected answer "
                                       f"{type(answer).__name__}")
        return dict(answer)
