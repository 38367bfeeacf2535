"""GitHub hook for repository creation, on top of the github provider's ``GithubHook`` (PyGithub).

Adds what export needs: create a repository for the token's user or an organisation, get one,
create branch refs, the git push credentials, and retries that follow
GitHub's documented rate-limit headers (primary: ``x-ratelimit-remaining: 0`` -> wait until
``x-ratelimit-reset``, bounded; secondary: ``retry-after``), 5xx and network errors with backoff.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from airflow.providers.github.hooks.github import GithubHook
from airflow.sdk.log import mask_secret
from github import Auth, Github, GithubException, GithubRetry, UnknownObjectException
from github.GithubException import RateLimitExceededExceedsMaxWait
from urllib3.util.retry import Retry

from airflow_provider_hisham.export.errors import NameTakenError
from airflow_provider_hisham.export.git import GitCredentials
from airflow_provider_hisham.export.pull_request import ChangeRequest, RequestSpec
from airflow_provider_hisham.export.remote import RemoteRepository
from airflow_provider_hisham.export.settings import RepositorySettings
from airflow_provider_hisham.export.urls import Origin, connection_origin
from airflow_provider_hisham.secrets import require_plain

log = logging.getLogger(__name__)

GITHUB_API = "https://api.github.com"


class RateLimitRetry(GithubRetry):
    """``GithubRetry`` that also treats 429 as a rate limit and waits for ``x-ratelimit-reset``.

    GitHub answers an exhausted primary limit with 403 *or* 429 and ``x-ratelimit-remaining: 0``;
    the wait is capped by ``max_rate_limit_wait`` (then ``RateLimitExceededExceedsMaxWait``).
    Every wait between two tries goes through ``sleep`` (default ``time.sleep``), so tests record
    the waits instead of spending them.
    """

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> None:
        self.sleep_fn = sleep
        super().__init__(**kwargs)

    def new(self, **kw: Any) -> RateLimitRetry:  # each try gets a new Retry: keep the sleep
        kw.setdefault("sleep", self.sleep_fn)
        return super().new(**kw)

    def sleep_for_retry(self, response: Any) -> bool:
        """urllib3's ``Retry.sleep_for_retry`` (wait ``Retry-After`` when given), through ``sleep_fn``."""
        retry_after = self.get_retry_after(response)
        if retry_after:
            self.sleep_fn(retry_after)
            return True
        return False

    def sleep(self, response: Any = None) -> None:
        """urllib3's ``Retry.sleep`` (``Retry-After`` first, else the backoff), through ``sleep_fn``."""
        if self.respect_retry_after_header and response and self.sleep_for_retry(response):
            return
        backoff = self.get_backoff_time()
        if backoff > 0:
            self.sleep_fn(backoff)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):  # type: ignore[override]
        headers = getattr(response, "headers", None) or {}
        if (response is not None and response.status in (403, 429) and "Retry-After" not in headers
                and headers.get("X-RateLimit-Remaining") == "0" and str(headers.get("X-RateLimit-Reset", "")).isdigit()):
            wait = max(0.0, int(headers["X-RateLimit-Reset"]) - time.time()) + 1.0
            if self.max_rate_limit_wait is not None and wait > self.max_rate_limit_wait:
                raise RateLimitExceededExceedsMaxWait(response.status, {"message": "rate limit exceeded"},
                                                      dict(headers), wait=wait)
            retry = Retry.increment(self, method, url, response, error, _pool, _stacktrace)
            log.info("GitHub rate limit exhausted; waiting %.1fs for x-ratelimit-reset", wait)
            retry.get_backoff_time = lambda: wait  # type: ignore[method-assign]
            return retry
        return super().increment(method, url, response, error, _pool, _stacktrace)


class GithubRepositoryHook(GithubHook):
    """``GithubHook`` plus repository creation (``github`` connection: password = token, host = API URL);
    a :class:`~airflow_provider_hisham.export.host.RepositoryHost`.

    The token is pushed only to the git host of the API: github.com for api.github.com, the
    API's own host otherwise (GitHub Enterprise), or the connection extra ``git_host`` (a URL).

    :param github_conn_id: the ``github`` connection (encrypted values: ``FernetSecretsBackend``).
    :param max_retries: retries for rate limits, 5xx and network errors.
    :param backoff_factor: exponential backoff base in seconds for 5xx and network errors.
    :param max_rate_limit_wait: longest wait for a rate-limit reset before giving up, in seconds.
    :param sleep: how the retries wait (``time.sleep``; tests pass a recorder).
    """

    hook_name = "GitHub (HishamOS repository export)"
    push_username = "x-access-token"
    topics_at_creation = False  # apply_after_push sets them (export.host.RepositoryHost)

    def __init__(self, github_conn_id: str = GithubHook.default_conn_name, *, max_retries: int = 5,
                 backoff_factor: float = 1.0, max_rate_limit_wait: float = 300.0,
                 sleep: Callable[[float], None] = time.sleep, **kwargs: Any) -> None:
        self.max_retries = max_retries
        self.retry_sleep = sleep
        self.backoff_factor = backoff_factor
        self.max_rate_limit_wait = max_rate_limit_wait
        super().__init__(github_conn_id, **kwargs)

    def get_conn(self) -> Github:
        """PyGithub client with rate-limit aware retries."""
        if self.client is not None:
            return self.client
        conn = self.get_connection(self.github_conn_id)
        token = require_plain(conn.password, "password", f"connection {self.github_conn_id!r}")
        if not token:
            return super().get_conn()  # GitHub App authentication, as the github provider does it
        mask_secret(token)
        extras = conn.extra_dejson or {}
        retry = RateLimitRetry(
            total=self.max_retries, backoff_factor=self.backoff_factor, max_rate_limit_wait=self.max_rate_limit_wait,
            secondary_rate_wait=float(extras.get("secondary_rate_wait", 60)),
            status_forcelist=[429, *range(500, 600)], sleep=self.retry_sleep,
        )
        kwargs: dict[str, Any] = {"auth": Auth.Token(token), "retry": retry}
        if conn.host:
            kwargs["base_url"] = conn.host.rstrip("/")
        for name in ("seconds_between_requests", "seconds_between_writes", "timeout"):
            if name in extras:
                kwargs[name] = extras[name]
        self.client = Github(**kwargs)
        return self.client

    # -- repositories ----------------------------------------------------------------------
    def _owner(self, org: str | None) -> str:
        return org or self.get_conn().get_user().login

    @staticmethod
    def _as_remote(repo: Any, created: bool = False) -> RemoteRepository:
        return RemoteRepository(name=repo.name, web_url=repo.html_url, clone_url=repo.clone_url,
                                default_branch=repo.default_branch, description=repo.description,
                                id=repo.full_name, created=created)

    def get_repository(self, name: str, org: str | None = None) -> RemoteRepository | None:
        """``GET /repos/{owner}/{repo}``; None when it does not exist."""
        try:
            return self._as_remote(self.get_conn().get_repo(f"{self._owner(org)}/{name}"))
        except UnknownObjectException:
            return None

    def create_repository(self, name: str, org: str | None = None, *, private: bool = True,
                          description: str | None = None,
                          settings: RepositorySettings | None = None) -> RemoteRepository:
        """``POST /user/repos`` or ``POST /orgs/{org}/repos``; ``NameTakenError`` when the name is used.

        The creation-time ``settings`` (visibility, delete-branch-on-merge) travel in this one
        request, so they are set exactly once, with the repository.
        """
        client = self.get_conn()
        owner = client.get_organization(org) if org else client.get_user()
        kwargs: dict[str, Any] = {"private": private, "auto_init": False}
        if description:
            kwargs["description"] = description
        if settings is not None:
            if settings.visibility:
                kwargs["private"] = settings.visibility != "public"
                if org and settings.visibility == "internal":
                    kwargs["visibility"] = "internal"
            if settings.delete_branch_on_merge is not None:
                kwargs["delete_branch_on_merge"] = settings.delete_branch_on_merge
        try:
            repo = owner.create_repo(name, **kwargs)
        except GithubException as exc:
            if exc.status == 422 and _name_taken(exc.data):
                raise NameTakenError(f"GitHub repository name {name!r} already exists") from None
            raise
        log.info("created GitHub repository %s", repo.html_url)
        return self._as_remote(repo, created=True)

    def create_branch(self, full_name: str, branch: str, sha: str) -> bool:
        """``POST /repos/{owner}/{repo}/git/refs``; False when the branch already exists."""
        try:
            self.get_conn().get_repo(full_name, lazy=True).create_git_ref(f"refs/heads/{branch}", sha)
        except GithubException as exc:
            if exc.status == 422 and "already exists" in str(exc.data):
                return False
            raise
        return True

    def git_origin(self) -> Origin:
        """The one origin ``push_credentials`` may be sent to (see the class docstring)."""
        conn = self.get_connection(self.github_conn_id)
        git_host = (conn.extra_dejson or {}).get("git_host")
        api = connection_origin(git_host or conn.host or GITHUB_API, conn_id=self.github_conn_id)
        if not git_host and api == connection_origin(GITHUB_API, conn_id=self.github_conn_id):
            return Origin("https", "github.com", 443)
        return api

    def push_credentials(self) -> GitCredentials:
        """HTTP Basic credentials for ``git push`` to repositories this token can write, on ``git_origin()``."""
        auth = self.get_conn().requester.auth
        token = getattr(auth, "token", None)
        if not token:
            raise ValueError(f"connection {self.github_conn_id!r} yields no token usable for git push")
        return GitCredentials(self.push_username, token, self.git_origin(), f"connection {self.github_conn_id!r}")


    # -- repository settings after the first push (export.settings decides when) --------------
    def _api(self, verb: str, path: str, body: Any = None) -> Any:
        """One REST call through PyGithub's requester (its retries and rate-limit handling)."""
        _, data = self.get_conn().requester.requestJsonAndCheck(verb, path, input=body)
        return data

    def get_topics(self, full_name: str) -> list[str]:
        """``GET /repos/{owner}/{repo}/topics``."""
        return list(self._api("GET", f"/repos/{full_name}/topics").get("names", []))

    def set_topics(self, full_name: str, topics: list[str]) -> None:
        """``PUT /repos/{owner}/{repo}/topics`` (replaces the set)."""
        self._api("PUT", f"/repos/{full_name}/topics", {"names": list(topics)})

    def set_default_branch(self, full_name: str, branch: str) -> None:
        """``PATCH /repos/{owner}/{repo}`` with ``default_branch``."""
        self._api("PATCH", f"/repos/{full_name}", {"default_branch": branch})

    def get_default_branch(self, full_name: str) -> str | None:
        return self._api("GET", f"/repos/{full_name}").get("default_branch")

    def get_protection(self, full_name: str, branch: str) -> dict | None:
        """``GET .../branches/{branch}/protection``; None when the branch is not protected (404)."""
        try:
            return self._api("GET", f"/repos/{full_name}/branches/{quote(branch, safe='')}/protection")
        except GithubException as exc:  # GitHub says "Branch not protected": key on the status, not the text
            if exc.status == 404:
                return None
            raise

    def set_protection(self, full_name: str, branch: str, required_reviews: int | None,
                       required_checks: list[str], strict: bool) -> None:
        """``PUT .../branches/{branch}/protection`` (all four required fields, as GitHub documents)."""
        body = {
            # ``contexts`` is deprecated in favour of ``checks`` but is the one the description requires
            "required_status_checks": {"strict": strict, "contexts": list(required_checks)} if required_checks else None,
            "enforce_admins": False,
            "required_pull_request_reviews": ({"required_approving_review_count": required_reviews}
                                              if required_reviews is not None else None),
            "restrictions": None,
        }
        self._api("PUT", f"/repos/{full_name}/branches/{quote(branch, safe='')}/protection", body)

    # -- pull requests (export.pull_request.RequestForge) ---------------------------------
    @staticmethod
    def _as_request(pull: Any) -> ChangeRequest:
        state = "merged" if pull.merged_at else pull.state  # list items carry merged_at, not merged
        return ChangeRequest(pull.number, pull.html_url, state, pull.head.ref, pull.base.ref, pull.title,
                             bool(pull.draft))

    def find_request(self, repository: str, head_branch: str) -> ChangeRequest | None:
        """``GET /repos/{owner}/{repo}/pulls?state=all&head=owner:branch``: the newest one, any state."""
        repo = self.get_conn().get_repo(repository, lazy=True)
        owner = repository.split("/", 1)[0]
        for pull in repo.get_pulls(state="all", head=f"{owner}:{head_branch}", sort="created", direction="desc"):
            if pull.head.ref == head_branch:
                return self._as_request(pull)
        return None

    def open_request(self, repository: str, head_branch: str, base_branch: str, spec: RequestSpec) -> ChangeRequest:
        """``POST .../pulls``, then reviewers (``POST .../requested_reviewers``) and labels."""
        repo = self.get_conn().get_repo(repository, lazy=True)
        pull = repo.create_pull(base=base_branch, head=head_branch, title=spec.title, body=spec.body,
                                draft=spec.draft, maintainer_can_modify=True)
        self._review_and_label(repository, pull, spec)
        log.info("opened pull request %s", pull.html_url)
        return self._as_request(pull)

    def update_request(self, repository: str, request: ChangeRequest, spec: RequestSpec) -> ChangeRequest:
        """``PATCH .../pulls/{n}`` (title and body follow the workflow); reviewers and labels are only
        added when the request is opened (a person may have changed them since)."""
        data = self._api("PATCH", f"/repos/{repository}/pulls/{request.number}",
                         {"title": spec.title, "body": spec.body})
        return ChangeRequest(data["number"], data["html_url"], "open", data["head"]["ref"], data["base"]["ref"],
                             data["title"], bool(data.get("draft")))

    def _review_and_label(self, repository: str, pull: Any, spec: RequestSpec) -> None:
        if spec.reviewers:
            pull.create_review_request(reviewers=list(spec.reviewers))
        if spec.labels:
            # {"labels": [...]}: the form GitHub's description declares (PyGithub posts a bare list)
            self._api("POST", f"/repos/{repository}/issues/{pull.number}/labels", {"labels": list(spec.labels)})


def _name_taken(data: Any) -> bool:
    errors = data.get("errors", []) if isinstance(data, dict) else []
    return any(isinstance(e, dict) and "already exists" in str(e.get("message", "")) for e in errors)
