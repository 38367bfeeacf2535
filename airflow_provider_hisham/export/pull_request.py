"""Pull/merge request mode: commit a generated tree on top of a repository's base branch, push
only the new objects to a branch named after the run, and open or update one request for it.

Plain Python (no Airflow). The git work reuses ``export.git`` (hardened ``GitRunner`` on an
external git dir, credentials in the environment only); the forge (GitHub, GitLab) is reached
through the small :class:`RequestForge` interface its hook implements, so the idempotency rules
below are written once:

- the head branch is named after the run and the commit is deterministic (fixed date, parent =
  the fetched base), so a retried task rebuilds the same sha and finds it already pushed;
- the request is looked up by head branch (any state) before one is created: an open one is
  updated, a merged or closed one is reported and left alone, never reopened or duplicated;
- a tree equal to the base makes no commit, no push and no request.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, Sequence

from airflow_provider_hisham.export.errors import ExportError, GitCommandError, InvalidValueError
from airflow_provider_hisham.export.git import (
    GitCredentials,
    GitRunner,
    _ls_remote,
    _remote_runner,
    check_branch,
    check_identity,
    check_message,
    identity_env,
    push,
)
from airflow_provider_hisham.export.tree import check_source_dir, scan_tree

log = logging.getLogger(__name__)

_BRANCH_UNSAFE = re.compile(r"[^A-Za-z0-9._/-]+")
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._ -]{0,254}")
MAX_LISTED_FILES = 1000


class BaseBranchMissingError(ExportError):
    """The base branch the request should target does not exist on the remote."""


def branch_for_run(dag_id: str, run_id: str, prefix: str = "hisham") -> str:
    """``hisham/<dag_id>/<run_id>`` made a valid branch name (``:`` and ``+`` of run ids become ``-``)."""
    raw = f"{prefix}/{dag_id}/{run_id}"
    name = _BRANCH_UNSAFE.sub("-", raw).replace("..", "-").strip("-./")
    name = re.sub(r"/\.+", "/", re.sub(r"\.lock(?=/|$)", "-lock", name))
    return check_branch(name[:200].rstrip("./"), "head_branch")


def check_subdir(subdir: object) -> str:
    """A relative folder inside the repository (``services/api``); '' for the repository root."""
    if subdir in (None, "", "."):
        return ""
    if not isinstance(subdir, str):
        raise InvalidValueError("subdir", "must be a relative folder path")
    parts = subdir.strip("/").split("/")
    if subdir.startswith("/") or len(parts) > 32 or not all(_SEGMENT.fullmatch(p) for p in parts) \
            or any(p in (".", "..") or p.lower() == ".git" or p.endswith((" ", ".")) for p in parts):
        raise InvalidValueError("subdir", f"{subdir[:100]!r} is not a relative folder inside the repository "
                                          "(letters, digits, '.', '_', '-', ' ' per segment; no '..' or '.git')")
    return "/".join(parts)


@dataclass(frozen=True)
class BranchCommit:
    """What ``commit_on_base`` did: ``head_sha`` is None when the tree equals the base (no commit)."""

    base_branch: str
    base_sha: str
    head_branch: str
    head_sha: str | None
    pushed: bool
    changed_files: tuple[str, ...] = ()
    changed_count: int = 0

    @property
    def unchanged(self) -> bool:
        return self.head_sha is None


def commit_on_base(source_dir: str, url: str, *, base_branch: str, head_branch: str, subdir: str = "",
                   message: str, author_name: str = "HishamOS", author_email: str = "hishamos@localhost",
                   date: datetime | None = None, credentials: GitCredentials | None = None,
                   allow_file: bool = False, retries: int = 3, backoff: float = 1.0,
                   field: str = "git_url", dry_run: bool = False) -> BranchCommit:
    """Fetch ``base_branch`` (depth 1), commit ``source_dir`` on it (into ``subdir`` or replacing the
    whole tree) and push the commit to ``head_branch``; only objects the remote lacks are sent.

    ``dry_run``: everything up to the commit happens in the export's own git dir (reads of the
    remote only), nothing is pushed; ``pushed`` then says whether a push *would* happen.

    The head branch belongs to this export: when the base moved, the rebuilt commit replaces it
    with ``--force-with-lease`` (never over a concurrent update).
    """
    root = Path(check_source_dir(source_dir)).resolve()
    check_branch(base_branch, "base_branch")
    check_branch(head_branch, "head_branch")
    if head_branch == base_branch:
        raise InvalidValueError("head_branch", "must differ from base_branch")
    prefix = check_subdir(subdir)
    check_identity(author_name, author_email)
    body = check_message(message)
    newest = scan_tree(root)
    remote, git = _remote_runner(url, credentials, root, allow_file, field, work_tree=root)
    git.run("init", "-q", "--template=")
    heads = _ls_remote(git, remote)
    base_sha = heads.get(base_branch)
    if not base_sha:
        raise BaseBranchMissingError(f"base_branch {base_branch!r} does not exist on the remote "
                                     f"({len(heads)} branches there); create it or name another")
    local = f"refs/hisham/base/{base_branch}"
    if _resolve(git, local) != base_sha:
        git.run("fetch", "-q", "--no-tags", "--no-write-fetch-head", "--depth=1", "--end-of-options", remote.url,
                f"+refs/heads/{base_branch}:{local}", network=True)
    git.run("add", "-A")
    tree = git.run("write-tree")
    if prefix:
        scratch = {"GIT_INDEX_FILE": str(git.git_dir / "hisham-compose-index"), "GIT_LITERAL_PATHSPECS": "1"}
        git.run("read-tree", base_sha, env=scratch)
        git.run("rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", prefix, env=scratch)
        git.run("read-tree", f"--prefix={prefix}/", tree, env=scratch)
        tree = git.run("write-tree", env=scratch)
    base_tree = git.run("rev-parse", f"{base_sha}^{{tree}}")
    if tree == base_tree:
        log.info("the generated tree equals %s at %s: no commit, no push", base_branch, base_sha[:12])
        return BranchCommit(base_branch, base_sha, head_branch, None, False)
    changed = git.run("diff-tree", "-r", "--name-only", "--no-renames", "-z", base_tree, tree).split("\0")
    changed = [c for c in changed if c]
    sha = git.run("commit-tree", tree, "-p", base_sha, "-F", "-",
                  env=identity_env(author_name, author_email, date, newest), stdin=body)
    if dry_run:
        pushed = heads.get(head_branch) != sha
    else:
        pushed = push(root, url, sha, [head_branch], credentials, retries=retries, backoff=backoff,
                      allow_file=allow_file, field=field, force_with_lease=True)
    return BranchCommit(base_branch, base_sha, head_branch, sha, pushed, tuple(changed[:MAX_LISTED_FILES]),
                        len(changed))


def _resolve(git: GitRunner, ref: str) -> str | None:
    """The commit ``ref`` names in the export repository, None when it is not there (yet)."""
    try:
        return git.run("rev-parse", "-q", "--verify", f"{ref}^{{commit}}")
    except GitCommandError:
        return None


@dataclass(frozen=True)
class RequestSpec:
    """What a pull/merge request should say; the same spec on a retry changes nothing."""

    title: str
    body: str = ""
    draft: bool = False
    reviewers: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChangeRequest:
    """A pull request (GitHub) or merge request (GitLab); ``state`` is open, closed or merged."""

    number: int
    url: str
    state: str
    head_branch: str
    base_branch: str
    title: str = ""
    draft: bool = False


class RequestForge(Protocol):
    """What a hosting service's hook offers request mode (GitHub and GitLab hooks implement it)."""

    def find_request(self, repository: str, head_branch: str) -> ChangeRequest | None:
        """The newest request (any state) whose source is ``head_branch`` in ``repository``."""

    def open_request(self, repository: str, head_branch: str, base_branch: str, spec: RequestSpec) -> ChangeRequest:
        """Create the request (reviewers and labels included)."""

    def update_request(self, repository: str, request: ChangeRequest, spec: RequestSpec) -> ChangeRequest:
        """Bring an open request's title/body/reviewers/labels in line with ``spec``."""


@dataclass
class RequestResult:
    """The task's report (XCom-safe: plain values, no credentials)."""

    # opened | updated | unchanged | merged | closed | pushed (generic remote); dry runs: would_open,
    # would_update, would_push (or merged/closed/unchanged as found)
    status: str
    head_branch: str
    base_branch: str
    base_sha: str
    commit_sha: str | None
    pushed: bool
    changed_count: int = 0
    changed_files: list[str] = field(default_factory=list)
    request_url: str | None = None
    request_number: int | None = None
    message: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def check_spec(spec: RequestSpec) -> RequestSpec:
    """Title one line (<= 255 chars), body <= 64 KiB, reviewers/labels plain names."""
    if not isinstance(spec.title, str) or not spec.title.strip() or len(spec.title) > 255 or "\n" in spec.title:
        raise InvalidValueError("title", "must be one non-empty line of at most 255 characters")
    if not isinstance(spec.body, str) or len(spec.body.encode()) > 65536:
        raise InvalidValueError("body", "must be text of at most 64 KiB")
    for label, names in (("reviewers", spec.reviewers), ("labels", spec.labels)):
        if len(names) > 50 or not all(isinstance(n, str) and n.strip() and len(n) <= 100 and "\n" not in n
                                      for n in names):
            raise InvalidValueError(label, "must be at most 50 one-line names of at most 100 characters")
    return spec


def publish_request(forge: RequestForge | None, repository: str, commit: BranchCommit,
                    spec: RequestSpec, *, dry_run: bool = False) -> RequestResult:
    """Open or update the one request for ``commit.head_branch`` (see the module docstring).

    ``dry_run``: only the lookup (a read) is made; the result says what would be opened or updated.
    """
    result = RequestResult("unchanged", commit.head_branch, commit.base_branch, commit.base_sha, commit.head_sha,
                           commit.pushed, commit.changed_count, list(commit.changed_files))
    if commit.unchanged:
        result.message = (f"the generated tree equals {commit.base_branch} ({commit.base_sha[:12]}): "
                          "no commit, no push, no request")
        return result
    if forge is None:
        result.status = "would_push" if dry_run else "pushed"
        result.message = (f"{'dry run: would push' if dry_run else 'pushed'} {commit.head_branch}; a generic git "
                          "remote has no request API, none opened")
        return result
    existing = forge.find_request(repository, commit.head_branch)
    if dry_run:
        result.status = "would_open" if existing is None else (
            "would_update" if existing.state == "open" else existing.state)
        result.message = (f"dry run: would push {commit.head_sha[:12]} to {commit.head_branch}"
                          if commit.pushed else f"dry run: {commit.head_branch} already holds the commit")
        result.message += ("; would open a request" if existing is None else
                           f"; would update {existing.url}" if existing.state == "open" else
                           f"; {existing.url} is {existing.state}: would leave it")
        if existing is not None:
            result.request_url, result.request_number = existing.url, existing.number
        return result
    if existing is None:
        request = forge.open_request(repository, commit.head_branch, commit.base_branch, spec)
        result.status, result.message = "opened", f"opened {request.url}"
    elif existing.state == "open":
        request = forge.update_request(repository, existing, spec)
        result.status, result.message = "updated", f"updated {request.url}"
    else:
        request = existing
        result.status = existing.state
        result.message = (f"the request for {commit.head_branch} ({existing.url}) was {existing.state} meanwhile; "
                          "the branch was updated but the request is left as it is (not reopened, no second one)")
        log.warning(result.message)
    result.request_url, result.request_number = request.url, request.number
    return result


def names(values: Sequence[str] | str | None) -> tuple[str, ...]:
    """A list of names from a list or a comma-separated string (reviewers, labels, topics)."""
    if not values:
        return ()
    if isinstance(values, str):
        values = values.split(",")
    return tuple(dict.fromkeys(v.strip() for v in values if isinstance(v, str) and v.strip()))
