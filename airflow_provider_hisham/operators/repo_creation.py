"""``HishamOSRepoCreationOperator``: the ``repo_creation`` step, a generated project to a repository or archive.

Thin: git work lives in ``airflow_provider_hisham.export`` (plain Python), hosting APIs in the
GitHub/GitLab hooks. Module import stays light: hooks, PyGithub and python-gitlab are
imported only when the task runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from airflow.sdk import BaseOperator

from airflow_provider_hisham.export.targets import ARCHIVE_TARGETS, GIT_TARGET, REPO_CREATION_OTHERS
from airflow_provider_hisham.links.repository import RepositoryLink
from airflow_provider_hisham.operators.observed import Observed, observed

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_hisham.export.git import GitCredentials
    from airflow_provider_hisham.export.host import RepositoryHost

log = logging.getLogger(__name__)


def _github(op: Any) -> RepositoryHost:
    from airflow_provider_hisham.hooks.github import GithubRepositoryHook

    return GithubRepositoryHook(op.github_conn_id)


def _gitlab(op: Any) -> RepositoryHost:
    from airflow_provider_hisham.hooks.gitlab import GitlabRepositoryHook

    return GitlabRepositoryHook(op.gitlab_conn_id)


#: target -> the hook of that repository host, made from the operator's connection ids (hooks
#: are imported only when a task runs). Every host is reached through ``RepositoryHost`` only.
#: The keys are ``export.targets.HOST_TARGETS`` (the step schemas' names; a test keeps them equal).
HOSTS: dict[str, Callable[[Any], RepositoryHost]] = {"github": _github, "gitlab": _gitlab}


def check_target(target: str, others: Sequence[str]) -> None:
    """Refuse a target that is neither a registered host nor one of ``others``."""
    known = (*HOSTS, *others)
    if target not in known:
        raise ValueError(f"target must be one of {', '.join(known)}, got {target!r}")


class HishamOSRepoCreationOperator(Observed, BaseOperator):
    """Commit ``source_dir`` and push it to a new GitHub/GitLab repository or any git URL, or archive it.

    Retry-safe: the commit is deterministic (fixed dates, no parent), the remote is looked up
    before it is created and recognised by a marker in its description, and archives are
    replaced atomically, so a retried task returns the same URL/sha and creates nothing new.

    :param source_dir: folder to export (templated).
    :param target: ``github``, ``gitlab``, ``git`` (``git_url``), ``zip`` or ``tar.gz``.
    :param repository_name: repository or archive name; default: the folder's name.
    :param namespace: GitHub organisation or GitLab group path; default: the token's user
        (GitLab: the connection's ``namespace``).
    :param git_url: remote URL for ``target="git"``: https or http, no credentials, query or
        fragment in it; with ``git_conn_id``, on that connection's host, scheme and port.
    :param git_conn_id: connection whose password is the token for ``git_url`` (login: user name,
        default ``x-access-token``; host: the only origin the token is sent to, e.g.
        ``https://git.example.com``); encrypted values: ``FernetSecretsBackend``.
    :param allow_local_remote: let ``git_url`` be a local path or ``file://`` URL (off by default:
        a run's conf could otherwise rewrite any repository on the worker).
    :param on_conflict: ``fail``, ``reuse`` (push into an existing empty repository or one that
        already holds our commit) or ``suffix`` (``name-2``, ``name-3``...).
    :param branches: extra branches to create at the commit.
    :param commit_date: author/committer date; default: newest file modification time.
    :param archive_dir: folder for archives, inside ``archive_root`` (relative to it, or absolute);
        default: ``archive_root``.
    :param archive_root: the folder archives may be written in (not templated: set by the DAG's
        author); default: the parent of ``source_dir``.
    :param hishamos_conn_id: when set, register a RepositoryExport record for
        ``generated_project_id`` in HishamOS (facts and retry marker in its ``config``; see
        :mod:`airflow_provider_hisham.records`). A generic ``git`` target records nothing.
    :param settings: repository settings for a created GitHub/GitLab repository (visibility,
        description, topics, default_branch, delete_branch_on_merge, protect_branches,
        required_reviews, required_status_checks, strict_status_checks): sent with the create
        request, or after the first push by the creating try; later tries only fill in what is
        absent (see :mod:`airflow_provider_hisham.export.settings`).
    :param strict_hishamos_records: fail (without retrying) when the organization's HishamOS tier
        refuses the record; default ``[hisham] strict_hishamos_records`` (False: warn, keep the
        export or archive and succeed without a record).
    :param source_storage_url, source_manifest_sha256: the generation's hand-off (its XCom
        ``storage_url`` and ``manifest_sha256``): the project is fetched from ``[hisham]
        storage_url`` into this worker's root and verified, and exported from there instead of
        ``source_dir``. Archives are then also copied to storage (``archive_url``; see
        :mod:`airflow_provider_hisham.storage`).
    """

    hisham_step = "repo_creation"

    template_fields: Sequence[str] = (
        "source_dir", "target", "repository_name", "namespace", "git_url", "default_branch", "branches",
        "commit_message", "author_name", "author_email", "archive_dir", "generated_project_id", "description",
        "source_storage_url", "source_manifest_sha256",
    )
    operator_extra_links = (RepositoryLink(),)
    ui_color = "#d9f0e3"

    def __init__(
        self,
        *,
        source_dir: str,
        target: str = "github",
        repository_name: str | None = None,
        github_conn_id: str = "github_default",
        gitlab_conn_id: str = "gitlab_default",
        git_url: str | None = None,
        git_conn_id: str | None = None,
        allow_local_remote: bool = False,
        private: bool = True,
        default_branch: str = "main",
        on_conflict: str = "fail",
        branches: Sequence[str] = (),
        commit_message: str = "Initial commit of the generated project",
        author_name: str = "HishamOS",
        author_email: str = "hishamos@users.noreply.localhost",
        archive_dir: str | None = None,
        archive_root: str | None = None,
        hishamos_conn_id: str | None = None,
        generated_project_id: str | None = None,
        namespace: str | None = None,
        description: str | None = None,
        commit_date: datetime | None = None,
        push_retries: int = 3,
        push_backoff: float = 2.0,
        strict_hishamos_records: bool | None = None,
        source_storage_url: str | None = None,
        source_manifest_sha256: str | None = None,
        settings: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        if on_conflict not in ("fail", "reuse", "suffix"):
            raise ValueError(f"on_conflict must be fail, reuse or suffix, got {on_conflict!r}")
        self.source_dir = source_dir
        self.target = target
        self.repository_name = repository_name
        self.github_conn_id = github_conn_id
        self.gitlab_conn_id = gitlab_conn_id
        self.git_url = git_url
        self.git_conn_id = git_conn_id
        self.allow_local_remote = allow_local_remote
        self.private = private
        self.default_branch = default_branch
        self.on_conflict = on_conflict
        self.branches = list(branches)
        self.commit_message = commit_message
        self.author_name = author_name
        self.author_email = author_email
        self.archive_dir = archive_dir
        self.archive_root = archive_root
        self.hishamos_conn_id = hishamos_conn_id
        self.generated_project_id = generated_project_id
        self.namespace = namespace
        self.description = description
        self.commit_date = commit_date
        self.push_retries = push_retries
        self.push_backoff = push_backoff
        self.strict_hishamos_records = strict_hishamos_records
        self.source_storage_url = source_storage_url
        self.source_manifest_sha256 = source_manifest_sha256

    # -- execution -------------------------------------------------------------------------
    @observed
    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_hisham.export.tree import check_source_dir

        check_target(self.target, REPO_CREATION_OTHERS)
        from airflow_provider_hisham.dry_run import is_dry_run

        if is_dry_run(context):
            return self._dry_run()
        from airflow_provider_hisham.storage.objectstorage import fetch_for_task

        fetched = fetch_for_task(self.source_storage_url, self.source_manifest_sha256, context)
        source = check_source_dir(fetched or self.source_dir)
        name = self.repository_name or source.resolve().name
        if self.target in ARCHIVE_TARGETS:
            result = self._archive(source, name)
        else:
            result = self._git(source, name, context)
        if self.hishamos_conn_id:
            result["repository_export_id"] = self._register(result, name, context)
        log.info("repo_creation result: %s", result)
        return result

    def _dry_run(self) -> dict[str, Any]:
        """Check what a run's conf can set and report the target, name, branches, commit message or
        archive path: no fetch, commit, repository, push, archive or record. ``source_dir`` need
        not exist (a dry-run generation step wrote nothing)."""
        from airflow_provider_hisham.dry_run import report
        from airflow_provider_hisham.export.git import check_branch

        name = self.repository_name or Path(str(self.source_dir)).name
        facts: dict[str, Any] = {"target": self.target, "repository_name": name, "source_dir": str(self.source_dir),
                                 "would_record": bool(self.hishamos_conn_id)}
        if self.target in ARCHIVE_TARGETS:
            from airflow_provider_hisham.export.archive import archive_target

            root = self.archive_root or str(Path(str(self.source_dir)).parent)
            facts["archive_path"] = str(archive_target(root, self.archive_dir, name, self.target))
            facts["archive_name"] = Path(facts["archive_path"]).name
            would = "write archive"
        else:
            check_branch(self.default_branch)
            for branch in self.branches:
                check_branch(branch, "branches")
            if self.target == GIT_TARGET:
                self._checked_git_url()
                facts["git_url"] = self.git_url
                would = "push"
            else:
                from airflow_provider_hisham.export.remote import check_repository_name

                check_repository_name(name, self.namespace)
                facts["namespace"] = self.namespace
                would = "create repository and push"
            facts.update(default_branch=self.default_branch, branches=list(self.branches),
                         commit_message=self.commit_message)
        log.info("repo_creation dry run: would %s %s", would, facts.get("archive_path") or name)
        return report(self.hisham_step, would, **facts)

    def _archive(self, source: Path, name: str) -> dict[str, Any]:
        from airflow_provider_hisham.export.archive import archive_target, write_archive

        root = self.archive_root or source.resolve().parent
        path = write_archive(source, archive_target(root, self.archive_dir, name, self.target), self.target)
        from airflow_provider_hisham.records import archive_facts
        from airflow_provider_hisham.storage.objectstorage import publish_archive

        facts = archive_facts(str(path))
        url = publish_archive(str(path), str(root), {"project_id": name, "format": self.target,
                                                     "size": facts["archive_size"], "sha256": facts["archive_sha256"]})
        return {"url": None, "default_branch": None, "commit_sha": None, "archive_path": str(path),
                **({"archive_url": url} if url else {})}

    def _git(self, source: Path, name: str, context: Context) -> dict[str, Any]:
        from airflow_provider_hisham.export.git import (
            check_branch,
            commit_tree,
            discard_git_dir,
            push,
            remote_heads,
        )
        from airflow_provider_hisham.export.remote import check_repository_name

        # Every value a run's conf can set is checked before anything is committed or sent.
        for branch in self.branches:
            check_branch(branch, "branches")
        if self.target == GIT_TARGET:
            credentials = self._checked_git_url()
        else:
            check_repository_name(name, self.namespace)
            hook = self._hosting_hook()
            credentials = hook.push_credentials()
            self._mask(credentials.token)
        sha = commit_tree(source, branch=self.default_branch, message=self.commit_message,
                          author_name=self.author_name, author_email=self.author_email, date=self.commit_date)
        log.info("committed %s as %s on %s", source, sha, self.default_branch)
        if self.target == GIT_TARGET:
            push(source, self.git_url, sha, [self.default_branch, *self.branches], credentials,
                 retries=self.push_retries, backoff=self.push_backoff, allow_file=self.allow_local_remote)
            discard_git_dir(source)
            return {"url": self.git_url, "default_branch": self.default_branch, "commit_sha": sha, "archive_path": None}

        from airflow_provider_hisham.export.remote import ensure_repository
        from airflow_provider_hisham.export.settings import apply_after_push, parse_settings, push_when_ready

        settings = parse_settings(self.settings)
        marker = self._marker(context)
        wanted = (settings.description if settings else None) or self.description
        description = f"{wanted or 'Generated project exported by HishamOS'} [{marker}]"
        remote = ensure_repository(
            name, self.on_conflict, get=lambda n: hook.get_repository(n, self.namespace),
            create=lambda n: hook.create_repository(n, self.namespace, private=self.private,
                                                    description=description, settings=settings),
            heads=lambda r: remote_heads(r.clone_url, credentials, source_dir=source, field="clone_url"),
            commit_sha=sha, branch=self.default_branch, marker=marker,
        )
        send = lambda: push(source, remote.clone_url, sha, [self.default_branch], credentials,  # noqa: E731
                            retries=self.push_retries, backoff=self.push_backoff, field="clone_url")
        # Only a repository created moments ago may be "not found" yet: only then is that retried.
        push_when_ready(send, first_wait=self.push_backoff) if remote.created else send()
        for branch in self.branches:
            created = hook.create_branch(remote.id, branch, sha)
            log.info("branch %s %s", branch, "created" if created else "already exists")
        applied = apply_after_push(hook, remote.id, settings, just_created=remote.created,
                                   topics_at_creation=hook.topics_at_creation)
        if applied:
            log.info("repository settings applied: %s", ", ".join(applied))
        discard_git_dir(source)
        return {"url": remote.web_url, "default_branch": self.default_branch, "commit_sha": sha, "archive_path": None}

    def _hosting_hook(self) -> RepositoryHost:
        """The hook of ``target``'s host, from ``HOSTS``."""
        return HOSTS[self.target](self)

    def _checked_git_url(self) -> GitCredentials | None:
        """Check ``git_url`` and that its connection's token may go there, before anything runs."""
        from airflow_provider_hisham.export.urls import parse_remote

        if not self.git_url:
            raise ValueError("target='git' needs git_url")
        remote = parse_remote(self.git_url, allow_file=self.allow_local_remote)
        credentials = self._git_credentials()
        if credentials is not None:
            credentials.check_remote(remote)
        return credentials

    def _git_credentials(self) -> GitCredentials | None:
        if not self.git_conn_id:
            return None
        from airflow.sdk import BaseHook

        from airflow_provider_hisham.export.git import GitCredentials
        from airflow_provider_hisham.export.urls import connection_origin
        from airflow_provider_hisham.secrets import require_plain

        conn = BaseHook.get_connection(self.git_conn_id)
        token = require_plain(conn.password, "password", f"connection {self.git_conn_id!r}")
        if not token:
            raise ValueError(f"connection {self.git_conn_id!r} has no password (token) for git_url")
        self._mask(token)
        origin = connection_origin(conn.host, conn_id=self.git_conn_id, schema=conn.schema, port=conn.port)
        return GitCredentials(conn.login or "x-access-token", token, origin, f"connection {self.git_conn_id!r}")

    @staticmethod
    def _mask(secret: str) -> None:
        from airflow.sdk.log import mask_secret

        mask_secret(secret)

    def _marker(self, context: Context) -> str:
        """Stable per task instance (not per try): how a retry recognises its own repository."""
        from airflow_provider_hisham.api.idempotency import EXPORT, marker

        ti = context["ti"]
        return marker(ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1), scheme=EXPORT)

    def _register(self, result: dict[str, Any], name: str, context: Context) -> str | None:
        """The HishamOS RepositoryExport of this export, created once per task instance."""
        if not self.generated_project_id:
            raise ValueError("hishamos_conn_id needs generated_project_id to register the RepositoryExport")
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_provider_hisham.api.errors import NOT_RETRYABLE
        from airflow_provider_hisham.api.idempotency import marker
        from airflow_provider_hisham.hooks.hishamos import HishamOSHook
        from airflow_provider_hisham.records import register_export, strict_records, task_facts

        ti = context["ti"]
        try:
            return register_export(
                HishamOSHook(hishamos_conn_id=self.hishamos_conn_id), self.generated_project_id, self.target, name,
                result, marker=marker(ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1),
                                      salt="repository_export"),
                made_by=task_facts(ti), strict=strict_records(self.strict_hishamos_records),
                extra={"branches": self.branches, "private": self.private,
                       "archive_url": result.get("archive_url")}, logger=log)
        except NOT_RETRYABLE as exc:
            raise AirflowFailException(str(exc)) from None
