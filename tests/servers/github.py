"""A stateful GitHub REST API stand-in on 127.0.0.1, checked against GitHub's own description.

Serves the operations repository export uses (``GET /user``, ``GET /orgs/{org}``,
``POST /user/repos``, ``POST /orgs/{org}/repos``, ``GET /repos/{owner}/{repo}``,
``POST /repos/{owner}/{repo}/git/refs``). Response bodies start from the examples in
``@octokit/openapi``'s ``api.github.com.json`` and every request and documented response is
validated against that file (``state.checker.violations`` must stay empty). Created repositories
are real bare repositories on a ``GitHttpServer``: ``clone_url`` points there, so a real push
follows creation. Faults (rate limits with GitHub's headers, 5xx) are queued with ``fail_next``;
network faults (a stall, a reset, a response dropped after committing) with ``fail_network``.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.servers.base import JsonHandler, LocalServer, NetworkFault, NetworkFaultPlan
from tests.servers.git_http import GitHttpServer
from tests.servers.openapi_check import SpecChecker

SPEC = Path(__file__).resolve().parent.parent / "node" / "node_modules" / "@octokit" / "openapi" / "generated" / "api.github.com.json"
OPERATIONS = [
    ("/user", "get"), ("/orgs/{org}", "get"), ("/user/repos", "post"), ("/orgs/{org}/repos", "post"),
    ("/repos/{owner}/{repo}", "get"), ("/repos/{owner}/{repo}/git/refs", "post"),
    # request mode and repository settings
    ("/repos/{owner}/{repo}", "patch"), ("/repos/{owner}/{repo}/pulls", "get"), ("/repos/{owner}/{repo}/pulls", "post"),
    ("/repos/{owner}/{repo}/pulls/{pull_number}", "patch"),
    ("/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers", "post"),
    ("/repos/{owner}/{repo}/issues/{issue_number}/labels", "post"),
    ("/repos/{owner}/{repo}/topics", "get"), ("/repos/{owner}/{repo}/topics", "put"),
    ("/repos/{owner}/{repo}/branches/{branch}/protection", "get"),
    ("/repos/{owner}/{repo}/branches/{branch}/protection", "put"),
]
DOCS = "https://docs.github.com/rest"
NAME_TAKEN = {
    "message": "Repository creation failed.",
    "errors": [{"resource": "Repository", "code": "custom", "field": "name",
                "message": "name already exists on this account"}],
    "documentation_url": f"{DOCS}/repos/repos#create-a-repository-for-the-authenticated-user",
    "status": "422",
}
_PARAM = {"branch": ".+", "pull_number": "\\d+", "issue_number": "\\d+"}


def _route(template: str) -> re.Pattern:
    """The regex for an OpenAPI path template (``{branch}`` may hold slashes, numbers are digits)."""
    parts = re.split(r"\{(\w+)\}", template)
    rx = "".join(re.escape(part) if k % 2 == 0 else f"(?P<{part}>{_PARAM.get(part, '[^/]+')})"
                 for k, part in enumerate(parts))
    return re.compile(f"^{rx}$")


_ROUTES = [(method.upper(), _route(template), template) for template, method in OPERATIONS]


@dataclass
class GitHubState(NetworkFaultPlan):
    token: str
    git: GitHttpServer
    checker: SpecChecker
    login: str = "octo-user"
    orgs: set[str] = field(default_factory=lambda: {"hisham-org"})
    repos: dict[str, dict] = field(default_factory=dict)  # full_name -> repository body
    faults: list[tuple[str, str, int, dict, dict]] = field(default_factory=list)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    pulls: dict[str, list[dict]] = field(default_factory=dict)  # full_name -> pull request bodies
    topics: dict[str, list[str]] = field(default_factory=dict)
    protections: dict[tuple[str, str], dict] = field(default_factory=dict)  # (full_name, branch) -> PUT body
    bodies: list[tuple[str, str, Any]] = field(default_factory=list)  # (method, path, JSON body) of writes
    network_faults: list[tuple[str, str, NetworkFault]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set_pull_state(self, full_name: str, number: int, state: str) -> None:
        """What a person does in the UI: merge (``merged``) or close (``closed``) a pull request."""
        with self.lock:
            pull = next(p for p in self.pulls[full_name] if p["number"] == number)
            pull.update(state="closed", merged=state == "merged", closed_at="2026-01-01T00:00:00Z",
                        merged_at="2026-01-01T00:00:00Z" if state == "merged" else None)

    def fail_next(self, method: str, path_prefix: str, kind: str, count: int = 1) -> None:
        """Queue ``count`` faults for requests starting with ``path_prefix``.

        kind: ``primary`` (403, x-ratelimit-remaining 0), ``primary429``, ``secondary``
        (403 + retry-after), ``secondary429``, ``5xx`` (502), ``unauthorized`` (401), ``drop``
        (connection closed without a response).
        """
        now = int(time.time())
        limit = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-used": "5000",
                 "x-ratelimit-reset": str(now + 1), "x-ratelimit-resource": "core"}
        primary = {"message": f"API rate limit exceeded for user ID 1.",
                   "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api", "status": "403"}
        secondary = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before "
                                "you try again.", "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                     "status": "403"}
        table = {
            "primary": (403, limit, primary),
            "primary429": (429, limit, {**primary, "status": "429"}),
            "secondary": (403, {"retry-after": "1"}, secondary),
            "secondary429": (429, {"retry-after": "1"}, {**secondary, "status": "429"}),
            "5xx": (502, {}, {"message": "Server Error"}),
            "unauthorized": (401, {}, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}),
            "drop": (0, {}, {}),  # close the connection without an answer (a network error)
            "drop_after": (-1, {}, {}),  # do the work, then close the connection (the answer is lost)
        }
        status, headers, body = table[kind]
        with self.lock:
            self.faults.extend([(method, path_prefix, status, headers, body)] * count)

    def take_fault(self, method: str, path: str):
        with self.lock:
            for i, (m, prefix, *rest) in enumerate(self.faults):
                if m == method and path.startswith(prefix):
                    return self.faults.pop(i)
        return None


def _examples() -> dict[str, Any]:
    spec = json.loads(SPEC.read_text())
    examples = spec["components"]["examples"]
    # GitHub's examples predate some required fields (has_discussions, archived_at); the
    # handler fills those in, and the checker validates every body actually sent.
    return {name: examples[name]["value"] for name in ("full-repository", "private-user", "organization-full", "git-ref",
                                                       "pull-request", "pull-request-simple", "label-items")}


class GitHubHandler(JsonHandler):
    server: Any
    examples: dict[str, Any] = {}

    @property
    def state(self) -> GitHubState:
        return self.server.state

    def _rate_headers(self) -> dict[str, str]:
        return {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999", "x-ratelimit-used": "1",
                "x-ratelimit-reset": str(int(time.time()) + 3600), "x-ratelimit-resource": "core",
                "x-github-api-version-selected": "2022-11-28"}

    def handle_request(self) -> None:
        body = self.read_body()
        method, path = self.command, self.path_only
        route = next(((m, t, rx.match(path)) for m, rx, t in _ROUTES if m == method and rx.match(path)), None)
        network = self.state.take_network_fault(method, path)
        if network and network.before(self):
            with self.state.lock:
                self.state.requests.append((method, path, 0))
            return
        status, payload, headers = self._dispatch(method, path, body, route)
        if status == -1:  # drop_after: handle the request as usual, then lose the answer
            status, payload, headers = self._dispatch(method, path, body, route)
            if route is not None:
                self.state.checker.check(method, path, route[1], body, status, json.dumps(payload).encode(),
                                         self.query)
            status = 0
        if method in ("POST", "PUT", "PATCH") and body:
            with self.state.lock:
                self.state.bodies.append((method, path, json.loads(body)))
        if status == 0:
            with self.state.lock:
                self.state.requests.append((method, path, 0))
            self.close_connection = True
            return
        raw = json.dumps(payload).encode()
        if route is not None:
            self.state.checker.check(method, path, route[1], body, status, raw, self.query,
                                     check_request=status != 401)
        with self.state.lock:
            self.state.requests.append((method, path, status))
        if network and network.after(self):
            return
        self.send(status, raw, content_type="application/json; charset=utf-8", headers=headers)

    def _dispatch(self, method: str, path: str, body: bytes, route) -> tuple[int, Any, dict]:
        headers = self._rate_headers()
        auth = self.headers.get("Authorization", "")
        if auth.split(" ", 1)[-1] != self.state.token or auth.split(" ", 1)[0].lower() not in ("token", "bearer"):
            return 401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}, headers
        fault = self.state.take_fault(method, path)
        if fault:
            return fault[2], fault[4], {**headers, **fault[3]}
        if route is None:
            return 404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, headers
        params = route[2].groupdict()
        data = json.loads(body) if body else {}
        template = route[1]
        if template == "/user":
            return 200, self._user(), headers
        if template == "/orgs/{org}":
            if params["org"] not in self.state.orgs:
                return 404, _not_found("orgs/orgs#get-an-organization"), headers
            return 200, self._org(params["org"]), headers
        if template in ("/user/repos", "/orgs/{org}/repos"):
            owner = params.get("org") or self.state.login
            if "org" in params and owner not in self.state.orgs:
                return 404, _not_found("repos/repos#create-an-organization-repository"), headers
            return self._create(owner, data, headers)
        full_name = f"{params['owner']}/{params['repo']}"
        repo = self.state.repos.get(full_name)
        if repo is None:
            return 404, _not_found("repos/repos#get-a-repository"), headers
        if template == "/repos/{owner}/{repo}" and method == "GET":
            return 200, repo, headers
        if template == "/repos/{owner}/{repo}/git/refs":
            return self._create_ref(full_name, data, headers)
        return self._settings_and_pulls(method, template, full_name, repo, params, data, headers)

    # -- request mode and repository settings ----------------------------------------------
    def _settings_and_pulls(self, method: str, template: str, full_name: str, repo: dict, params: dict,
                            data: Any, headers: dict) -> tuple[int, Any, dict]:
        state = self.state
        if template == "/repos/{owner}/{repo}":  # PATCH
            with state.lock:
                for key in ("description", "private", "visibility", "default_branch", "delete_branch_on_merge",
                            "homepage"):
                    if key in data:
                        repo[key] = data[key]
                if "private" in data:
                    repo["visibility"] = "private" if data["private"] else "public"
            return 200, repo, headers
        if template == "/repos/{owner}/{repo}/topics":
            with state.lock:
                if method == "PUT":
                    state.topics[full_name] = [n.lower() for n in data.get("names", [])]
                    repo["topics"] = state.topics[full_name]
                return 200, {"names": list(state.topics.get(full_name, []))}, headers
        if template == "/repos/{owner}/{repo}/branches/{branch}/protection":
            branch = params["branch"]
            if self.state.git.head(full_name, branch) is None:
                return 404, _not_found("branches/branch-protection#get-branch-protection") | {
                    "message": "Branch not found"}, headers
            with state.lock:
                if method == "GET":
                    if (full_name, branch) not in state.protections:
                        return 404, _not_found("branches/branch-protection#get-branch-protection") | {
                            "message": "Branch not protected"}, headers
                    return 200, self._protection(full_name, branch, state.protections[(full_name, branch)]), headers
                state.protections[(full_name, branch)] = data
                return 200, self._protection(full_name, branch, data), headers
        pulls = state.pulls.setdefault(full_name, [])
        if template == "/repos/{owner}/{repo}/pulls" and method == "GET":
            wanted, head = self.query.get("state", ["open"])[0], self.query.get("head", [None])[0]
            with state.lock:
                found = [p for p in reversed(pulls) if (wanted == "all" or p["state"] == wanted)
                         and (head is None or p["head"]["label"] == head)]
            return 200, [self._simple(p) for p in found], headers
        if template == "/repos/{owner}/{repo}/pulls":  # POST
            return self._open_pull(full_name, repo, pulls, data, headers)
        number = int(params.get("pull_number") or params.get("issue_number"))
        pull = next((p for p in pulls if p["number"] == number), None)
        if pull is None:
            return 404, _not_found("pulls/pulls"), headers
        with state.lock:
            if template == "/repos/{owner}/{repo}/pulls/{pull_number}":  # PATCH
                for key in ("title", "body", "state", "base"):
                    if key in data:
                        pull[key] = data[key] if key != "base" else {**pull["base"], "ref": data[key]}
                return 200, pull, headers
            if template.endswith("/requested_reviewers"):
                logins = [r for r in data.get("reviewers", []) if r not in
                          {u["login"] for u in pull["requested_reviewers"]}]
                pull["requested_reviewers"] += [self._user_simple(r) for r in logins]
                return 201, self._simple(pull), headers
            # labels: GitHub adds to the existing ones
            names = [n if isinstance(n, str) else n["name"] for n in data.get("labels", [])]
            have = {lab["name"] for lab in pull["labels"]}
            for name in names:
                if name not in have:
                    pull["labels"].append(self._label(full_name, name))
            return 200, pull["labels"], headers

    def _open_pull(self, full_name: str, repo: dict, pulls: list, data: dict, headers: dict) -> tuple[int, Any, dict]:
        head, base = data.get("head", ""), data.get("base", "")
        owner = full_name.split("/")[0]
        branch = head.split(":", 1)[-1]
        head_sha, base_sha = self.state.git.head(full_name, branch), self.state.git.head(full_name, base)
        if head_sha is None or base_sha is None:
            return 422, {"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "invalid",
                                                                      "field": "head" if head_sha is None else "base"}],
                         "documentation_url": f"{DOCS}/pulls/pulls#create-a-pull-request", "status": "422"}, headers
        with self.state.lock:
            if any(p["state"] == "open" and p["head"]["ref"] == branch for p in pulls):
                return 422, {"message": "Validation Failed", "errors": [{
                    "resource": "PullRequest", "code": "custom",
                    "message": f"A pull request already exists for {owner}:{branch}."}],
                    "documentation_url": f"{DOCS}/pulls/pulls#create-a-pull-request", "status": "422"}, headers
            number = sum(len(v) for v in self.state.pulls.values()) + 1
            pull = self._example("pull-request")
            for key in ("assignee", "milestone", "active_lock_reason", "auto_merge", "merged_by"):
                pull[key] = None
            base_repo = {**repo}
            pull.update(
                number=number, id=5000 + number, state="open", locked=False, title=data.get("title", ""),
                body=data.get("body"), draft=bool(data.get("draft", False)), merged=False, mergeable=None,
                merged_at=None, closed_at=None, merge_commit_sha=None, assignees=[], requested_reviewers=[],
                requested_teams=[], labels=[], url=f"{self.server_url}/repos/{full_name}/pulls/{number}",
                html_url=f"{self.server_url}/{full_name}/pull/{number}",
                head={**pull["head"], "ref": branch, "sha": head_sha, "label": f"{owner}:{branch}", "repo": base_repo,
                      "user": repo["owner"]},
                base={**pull["base"], "ref": base, "sha": base_sha, "label": f"{owner}:{base}", "repo": base_repo,
                      "user": repo["owner"]},
                user=repo["owner"], comments=0, review_comments=0, commits=1, additions=1, deletions=0,
                changed_files=1,
            )
            pulls.append(pull)
        return 201, pull, {**headers, "Location": pull["url"]}

    def _simple(self, pull: dict) -> dict:
        """A ``pull-request-simple`` view of a stored pull request (what list endpoints return)."""
        keys = self.examples["pull-request-simple"].keys()
        return {k: pull[k] for k in keys if k in pull}

    def _user_simple(self, login: str) -> dict:
        user = self._example("pull-request")["user"]
        user.update(login=login, html_url=f"{self.server_url}/{login}", url=f"{self.server_url}/users/{login}")
        return user

    def _label(self, full_name: str, name: str) -> dict:
        label = self._example("label-items")[0]
        label.update(name=name, url=f"{self.server_url}/repos/{full_name}/labels/{name}", default=False)
        return label

    def _protection(self, full_name: str, branch: str, data: dict) -> dict:
        """The ``protected-branch`` body for what was PUT (the fields GitHub echoes)."""
        url = f"{self.server_url}/repos/{full_name}/branches/{branch}/protection"
        body: dict[str, Any] = {"url": url}
        checks = data.get("required_status_checks")
        if checks:
            body["required_status_checks"] = {
                "url": f"{url}/required_status_checks", "strict": bool(checks.get("strict")),
                "contexts": [c["context"] for c in checks.get("checks", [])] + list(checks.get("contexts", [])),
                "checks": [{"context": c["context"], "app_id": c.get("app_id")} for c in checks.get("checks", [])],
                "contexts_url": f"{url}/required_status_checks/contexts"}
        reviews = data.get("required_pull_request_reviews")
        if reviews:
            body["required_pull_request_reviews"] = {
                "url": f"{url}/required_pull_request_reviews",
                "dismiss_stale_reviews": bool(reviews.get("dismiss_stale_reviews")),
                "require_code_owner_reviews": bool(reviews.get("require_code_owner_reviews")),
                "required_approving_review_count": int(reviews.get("required_approving_review_count", 1))}
        body["enforce_admins"] = {"url": f"{url}/enforce_admins", "enabled": bool(data.get("enforce_admins"))}
        return body

    def _user(self) -> dict:
        user = self._example("private-user")
        user.update(login=self.state.login, html_url=f"{self.server_url}/{self.state.login}",
                    url=f"{self.server_url}/users/{self.state.login}", user_view_type="private")
        return user

    def _org(self, org: str) -> dict:
        body = self._example("organization-full")
        body.update(login=org, html_url=f"{self.server_url}/{org}", url=f"{self.server_url}/orgs/{org}",
                    repos_url=f"{self.server_url}/orgs/{org}/repos", archived_at=None)
        return body

    def _example(self, name: str) -> dict:
        """A deep copy of GitHub's example body with its URLs pointing at this server."""
        return json.loads(json.dumps(self.examples[name]).replace("https://api.github.com", self.server_url))

    @property
    def server_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _create(self, owner: str, data: dict, headers: dict) -> tuple[int, Any, dict]:
        name = data.get("name", "")
        full_name = f"{owner}/{name}"
        with self.state.lock:
            if full_name.lower() in (k.lower() for k in self.state.repos):
                return 422, NAME_TAKEN, headers
            repo = json.loads(json.dumps(self._example("full-repository")).replace("octocat/Hello-World", full_name))
            for key in ("organization", "parent", "source", "template_repository"):
                repo.pop(key, None)
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            owner_body = dict(repo["owner"])
            owner_body.update(login=owner, html_url=f"{self.server_url}/{owner}")
            repo.update(
                id=len(self.state.repos) + 1000, name=name, full_name=full_name, owner=owner_body,
                private=bool(data.get("private", False)), visibility="private" if data.get("private") else "public",
                description=data.get("description"), homepage=data.get("homepage"),
                html_url=f"{self.server_url}/{full_name}", clone_url=self.state.git.repo_url(full_name),
                default_branch="main", size=0, pushed_at=now, created_at=now, updated_at=now, forks_count=0, stargazers_count=0,
                watchers_count=0, open_issues_count=0, forks=0, watchers=0, open_issues=0, has_discussions=False,
            )
            self.state.git.create_bare(full_name)
            self.state.repos[full_name] = repo
            self.state.created.append(full_name)
        return 201, repo, {**headers, "Location": f"{self.server_url}/repos/{full_name}"}

    def _create_ref(self, full_name: str, data: dict, headers: dict) -> tuple[int, Any, dict]:
        ref, sha = data.get("ref", ""), data.get("sha", "")
        bare = self.state.git.root / f"{full_name}.git"
        if subprocess.run(["git", "-C", str(bare), "cat-file", "-e", f"{sha}^{{commit}}"],
                          capture_output=True).returncode != 0:
            return 422, {"message": "Object does not exist", "documentation_url": f"{DOCS}/git/refs#create-a-reference",
                         "status": "422"}, headers
        created = subprocess.run(["git", "-C", str(bare), "update-ref", ref, sha, ""], capture_output=True)
        if created.returncode != 0:
            return 422, {"message": "Reference already exists",
                         "documentation_url": f"{DOCS}/git/refs#create-a-reference", "status": "422"}, headers
        body = self._example("git-ref")
        body.update(ref=ref, url=f"{self.server_url}/repos/{full_name}/git/{ref}")
        body["object"].update(sha=sha, type="commit", url=f"{self.server_url}/repos/{full_name}/git/commits/{sha}")
        return 201, body, {**headers, "Location": body["url"]}


def _not_found(doc: str) -> dict:
    return {"message": "Not Found", "documentation_url": f"{DOCS}/{doc}", "status": "404"}


def github_server(token: str, git: GitHttpServer) -> LocalServer:
    """A started-on-enter GitHub stand-in sharing ``token`` with the git server ``git``."""
    if not SPEC.exists():
        raise FileNotFoundError(f"{SPEC} is missing: run `npm ci` in tests/node (scripts/test.sh does)")
    if not GitHubHandler.examples:
        GitHubHandler.examples = _examples()
    checker = SpecChecker(SPEC, OPERATIONS, "https://api.github.com")
    return LocalServer(GitHubHandler, GitHubState(token=token, git=git, checker=checker))
