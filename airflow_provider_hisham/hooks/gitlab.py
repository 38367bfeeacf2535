"""GitLab hook on python-gitlab: projects and branches for repository export.

Connection ``gitlab``: host = GitLab URL (gitlab.com or self-managed), password = access token
(encrypted values: ``FernetSecretsBackend``), extra ``token_type`` (``private`` for personal/group/project access
tokens, ``oauth`` for OAuth2 tokens), ``namespace`` (default group path), ``verify_ssl`` and
``git_host`` (URL of the git host when it is not the GitLab URL's: the only origin the token is
pushed to).
python-gitlab retries 429 (honouring ``Retry-After``) and, with ``retry_transient_errors``, 5xx
and connection errors.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from airflow_provider_hisham.export.errors import NameTakenError
from airflow_provider_hisham.export.git import GitCredentials
from airflow_provider_hisham.export.pull_request import ChangeRequest, RequestSpec
from airflow_provider_hisham.export.remote import RemoteRepository
from airflow_provider_hisham.export.settings import RepositorySettings
from airflow_provider_hisham.export.urls import Origin, connection_origin
from airflow_provider_hisham.booleans import parse_bool
from airflow_provider_hisham.secrets import require_plain

log = logging.getLogger(__name__)


class GitlabRepositoryHook(BaseHook):
    """Interact with a GitLab instance through python-gitlab; a
    :class:`~airflow_provider_hisham.export.host.RepositoryHost` (GitLab projects are its repositories).

    :param gitlab_conn_id: the ``gitlab`` connection.
    :param max_retries: retries for 429, 5xx and connection errors.
    """

    conn_name_attr = "gitlab_conn_id"
    default_conn_name = "gitlab_default"
    conn_type = "gitlab"
    hook_name = "GitLab"
    push_username = "oauth2"
    topics_at_creation = True  # create_repository sends them (export.host.RepositoryHost)

    def __init__(self, gitlab_conn_id: str = default_conn_name, *, max_retries: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gitlab_conn_id = gitlab_conn_id
        self.max_retries = max_retries
        self.client: Any = None
        self._token: str | None = None
        self._git_origin: Origin | None = None
        self.namespace: str | None = None

    def get_conn(self):
        """A ``gitlab.Gitlab`` client for the connection (created once)."""
        if self.client is not None:
            return self.client
        import gitlab  # lazy: python-gitlab is not needed to parse DAGs

        conn = self.get_connection(self.gitlab_conn_id)
        extra = conn.extra_dejson or {}
        token = require_plain(conn.password, "password", f"connection {self.gitlab_conn_id!r}")
        if not token:
            raise ValueError(f"GitLab connection {self.gitlab_conn_id!r} has no access token (password)")
        mask_secret(token)
        url = (conn.host or "https://gitlab.com").rstrip("/")
        if "://" not in url:
            url = f"{conn.schema or 'https'}://{url}"
        if conn.port and url.count(":") < 2:
            url = f"{url}:{conn.port}"
        token_type = (extra.get("token_type") or "private").lower()
        if token_type not in ("private", "oauth"):
            raise ValueError(f"GitLab connection {self.gitlab_conn_id!r}: token_type must be 'private' or 'oauth'")
        auth = {"oauth_token": token} if token_type == "oauth" else {"private_token": token}
        verify = parse_bool(extra.get("verify_ssl"), f"GitLab connection {self.gitlab_conn_id!r}: field 'verify_ssl'",
                            default=True)
        self._token = token
        self._git_origin = connection_origin(extra.get("git_host") or url, conn_id=self.gitlab_conn_id)
        self.namespace = extra.get("namespace") or None
        self.client = gitlab.Gitlab(url, ssl_verify=verify, retry_transient_errors=True,
                                    timeout=float(extra.get("timeout", 30)), **auth)
        return self.client

    def _call(self, fn, *args, **kwargs):
        return fn(*args, max_retries=self.max_retries, **kwargs)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "port", "login", "extra"],
            "relabeling": {"host": "GitLab URL", "password": "Access token"},
            "placeholders": {"host": "https://gitlab.com"},
        }

    def test_connection(self) -> tuple[bool, str]:
        """``GET /user`` with the token."""
        try:
            client = self.get_conn()
            client.auth()
            return True, f"Connected to GitLab as {client.user.username}"
        except Exception as exc:  # noqa: BLE001 - the UI shows the message
            return False, str(exc)

    # -- projects --------------------------------------------------------------------------
    def _path(self, name: str, namespace: str | None) -> str:
        client = self.get_conn()
        namespace = namespace or self.namespace
        if not namespace:
            if client.user is None:
                client.auth()
            namespace = client.user.username
        return f"{namespace}/{name}"

    @staticmethod
    def _as_remote(project: Any, created: bool = False) -> RemoteRepository:
        return RemoteRepository(name=project.path, web_url=project.web_url, clone_url=project.http_url_to_repo,
                                default_branch=project.default_branch, description=project.description,
                                id=project.id, created=created)

    def get_repository(self, name: str, namespace: str | None = None) -> RemoteRepository | None:
        """``GET /projects/{url-encoded path}``; None when it does not exist."""
        import gitlab

        try:
            return self._as_remote(self._call(self.get_conn().projects.get, self._path(name, namespace)))
        except gitlab.exceptions.GitlabGetError as exc:
            if exc.response_code == 404:
                return None
            raise

    def create_repository(self, name: str, namespace: str | None = None, *, private: bool = True,
                          description: str | None = None,
                          settings: RepositorySettings | None = None) -> RemoteRepository:
        """``POST /projects`` (JSON body); ``NameTakenError`` when the path is used.

        Creation-time ``settings`` go in this request (visibility, topics, remove the source
        branch after merge, merge only when the pipeline succeeds): set once, with the project.
        """
        import gitlab

        client = self.get_conn()
        data: dict[str, Any] = {"name": name, "path": name, "visibility": "private" if private else "public",
                                "initialize_with_readme": False}
        if description:
            data["description"] = description
        if settings is not None:
            if settings.visibility:
                data["visibility"] = settings.visibility
            if settings.topics:
                data["topics"] = list(settings.topics)
            if settings.delete_branch_on_merge is not None:
                data["remove_source_branch_after_merge"] = settings.delete_branch_on_merge
            if settings.required_status_checks:
                data["only_allow_merge_if_pipeline_succeeds"] = True
        namespace = namespace or self.namespace
        if namespace:
            data["namespace_id"] = self._call(client.namespaces.get, namespace).id
        try:
            project = self._call(client.projects.create, data)
        except gitlab.exceptions.GitlabCreateError as exc:
            if exc.response_code == 400 and "has already been taken" in str(exc.error_message):
                raise NameTakenError(f"GitLab project {name!r} already exists") from None
            raise
        log.info("created GitLab project %s", project.web_url)
        return self._as_remote(project, created=True)

    def create_branch(self, project_id: int | str, branch: str, sha: str) -> bool:
        """``POST /projects/{id}/repository/branches``; False when the branch already exists."""
        import gitlab

        project = self.get_conn().projects.get(project_id, lazy=True)
        try:
            self._call(project.branches.create, {"branch": branch, "ref": sha})
        except gitlab.exceptions.GitlabCreateError as exc:
            if "already exists" in str(exc.error_message):
                return False
            raise
        return True

    def push_credentials(self) -> GitCredentials:
        """HTTP Basic credentials (``oauth2`` + token) accepted by GitLab for PATs and OAuth tokens."""
        self.get_conn()
        assert self._token is not None and self._git_origin is not None
        return GitCredentials(self.push_username, self._token, self._git_origin, f"connection {self.gitlab_conn_id!r}")

    # -- settings after the first push (export.settings.SettingsForge) ---------------------
    def _project(self, project_id: int | str):
        return self.get_conn().projects.get(project_id, lazy=True)

    def get_topics(self, project_id: int | str) -> list[str]:
        return list(self._call(self.get_conn().projects.get, project_id).topics or [])

    def set_topics(self, project_id: int | str, topics: list[str]) -> None:
        """``PUT /projects/{id}`` with ``topics``."""
        self._call(self.get_conn().projects.update, project_id, {"topics": list(topics)})

    def get_default_branch(self, project_id: int | str) -> str | None:
        return self._call(self.get_conn().projects.get, project_id).default_branch

    def set_default_branch(self, project_id: int | str, branch: str) -> None:
        """``PUT /projects/{id}`` with ``default_branch``."""
        self._call(self.get_conn().projects.update, project_id, {"default_branch": branch})

    def get_protection(self, project_id: int | str, branch: str) -> dict | None:
        """``GET /projects/{id}/protected_branches/{name}``; None when not protected (404)."""
        import gitlab

        try:
            return self._call(self._project(project_id).protectedbranches.get, branch).attributes
        except gitlab.exceptions.GitlabGetError as exc:
            if exc.response_code == 404:
                return None
            raise

    def set_protection(self, project_id: int | str, branch: str, required_reviews: int | None,
                       required_checks: list[str], strict: bool) -> None:
        """``POST /projects/{id}/protected_branches`` (after ``DELETE`` of the rule GitLab itself adds to
        a new project's default branch). Required reviews map to GitLab Free's equivalent: nobody
        pushes, changes arrive through merge requests (``push_access_level`` 0, merge: developers).
        Required checks map to the project's ``only_allow_merge_if_pipeline_succeeds``."""
        import gitlab

        project = self._project(project_id)
        if self.get_protection(project_id, branch) is not None:
            self._call(project.protectedbranches.delete, branch)
        push_level = 0 if required_reviews else 40  # 0: no one, 40: maintainers
        try:
            self._call(project.protectedbranches.create, {"name": branch, "push_access_level": push_level,
                                                          "merge_access_level": 30, "allow_force_push": False})
        except gitlab.exceptions.GitlabCreateError as exc:
            if exc.response_code != 409:  # protected meanwhile by someone else: theirs wins
                raise
        if required_checks:
            self._call(self.get_conn().projects.update, project_id, {"only_allow_merge_if_pipeline_succeeds": True})

    # -- merge requests (export.pull_request.RequestForge) --------------------------------
    @staticmethod
    def _as_request(mr: Any) -> ChangeRequest:
        state = {"opened": "open", "locked": "open"}.get(mr.state, mr.state)
        return ChangeRequest(mr.iid, mr.web_url, state, mr.source_branch, mr.target_branch, mr.title,
                             bool(getattr(mr, "draft", False)))

    def find_request(self, repository: int | str, head_branch: str) -> ChangeRequest | None:
        """``GET /projects/{id}/merge_requests?source_branch=...&state=all``: the newest, any state."""
        project = self._project(repository)
        found = self._call(project.mergerequests.list, source_branch=head_branch, state="all",
                           order_by="created_at", sort="desc", get_all=False, per_page=20)
        mine = [mr for mr in found if mr.source_branch == head_branch]
        return self._as_request(mine[0]) if mine else None

    def _user_ids(self, usernames: tuple[str, ...]) -> list[int]:
        ids = []
        for name in usernames:
            users = self._call(self.get_conn().users.list, username=name, get_all=False)
            if not users:
                log.warning("GitLab user %r not found; not requested as reviewer", name)
                continue
            ids.append(users[0].id)
        return ids

    def open_request(self, repository: int | str, head_branch: str, base_branch: str,
                     spec: RequestSpec) -> ChangeRequest:
        """``POST /projects/{id}/merge_requests`` (draft: GitLab's ``Draft:`` title prefix)."""
        data: dict[str, Any] = {"source_branch": head_branch, "target_branch": base_branch,
                                "title": f"Draft: {spec.title}" if spec.draft else spec.title,
                                "description": spec.body}
        if spec.labels:
            data["labels"] = ",".join(spec.labels)
        if spec.reviewers:
            data["reviewer_ids"] = self._user_ids(spec.reviewers)
        mr = self._call(self._project(repository).mergerequests.create, data)
        log.info("opened merge request %s", mr.web_url)
        return self._as_request(mr)

    def update_request(self, repository: int | str, request: ChangeRequest, spec: RequestSpec) -> ChangeRequest:
        """``PUT /projects/{id}/merge_requests/{iid}``: title and description; still a draft only if it
        still is one (a person may have marked it ready); reviewers and labels are set at opening only."""
        title = f"Draft: {spec.title}" if request.draft else spec.title
        mr = self._call(self._project(repository).mergerequests.update, request.number,
                        {"title": title, "description": spec.body})
        return ChangeRequest(mr["iid"], mr["web_url"], "open", mr["source_branch"], mr["target_branch"],
                             mr["title"], bool(mr.get("draft")))
