"""A stateful GitLab REST API (v4) stand-in on 127.0.0.1 for project export.

Serves ``GET /api/v4/user``, ``GET /api/v4/namespaces/{id}``, ``POST /api/v4/projects``,
``GET /api/v4/projects/{id or url-encoded path}`` and ``POST /api/v4/projects/{id}/repository/
branches`` with JSON bodies, as GitLab and python-gitlab exchange them (GitLab's own OpenAPI file
declares ``POST /projects`` as multipart only, which real clients do not send; see
shared/PEERS_NOTES.md). Auth: ``PRIVATE-TOKEN`` or ``Authorization: Bearer`` (OAuth); wrong token
-> 401 ``{"message": "401 Unauthorized"}``. Taken path -> 400 ``{"message": {"name": ["has
already been taken"], ...}}``. Faults (429 with ``Retry-After`` and ``RateLimit-*`` headers, 5xx)
are queued with ``fail_next``, network faults (a stall, a reset, a response dropped after
committing) with ``fail_network``. Projects are real bare repositories on a ``GitHttpServer``.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from tests.servers.base import JsonHandler, LocalServer, NetworkFault, NetworkFaultPlan
from tests.servers.git_http import GitHttpServer


@dataclass
class GitLabState(NetworkFaultPlan):
    token: str
    git: GitHttpServer
    username: str = "gl-user"
    groups: dict[str, int] = field(default_factory=lambda: {"hisham-group": 42})
    projects: dict[int, dict] = field(default_factory=dict)
    faults: list[tuple[str, str, int, dict, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, int, Any]] = field(default_factory=list)
    merge_requests: dict[int, list[dict]] = field(default_factory=dict)  # project id -> MRs
    protected: dict[tuple[int, str], dict] = field(default_factory=dict)  # (project id, branch) -> rule
    users: dict[str, int] = field(default_factory=lambda: {"reviewer-one": 11, "reviewer-two": 12})
    network_faults: list[tuple[str, str, NetworkFault]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set_mr_state(self, project_id: int, iid: int, state: str) -> None:
        """What a person does in the UI: ``merged`` or ``closed``."""
        with self.lock:
            mr = next(m for m in self.merge_requests[project_id] if m["iid"] == iid)
            mr.update(state=state, merged_at="2026-01-01T00:00:00.000Z" if state == "merged" else None,
                      closed_at="2026-01-01T00:00:00.000Z" if state == "closed" else None)

    def fail_next(self, method: str, path_prefix: str, kind: str, count: int = 1) -> None:
        """Queue faults: ``429`` (Retry-After: 1, RateLimit-* headers), ``5xx`` (502) or ``unauthorized``."""
        now = int(time.time())
        table = {
            "429": (429, {"Retry-After": "1", "RateLimit-Limit": "600", "RateLimit-Observed": "601",
                          "RateLimit-Remaining": "0", "RateLimit-Reset": str(now + 1),
                          "RateLimit-ResetTime": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 1))},
                    "Retry later\n"),
            "5xx": (502, {}, "<html><body><h1>502 Bad Gateway</h1></body></html>"),
            "unauthorized": (401, {}, {"message": "401 Unauthorized"}),
            "drop_after": (-1, {}, None),  # do the work, then close the connection (the answer is lost)
        }
        status, headers, body = table[kind]
        with self.lock:
            self.faults.extend([(method, path_prefix, status, headers, body)] * count)

    def find(self, ident: str) -> dict | None:
        ident = unquote(ident)
        if ident.isdigit():
            return self.projects.get(int(ident))
        return next((p for p in self.projects.values() if p["path_with_namespace"].lower() == ident.lower()), None)


class GitLabHandler(JsonHandler):
    server: Any

    @property
    def state(self) -> GitLabState:
        return self.server.state

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle_request(self) -> None:
        raw = self.read_body()
        network = self.state.take_network_fault(self.command, self.path.split("?", 1)[0])
        if network and network.before(self):
            with self.state.lock:
                self.state.requests.append((self.command, self.path_only, 0, json.loads(raw) if raw else None))
            return
        status, body, headers = self._dispatch(raw)
        if status == -1:  # drop_after
            status, body, headers = self._dispatch(raw)
            with self.state.lock:
                self.state.requests.append((self.command, self.path_only, 0, json.loads(raw) if raw else None))
            self.close_connection = True
            return
        with self.state.lock:
            self.state.requests.append((self.command, self.path_only, status, json.loads(raw) if raw else None))
        if network and network.after(self):
            return
        if isinstance(body, str):
            self.send(status, body, content_type="text/plain", headers=headers)
        else:
            self.send(status, body, headers=headers)

    def _dispatch(self, raw: bytes) -> tuple[int, Any, dict]:
        token = self.headers.get("PRIVATE-TOKEN") or self.headers.get("Authorization", "").removeprefix("Bearer ")
        if token != self.state.token:
            return 401, {"message": "401 Unauthorized"}, {}
        path = self.path.split("?", 1)[0]  # keep %2F: project paths are URL-encoded ids
        with self.state.lock:
            fault = next((f for f in self.state.faults if f[0] == self.command and path.startswith(f[1])), None)
            if fault:
                self.state.faults.remove(fault)
        if fault:
            return fault[2], fault[4], fault[3]
        if self.headers.get("Content-Length") and raw and "json" not in self.headers.get("Content-Type", ""):
            return 415, {"message": "415 Unsupported Media Type"}, {}
        data = json.loads(raw) if raw else {}
        if self.command == "GET" and path == "/api/v4/user":
            return 200, self._user(), {}
        if m := re.fullmatch(r"/api/v4/namespaces/([^/]+)", path):
            name = unquote(m.group(1))
            if name not in self.state.groups:
                return 404, {"message": "404 Namespace Not Found"}, {}
            return 200, {"id": self.state.groups[name], "name": name, "path": name, "kind": "group",
                         "full_path": name, "parent_id": None, "web_url": f"{self.base}/groups/{name}"}, {}
        if self.command == "POST" and path == "/api/v4/projects":
            return self._create(data)
        if self.command == "GET" and (m := re.fullmatch(r"/api/v4/projects/([^/]+)", path)):
            project = self.state.find(m.group(1))
            if project is None:
                return 404, {"message": "404 Project Not Found"}, {}
            return 200, self._with_repository_state(project), {}
        if m := re.fullmatch(r"/api/v4/projects/([^/]+)(/merge_requests(?:/(\d+))?|/protected_branches(?:/(.+))?)?",
                             path):
            project = self.state.find(m.group(1))
            if project is None:
                return 404, {"message": "404 Project Not Found"}, {}
            if m.group(2) is None:
                return self._update_project(project, data)
            if m.group(2).startswith("/merge_requests"):
                return self._merge_requests(project, m.group(3), data)
            return self._protected_branches(project, unquote(m.group(4)) if m.group(4) else None, data)
        if self.command == "GET" and path == "/api/v4/users":
            name = (self.query.get("username") or [""])[0]
            uid = self.state.users.get(name)
            return 200, ([{"id": uid, "username": name, "name": name, "state": "active", "locked": False,
                           "avatar_url": None, "web_url": f"{self.base}/{name}"}] if uid else []), {}
        if self.command == "POST" and (m := re.fullmatch(r"/api/v4/projects/([^/]+)/repository/branches", path)):
            project = self.state.find(m.group(1))
            if project is None:
                return 404, {"message": "404 Project Not Found"}, {}
            return self._branch(project, data)
        return 404, {"error": "404 Not Found"}, {}

    def _with_repository_state(self, project: dict) -> dict:
        """Like GitLab: ``default_branch`` is null until the first push, then the bare repo's HEAD."""
        bare = self.state.git.root / f"{project['path_with_namespace']}.git"
        heads = subprocess.run(["git", "-C", str(bare), "for-each-ref", "--format=%(refname:short)", "refs/heads"],
                               capture_output=True, text=True).stdout.split()
        head = subprocess.run(["git", "-C", str(bare), "symbolic-ref", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        if heads:
            project.update(empty_repo=False, default_branch=head if head in heads else heads[0])
        return project

    def _user(self) -> dict:
        return {"id": 7, "username": self.state.username, "name": "GitLab User", "state": "active",
                "locked": False, "avatar_url": None, "web_url": f"{self.base}/{self.state.username}"}

    def _create(self, data: dict) -> tuple[int, Any, dict]:
        name = data.get("name") or data.get("path")
        if not name:
            return 400, {"message": "name is missing, path is missing, name, path are missing, at least one parameter must be provided"}, {}
        path = data.get("path") or name
        ns_id = data.get("namespace_id")
        if ns_id is None:
            namespace = {"id": 7, "name": self.state.username, "path": self.state.username, "kind": "user",
                         "full_path": self.state.username}
        else:
            group = next((g for g, i in self.state.groups.items() if i == int(ns_id)), None)
            if group is None:
                return 404, {"message": "404 Namespace Not Found"}, {}
            namespace = {"id": int(ns_id), "name": group, "path": group, "kind": "group", "full_path": group}
        full = f"{namespace['full_path']}/{path}"
        with self.state.lock:
            if any(p["path_with_namespace"].lower() == full.lower() for p in self.state.projects.values()):
                return 400, {"message": {"project_namespace.name": ["has already been taken"],
                                         "name": ["has already been taken"], "path": ["has already been taken"]}}, {}
            pid = len(self.state.projects) + 100
            now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            project = {
                "id": pid, "description": data.get("description"), "name": name, "name_with_namespace":
                f"{namespace['name']} / {name}", "path": path, "path_with_namespace": full, "created_at": now,
                "default_branch": None, "tag_list": [], "topics": [], "ssh_url_to_repo": f"git@127.0.0.1:{full}.git",
                "http_url_to_repo": self.state.git.repo_url(full), "web_url": f"{self.base}/{full}",
                "readme_url": None, "avatar_url": None, "forks_count": 0, "star_count": 0,
                "last_activity_at": now, "namespace": {**namespace, "parent_id": None, "avatar_url": None,
                                                       "web_url": f"{self.base}/{namespace['full_path']}"},
                "visibility": data.get("visibility", "private"), "empty_repo": True, "archived": False,
            }
            self.state.git.create_bare(full)
            self.state.projects[pid] = project
        return 201, project, {}

    def _branch(self, project: dict, data: dict) -> tuple[int, Any, dict]:
        branch, ref = data.get("branch"), data.get("ref")
        if not branch or not ref:
            return 400, {"error": "branch is missing, ref is missing"}, {}
        bare = self.state.git.root / f"{project['path_with_namespace']}.git"
        sha = subprocess.run(["git", "-C", str(bare), "rev-parse", "-q", "--verify", f"{ref}^{{commit}}"],
                             capture_output=True, text=True).stdout.strip()
        if not sha:
            return 400, {"message": "Invalid reference name: " + ref}, {}
        if subprocess.run(["git", "-C", str(bare), "update-ref", f"refs/heads/{branch}", sha, ""],
                          capture_output=True).returncode != 0:
            return 400, {"message": "Branch already exists"}, {}
        return 201, {"name": branch, "merged": False, "protected": False, "default": False,
                     "developers_can_push": False, "developers_can_merge": False, "can_push": True,
                     "web_url": f"{project['web_url']}/-/tree/{branch}",
                     "commit": {"id": sha, "short_id": sha[:8], "web_url": f"{project['web_url']}/-/commit/{sha}"}}, {}


    # -- request mode and settings (GitLab REST API v4: projects, merge requests, protected branches)
    def _update_project(self, project: dict, data: dict) -> tuple[int, Any, dict]:
        """``PUT /projects/:id``: the attributes GitLab documents for "Edit a project" that export uses."""
        if self.command != "PUT":
            return 405, {"message": "405 Method Not Allowed"}, {}
        with self.state.lock:
            for key in ("description", "visibility", "topics", "default_branch", "remove_source_branch_after_merge",
                        "only_allow_merge_if_pipeline_succeeds"):
                if key in data:
                    project[key] = data[key]
        return 200, self._with_repository_state(project), {}

    def _merge_requests(self, project: dict, iid: str | None, data: dict) -> tuple[int, Any, dict]:
        mrs = self.state.merge_requests.setdefault(project["id"], [])
        if iid is None and self.command == "GET":
            q = {k: v[0] for k, v in self.query.items()}
            found = [mr for mr in reversed(mrs) if q.get("state", "all") in ("all", mr["state"])
                     and q.get("source_branch", mr["source_branch"]) == mr["source_branch"]]
            return 200, found[: int(q.get("per_page", 20))], {"X-Total": str(len(found)), "X-Page": "1",
                                                                "X-Per-Page": q.get("per_page", "20")}
        if iid is None and self.command == "POST":
            missing = [k for k in ("source_branch", "target_branch", "title") if not data.get(k)]
            if missing:
                return 400, {"error": ", ".join(f"{k} is missing" for k in missing)}, {}
            bare = f"{project['path_with_namespace']}"
            if self.state.git.head(bare, data["source_branch"]) is None:
                return 404, {"message": "404 Branch Not Found"}, {}
            with self.state.lock:
                if any(mr["state"] == "opened" and mr["source_branch"] == data["source_branch"]
                       and mr["target_branch"] == data["target_branch"] for mr in mrs):
                    return 409, {"message": ["Another open merge request already exists for this source branch: "
                                             f"!{mrs[-1]['iid']}"]}, {}
                mr = self._new_mr(project, len(mrs) + 1, data)
                mrs.append(mr)
            return 201, mr, {}
        mr = next((m for m in mrs if iid is not None and m["iid"] == int(iid)), None)
        if mr is None:
            return 404, {"message": "404 Not found"}, {}
        if self.command == "PUT":
            with self.state.lock:
                for key in ("title", "description", "target_branch"):
                    if key in data:
                        mr[key] = data[key]
                mr["draft"] = mr["work_in_progress"] = bool(re.match(r"(?i)\[?draft[\]:]|\(draft\)", mr["title"]))
        return 200, mr, {}

    def _new_mr(self, project: dict, iid: int, data: dict) -> dict:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        author = {"id": 7, "username": self.state.username, "name": "GitLab User", "state": "active",
                  "locked": False, "avatar_url": None, "web_url": f"{self.base}/{self.state.username}"}
        reviewers = [{"id": uid, "username": name, "name": name, "state": "active", "locked": False,
                      "avatar_url": None, "web_url": f"{self.base}/{name}"}
                     for name, uid in self.state.users.items() if uid in (data.get("reviewer_ids") or [])]
        draft = bool(re.match(r"(?i)\[?draft[\]:]|\(draft\)", data["title"]))
        sha = self.state.git.head(project["path_with_namespace"], data["source_branch"])
        return {
            "id": 9000 + iid, "iid": iid, "project_id": project["id"], "title": data["title"],
            "description": data.get("description"), "state": "opened", "created_at": now, "updated_at": now,
            "merged_by": None, "merge_user": None, "merged_at": None, "closed_by": None, "closed_at": None,
            "target_branch": data["target_branch"], "source_branch": data["source_branch"], "user_notes_count": 0,
            "upvotes": 0, "downvotes": 0, "author": author, "assignees": [], "assignee": None,
            "reviewers": reviewers, "source_project_id": project["id"], "target_project_id": project["id"],
            "labels": [x for x in str(data.get("labels") or "").split(",") if x], "draft": draft,
            "work_in_progress": draft, "milestone": None, "merge_when_pipeline_succeeds": False,
            "merge_status": "checking", "detailed_merge_status": "checking", "sha": sha, "merge_commit_sha": None,
            "squash_commit_sha": None, "discussion_locked": None, "should_remove_source_branch": None,
            "force_remove_source_branch": bool(data.get("remove_source_branch")), "prepared_at": now,
            "reference": f"!{iid}", "references": {"short": f"!{iid}", "relative": f"!{iid}",
                                                    "full": f"{project['path_with_namespace']}!{iid}"},
            "web_url": f"{project['web_url']}/-/merge_requests/{iid}",
            "time_stats": {"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": None,
                           "human_total_time_spent": None},
            "squash": bool(data.get("squash", False)), "squash_on_merge": False,
            "task_completion_status": {"count": 0, "completed_count": 0}, "has_conflicts": False,
            "blocking_discussions_resolved": True,
        }

    def _protected_branches(self, project: dict, name: str | None, data: dict) -> tuple[int, Any, dict]:
        key = (project["id"], name or data.get("name", ""))
        with self.state.lock:
            if self.command == "GET" and name:
                rule = self.state.protected.get(key)
                return (200, rule, {}) if rule else (404, {"message": "404 Not found"}, {})
            if self.command == "DELETE" and name:
                if self.state.protected.pop(key, None) is None:
                    return 404, {"message": "404 Not found"}, {}
                return 204, None, {}
            if self.command == "POST" and not name:
                if not data.get("name"):
                    return 400, {"error": "name is missing"}, {}
                if key in self.state.protected:
                    return 409, {"message": f"Protected branch '{key[1]}' already exists"}, {}
                levels = {0: "No one", 30: "Developers + Maintainers", 40: "Maintainers", 60: "Admins"}

                def level(value: Any, default: int) -> list[dict]:
                    n = int(value if value is not None else default)
                    return [{"id": len(self.state.protected) * 3 + 1, "access_level": n,
                             "access_level_description": levels.get(n, str(n)), "deploy_key_id": None,
                             "user_id": None, "group_id": None}]

                rule = {"id": len(self.state.protected) + 1, "name": key[1],
                        "push_access_levels": level(data.get("push_access_level"), 40),
                        "merge_access_levels": level(data.get("merge_access_level"), 40),
                        "unprotect_access_levels": level(data.get("unprotect_access_level"), 40),
                        "allow_force_push": bool(data.get("allow_force_push", False)),
                        "code_owner_approval_required": bool(data.get("code_owner_approval_required", False))}
                self.state.protected[key] = rule
                return 201, rule, {}
        return 405, {"message": "405 Method Not Allowed"}, {}


def gitlab_server(token: str, git: GitHttpServer) -> LocalServer:
    """A GitLab stand-in sharing ``token`` with the git server ``git``."""
    return LocalServer(GitLabHandler, GitLabState(token=token, git=git))
