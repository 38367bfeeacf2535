"""``HishamOSPullRequestOperator``: the ``pull_request`` step, a generated tree proposed to an existing repository.

Thin: the git work and the request rules live in ``airflow_provider_hisham.export.pull_request``
(plain Python), the forge calls in the GitHub/GitLab hooks. Module import stays light.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_hisham.export.targets import GIT_TARGET, PULL_REQUEST_OTHERS
from airflow_provider_hisham.links.repository import RepositoryLink
from airflow_provider_hisham.operators.observed import Observed, observed
from airflow_provider_hisham.operators.repo_creation import HishamOSRepoCreationOperator, check_target

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)


class HishamOSPullRequestOperator(Observed, BaseOperator):
    """Commit ``source_dir`` on top of an existing repository's base branch, on a branch named after
    the run, and open (or update) one pull request (GitHub) or merge request (GitLab) for it.

    Retry-safe: the commit is deterministic and pushed with a lease, the request is looked up by
    head branch before one is created, a merged or closed request is reported (not reopened), and
    a tree equal to the base makes no commit and no request. A generic ``git`` remote gets the
    branch only (it has no request API); the result says so.

    :param source_dir: folder to propose (templated).
    :param target: ``github``, ``gitlab`` or ``git`` (``git_url``, branch push only).
    :param repository_name: the existing repository (GitHub) or project path (GitLab).
    :param namespace: GitHub owner/organisation or GitLab group; default: the token's user.
    :param git_url: for ``target="git"``; with ``git_conn_id`` as in ``repo_creation``.
    :param base_branch: branch the request targets; default: the repository's default branch
        (``main`` for a generic remote).
    :param head_branch: branch to push; default ``hisham/<dag_id>/<run_id>`` (one per run).
    :param subdir: folder of the repository the tree goes into (monorepos); default: the root,
        where the generated tree replaces the repository's tree.
    :param title: request title; default from ``story_id`` (``HishamOS story <id>: <dag_id>``).
    :param body: request body; default names the story link and the run.
    :param story_id: HishamOS story number/id, for the default title and body.
    :param story_url: link to the story, for the default body.
    :param draft: open as a draft (GitHub draft PR, GitLab ``Draft:`` title).
    :param reviewers: user names asked to review (when the request is opened).
    :param labels: labels added (when the request is opened).
    :param dry_run: report what would happen (branch, commit, changed files, request to open or
        update) after reads only: no push, no request. Also on when the run's ``params.dry_run``
        is true.
    """

    hisham_step = "pull_request"
    template_fields: Sequence[str] = (
        "source_dir", "target", "repository_name", "namespace", "git_url", "base_branch", "head_branch", "subdir",
        "title", "body", "story_id", "story_url", "reviewers", "labels", "commit_message",
    )
    operator_extra_links = (RepositoryLink(),)
    ui_color = "#e3e9f7"

    # Same connection handling as repo_creation (one way to do each thing).
    _git_credentials = HishamOSRepoCreationOperator._git_credentials
    _checked_git_url = HishamOSRepoCreationOperator._checked_git_url
    _hosting_hook = HishamOSRepoCreationOperator._hosting_hook
    _mask = staticmethod(HishamOSRepoCreationOperator._mask)

    def __init__(
        self,
        *,
        source_dir: str,
        target: str = "github",
        repository_name: str | None = None,
        namespace: str | None = None,
        github_conn_id: str = "github_default",
        gitlab_conn_id: str = "gitlab_default",
        git_url: str | None = None,
        git_conn_id: str | None = None,
        allow_local_remote: bool = False,
        base_branch: str | None = None,
        head_branch: str | None = None,
        subdir: str = "",
        title: str | None = None,
        body: str | None = None,
        story_id: str | int | None = None,
        story_url: str | None = None,
        draft: bool = False,
        reviewers: Sequence[str] | str = (),
        labels: Sequence[str] | str = (),
        commit_message: str | None = None,
        author_name: str = "HishamOS",
        author_email: str = "hishamos@users.noreply.localhost",
        commit_date: datetime | None = None,
        push_retries: int = 3,
        push_backoff: float = 2.0,
        dry_run: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dry_run = dry_run
        self.source_dir = source_dir
        self.target = target
        self.repository_name = repository_name
        self.namespace = namespace
        self.github_conn_id = github_conn_id
        self.gitlab_conn_id = gitlab_conn_id
        self.git_url = git_url
        self.git_conn_id = git_conn_id
        self.allow_local_remote = allow_local_remote
        self.base_branch = base_branch
        self.head_branch = head_branch
        self.subdir = subdir
        self.title = title
        self.body = body
        self.story_id = story_id
        self.story_url = story_url
        self.draft = draft
        self.reviewers = reviewers
        self.labels = labels
        self.commit_message = commit_message
        self.author_name = author_name
        self.author_email = author_email
        self.commit_date = commit_date
        self.push_retries = push_retries
        self.push_backoff = push_backoff

    def _spec(self, dag_id: str, run_id: str):
        from airflow_provider_hisham.export.pull_request import RequestSpec, check_spec, names

        story = f"HishamOS story {self.story_id}" if self.story_id not in (None, "") else "HishamOS generated project"
        title = self.title or f"{story}: {dag_id}"
        lines = [self.body] if self.body else [f"{story}, generated by the Airflow run `{run_id}` of `{dag_id}`."]
        if self.story_url and not self.body:
            lines.append(f"Story: {self.story_url}")
        return check_spec(RequestSpec(title.strip(), "\n\n".join(lines), bool(self.draft),
                                      names(self.reviewers), names(self.labels)))

    @observed
    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_hisham.dry_run import is_dry_run
        from airflow_provider_hisham.export.git import discard_git_dir
        from airflow_provider_hisham.export.pull_request import branch_for_run, check_subdir, commit_on_base, \
            publish_request
        from airflow_provider_hisham.export.remote import check_repository_name
        from airflow_provider_hisham.export.tree import check_source_dir

        check_target(self.target, PULL_REQUEST_OTHERS)  # a host of repo_creation's HOSTS, or a generic git remote
        ti = context["ti"]
        dry_run = is_dry_run(context, self.dry_run)
        spec = self._spec(ti.dag_id, ti.run_id)
        check_subdir(self.subdir)
        head = self.head_branch or branch_for_run(ti.dag_id, ti.run_id)
        if dry_run and not Path(str(self.source_dir)).is_dir():  # a dry-run generation step wrote nothing
            from airflow_provider_hisham.dry_run import report

            return report(self.hisham_step, "open or update a request", target=self.target, source_dir=str(self.source_dir),
                          head_branch=head, base_branch=self.base_branch, title=spec.title, draft=spec.draft,
                          changed_files=None, message="dry run: the source folder was not generated, so the "
                                                      "difference to the base branch is not known")
        source = check_source_dir(self.source_dir)
        forge, repository, web_url = None, self.git_url, self.git_url
        if self.target == GIT_TARGET:
            credentials = self._checked_git_url()
            url, field, base = self.git_url, "git_url", self.base_branch or "main"
        else:
            name = self.repository_name or source.resolve().name
            check_repository_name(name, self.namespace)
            forge = self._hosting_hook()
            credentials = forge.push_credentials()
            self._mask(credentials.token)
            found = forge.get_repository(name, self.namespace)
            if found is None:
                raise ValueError(f"repository {name!r} does not exist on {self.target}: request mode targets an "
                                 "existing repository (create it with a repo_creation step)")
            url, field, repository, web_url = found.clone_url, "clone_url", found.id, found.web_url
            base = self.base_branch or found.default_branch or "main"
        commit = commit_on_base(
            source, url, base_branch=base, head_branch=head, subdir=self.subdir,
            message=self.commit_message or f"{spec.title}\n\n{spec.body}", author_name=self.author_name,
            author_email=self.author_email, date=self.commit_date, credentials=credentials,
            allow_file=self.allow_local_remote, retries=self.push_retries, backoff=self.push_backoff, field=field,
            dry_run=dry_run)
        result = publish_request(forge, str(repository), commit, spec, dry_run=dry_run).as_dict()
        result["url"] = result["request_url"] or web_url
        result["dry_run"] = dry_run
        discard_git_dir(source)
        log.info("pull_request: %s", result["message"])
        return result

