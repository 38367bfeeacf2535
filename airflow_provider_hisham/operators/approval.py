"""``HishamOSApprovalOperator``: the ``approval`` step, a person approves what is about to be published.

Built on Airflow's human-in-the-loop ``ApprovalOperator``: the reviewer answers in the UI
(Required Actions) or over ``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/
{map_index}/hitlDetails``. "Reject" skips the downstream tasks (publishing); who answered and why
(the optional ``reason`` field) are returned in XCom and written to the task log. The summary
and its escaping live in :mod:`airflow_provider_hisham.publishing.summary` (plain Python).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param

from airflow_provider_hisham.dry_run import is_dry_result, is_dry_run, report
from airflow_provider_hisham.operators.observed import Observed, observed
from airflow_provider_hisham.publishing.summary import (
    ProjectFiles,
    PublishSummary,
    build_summary,
    decision_from_response,
    story_text,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

#: what a timeout without an answer means: the option taken, or None = the task fails
ON_TIMEOUT = {"reject": ApprovalOperator.REJECT, "approve": ApprovalOperator.APPROVE, "fail": None}
REASON_PARAM = "reason"


def hitl_users(users: Any) -> list[dict[str, str]] | None:
    """``assigned_users`` as HITL users: ``{"id", "name"}`` objects, or plain ids (name = id)."""
    if not users:
        return None
    out = []
    for user in [users] if isinstance(users, (str, dict)) else users:
        if isinstance(user, str) and user:
            out.append({"id": user, "name": user})
        elif isinstance(user, dict) and isinstance(user.get("id"), str) and user["id"]:
            out.append({"id": user["id"], "name": str(user.get("name") or user["id"])})
        else:
            raise ValueError(f"assigned_users: {user!r} is neither a user id nor an {{id, name}} object")
    return out


class HishamOSApprovalOperator(Observed, ApprovalOperator):
    """Wait for a person to approve publishing ``project``; reject skips what follows.

    :param project: the generation result (``{{ steps.generate.output }}``) or the folder (templated).
    :param target: where it will be published, e.g. ``git``, ``zip`` (templated, shown only).
    :param branch: the branch it will be pushed to (templated, shown only).
    :param story: the story it implements: a story result or text (templated, shown only).
    :param response_timeout_seconds: how long to wait for an answer; None = no limit.
    :param on_timeout: ``reject`` (default), ``approve`` or ``fail`` when no one answered in time.
    :param assigned_users: who may answer: user ids or ``{"id", "name"}`` objects; default: anyone
        with access to the DAG.
    :param list_limit: files listed by name in the summary (the rest are counted).
    """

    hisham_step = "approval"

    template_fields: Sequence[str] = ("subject", "project", "target", "branch", "story")
    ui_color = "#fdf2d0"

    def __init__(
        self,
        *,
        project: Any,
        subject: str = "Publish the generated project?",
        target: str | None = None,
        branch: str | None = None,
        story: Any = None,
        response_timeout_seconds: int | None = None,
        on_timeout: str = "reject",
        assigned_users: Any = None,
        list_limit: int = 200,
        **kwargs: Any,
    ) -> None:
        if on_timeout not in ON_TIMEOUT:
            raise ValueError(f"on_timeout must be one of {', '.join(ON_TIMEOUT)}, got {on_timeout!r}")
        default = ON_TIMEOUT[on_timeout]
        # Airflow hands the DAG's params in as well: the reviewer's form is only the reason field
        kwargs.pop("params", None)
        params = {}
        params[REASON_PARAM] = Param("", type="string", maxLength=2000, title="Reason",
                                     description="Why you approve or reject (recorded with your answer).")
        super().__init__(
            subject=subject,
            defaults=[default] if default else None,
            response_timeout=timedelta(seconds=response_timeout_seconds) if response_timeout_seconds else None,
            assigned_users=hitl_users(assigned_users),
            params=params,
            **kwargs,
        )
        self.project = project
        self.target = target
        self.branch = branch
        self.story = story
        self.on_timeout = on_timeout
        self.list_limit = list_limit

    @observed
    def execute(self, context: Context) -> Any:
        if is_dry_run(context):
            return self._dry_run()
        summary = build_summary(self.project, target=self.target, branch=self.branch, story=self.story,
                                limit=self.list_limit)
        self.body = summary.markdown()
        self.log.info("Asking for approval: %d files, %d bytes to %s (branch %s); on timeout: %s",
                      summary.files.total_files, summary.files.total_bytes, self.target, self.branch, self.on_timeout)
        return super().execute(context)

    def _dry_run(self) -> dict[str, Any]:
        """Report what the reviewer would see and go on as approved: nobody is asked, no deferral.
        A dry-run generation result is summarised from its own counts (its folder was removed)."""
        if is_dry_result(self.project):
            files = ProjectFiles(list(self.project.get("files") or [])[:self.list_limit],
                                 int(self.project.get("total_files") or 0), int(self.project.get("total_bytes") or 0),
                                 bool(self.project.get("files_complete", True)))
            summary = PublishSummary(str(self.project.get("output_dir")), files, None if self.target is None else
                                     str(self.target), None if self.branch is None else str(self.branch),
                                     story_text(self.story))
        else:
            summary = build_summary(self.project, target=self.target, branch=self.branch, story=self.story,
                                    limit=self.list_limit)
        self.log.info("Dry run: would ask for approval of %d files, %d bytes to %s (branch %s); not asked",
                      summary.files.total_files, summary.files.total_bytes, self.target, self.branch)
        return report(self.hisham_step, "ask for approval", subject=self.subject, **summary.as_dict(),
                      files=summary.files.listed, approved=True, decision="approved",
                      responded_by=None, reason="dry run: not asked", timed_out=False)

    @observed
    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Record the decision; on reject ApprovalOperator skips the downstream tasks by raising
        ``DownstreamTasksSkipped``, so the decision is logged and pushed before that goes on."""
        from airflow.providers.common.compat.sdk import DownstreamTasksSkipped

        skipped: DownstreamTasksSkipped | None = None
        try:
            super().execute_complete(context=context, event=event)  # validates the answer
        except DownstreamTasksSkipped as exc:
            skipped = exc
        decision = decision_from_response(
            event["chosen_options"], event.get("params_input"), event.get("responded_by_user"),
            event.get("responded_at"), event.get("timedout", False), self.APPROVE,
        )
        self.log.info("%s", decision.log_line())
        result = {**decision.as_dict(), "chosen_options": list(event["chosen_options"])}
        if skipped is not None:
            context["ti"].xcom_push(key="return_value", value=result)  # a raising task pushes no return value
            raise skipped
        return result
