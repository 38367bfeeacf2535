"""The ``api_call`` step: one authenticated HishamOS API call as an Airflow task.

Either a named ``action`` (``create_story``, ``list_stories``, ...; its arguments in ``data``) or a
raw ``method`` + ``endpoint``. Creates made by actions are idempotent across task retries: the
marker of the task instance (dag id, run id, task id, map index) is stored with the object and
looked up before creating, so a retry after a lost response returns the first object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_hisham.api.errors import NOT_RETRYABLE, HishamOSConfigError, HishamOSError
from airflow_provider_hisham.api.idempotency import marker
from airflow_provider_hisham.api.results import shape_result
from airflow_provider_hisham.operators.observed import Observed, observed

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_hisham.hooks.hishamos import HishamOSHook


class HishamOSResponseCheckError(HishamOSError):
    """``response_check`` returned False for the call's result."""


def _need(data: dict[str, Any], action: str, *names: str) -> list[Any]:
    """The required arguments of an action (first of each ``a|b`` alternative), or a clear error."""
    values = []
    for name in names:
        options = name.split("|")
        found = next((data[o] for o in options if data.get(o) not in (None, "")), None)
        if found is None:
            raise HishamOSConfigError(f"action {action!r} needs data[{options[0]!r}]")
        values.append(found)
    return values


def _rest(data: dict[str, Any], *names: str) -> dict[str, Any]:
    drop = {n for name in names for n in name.split("|")}
    return {k: v for k, v in data.items() if k not in drop}


def _project_arg(data: dict[str, Any]) -> dict[str, Any]:
    """List filters with ``project`` accepted as an alias of ``project_id``."""
    return {("project_id" if name == "project" else name): value for name, value in data.items()}


def _create_story(hook: HishamOSHook, d: dict[str, Any], key: str) -> Any:
    req = ("project|project_id", "title", "description", "acceptance_criteria")
    return hook.create_story(*_need(d, "create_story", *req), idempotency_key=key, **_rest(d, *req))


def _create_project(hook: HishamOSHook, d: dict[str, Any], key: str) -> Any:
    (name,) = _need(d, "create_project", "name")
    return hook.create_project(name, idempotency_key=key, **_rest(d, "name"))


def _create_sprint(hook: HishamOSHook, d: dict[str, Any], key: str) -> Any:
    req = ("project|project_id", "name", "sprint_number", "start_date", "end_date")
    project, name, number, start, end = _need(d, "create_sprint", *req)
    return hook.create_sprint(project, name, int(number), start, end, reuse_existing=True, **_rest(d, *req))


def _update_sprint(hook: HishamOSHook, d: dict[str, Any], key: str) -> Any:
    (sprint,) = _need(d, "update_sprint", "sprint_id|id")
    return hook.update_sprint(sprint, **_rest(d, "sprint_id|id"))


def _update_story_status(hook: HishamOSHook, d: dict[str, Any], key: str) -> Any:
    ids, status = _need(d, "update_story_status", "story_ids|story_id", "status")
    return hook.update_story_status(ids, status)


def _execute_agent(hook: HishamOSHook, d: dict[str, Any], key: str) -> Any:
    agent, prompt = _need(d, "execute_agent", "agent|agent_id", "prompt")
    return hook.execute_agent(agent, prompt, d.get("context"))


#: Named actions: ``fn(hook, data, idempotency_marker) -> result``.
ACTIONS: dict[str, Callable[[HishamOSHook, dict[str, Any], str], Any]] = {
    "get_project": lambda h, d, k: h.get_project(*_need(d, "get_project", "project_id|project|id")),
    "create_project": _create_project,
    "create_story": _create_story,
    "list_stories": lambda h, d, k: h.list_stories(**_project_arg(d)),
    "get_story": lambda h, d, k: h.get_story(*_need(d, "get_story", "story_id|id")),
    "update_story_status": _update_story_status,
    "create_sprint": _create_sprint,
    "update_sprint": _update_sprint,
    "list_sprints": lambda h, d, k: h.list_sprints(**_project_arg(d)),
    "list_agents": lambda h, d, k: h.list_agents(**d),
    "get_agent": lambda h, d, k: h.get_agent(*_need(d, "get_agent", "agent|agent_id|name")),
    "execute_agent": _execute_agent,
    "discover_endpoints": lambda h, d, k: h.discover_endpoints(),
}

#: Actions that only read: a dry run makes them; every other action is reported, not sent.
READ_ACTIONS = frozenset({"get_project", "list_stories", "get_story", "list_sprints", "list_agents", "get_agent",
                          "discover_endpoints"})


class HishamOSApiCallOperator(Observed, BaseOperator):
    """Call the HishamOS API on behalf of a user and push the JSON result (or part of it) to XCom.

    :param hishamos_conn_id: connection of type ``hishamos``.
    :param action: a named action (see ``ACTIONS``), its arguments in ``data``; or None for a raw
        call of ``method`` ``endpoint`` with ``data`` (JSON body) and ``query``.
    :param user_id: HishamOS user to act as (auth mode ``jwt_secret``), e.g.
        ``"{{ dag_run.conf['user_id'] }}"``.
    :param query: query-string parameters of a raw call (templated). Named ``query``, not
        ``params``: ``params`` keeps Airflow's meaning (the task's params, merged with the DAG's).
    :param response_check: ``fn(result) -> bool``; False fails the task.
    :param result_path: dotted path into the result for XCom (``"id"``, ``"results.0.number"``).
        Credentials never reach XCom: values under credential-named keys (``access``,
        ``accessToken``, ``api_key``, ``secret``...), JWTs and the connection's own secrets are
        replaced by ``***``, also when ``result_path`` selects one directly.
    :param idempotent: for raw calls, whether a POST/PATCH may be resent after an ambiguous failure.

    In a dry run (``params.dry_run``) reads (``READ_ACTIONS``, raw GET/HEAD/OPTIONS) are made and
    writes are not: the result is ``{"dry_run": True, "would": "call", ...}`` with the action and
    its data, or the method, endpoint, body and query, credentials redacted.

    A tier refusal (``HishamOSTierError``: the organization's subscription lacks the feature) and
    an agent run HishamOS failed (``HishamOSAgentError``: execute answered 5xx) fail the task at
    once, whatever its ``retries``: a retry cannot fix them, and an agent run is charged.
    """

    hisham_step = "api_call"

    template_fields: Sequence[str] = ("action", "method", "endpoint", "data", "query", "user_id", "result_path")
    template_fields_renderers = {"data": "json", "query": "json"}
    ui_color = "#e8f1fb"

    def __init__(self, *, hishamos_conn_id: str = "hishamos_default", action: str | None = None,
                 method: str = "GET", endpoint: str | None = None, data: Any = None,
                 query: dict[str, Any] | None = None, user_id: str | None = None,
                 response_check: Callable[[Any], bool] | None = None, result_path: str | None = None,
                 idempotent: bool | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if action is None and not endpoint:
            raise HishamOSConfigError(f"task {kwargs.get('task_id')!r}: give either action or endpoint")
        if action is not None and "{{" not in action and action not in ACTIONS:
            raise HishamOSConfigError(f"task {kwargs.get('task_id')!r}: unknown action {action!r}; "
                                      f"known: {', '.join(sorted(ACTIONS))}")
        self.hishamos_conn_id = hishamos_conn_id
        self.action = action
        self.method = method
        self.endpoint = endpoint
        self.data = data
        self.query = query
        self.user_id = user_id
        self.response_check = response_check
        self.result_path = result_path
        self.idempotent = idempotent

    def _user(self) -> str | None:
        value = str(self.user_id).strip() if self.user_id is not None else ""
        return None if value in ("", "None") else value

    def get_hook(self) -> HishamOSHook:
        from airflow_provider_hisham.hooks.hishamos import HishamOSHook

        return HishamOSHook(self.hishamos_conn_id, user_id=self._user())

    def _is_read(self) -> bool:
        """A call without side effects: a dry run still makes it (downstream steps get real data)."""
        if self.action:
            return self.action in READ_ACTIONS
        return str(self.method).strip().upper() in ("GET", "HEAD", "OPTIONS")

    def _dry_report(self, hook: HishamOSHook) -> dict[str, Any]:
        """What a write would send, credentials redacted by name and by the connection's values."""
        from airflow_provider_hisham.api.results import redact_credentials
        from airflow_provider_hisham.dry_run import report

        if self.action:
            facts: dict[str, Any] = {"action": self.action, "data": self.data}
        else:
            facts = {"method": str(self.method).upper(), "endpoint": str(self.endpoint), "body": self.data,
                     "query": self.query}
        self.log.info("Dry run: not calling %s", self.action or f"{facts['method']} {facts['endpoint']}")
        return report(self.hisham_step, "call", **hook.redact(redact_credentials(facts)))

    @observed
    def execute(self, context: Context) -> Any:
        from airflow.sdk.exceptions import AirflowFailException

        try:
            return self._execute(context)
        except NOT_RETRYABLE as exc:  # a tier refusal, an agent run HishamOS failed: a retry cannot help
            raise AirflowFailException(str(exc)) from None

    def _execute(self, context: Context) -> Any:
        from airflow_provider_hisham.dry_run import is_dry_run

        hook = self.get_hook()
        if is_dry_run(context) and not self._is_read():
            return self._dry_report(hook)
        ti = context["ti"]
        key = marker(ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1), salt=self.action or "")
        if self.action:
            if self.action not in ACTIONS:
                raise HishamOSConfigError(f"unknown action {self.action!r}; known: {', '.join(sorted(ACTIONS))}")
            if self.data is not None and not isinstance(self.data, dict):
                raise HishamOSConfigError(f"action {self.action!r} takes its arguments as a dict in data")
            result = ACTIONS[self.action](hook, dict(self.data or {}), key)
        else:
            if self.query is not None and not isinstance(self.query, dict):
                raise HishamOSConfigError(f"task {self.task_id}: query must be a dict of query-string parameters")
            result = hook.call(str(self.method), str(self.endpoint), self.data, self.query or None,
                               idempotent=self.idempotent)
        if self.response_check is not None and not self.response_check(result):
            raise HishamOSResponseCheckError(f"task {self.task_id}: response_check rejected the result of "
                                             f"{self.action or f'{self.method} {self.endpoint}'}")
        # credential keys and JWTs by name and shape, then every form of the connection's own secrets
        return hook.redact(shape_result(result, self.result_path))
