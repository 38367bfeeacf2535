"""Commit a folder and push it with the ``git`` command line, under a git setup of our making only.

Why the git command line through ``subprocess`` and not GitPython: ``git add -A`` is about 6x
faster than ``IndexFile.add`` on big generated trees, and GitPython's command wrapper can only add
environment variables, while export must drop the worker's ``GIT_*`` ones. Why ``commit-tree``: a parentless commit with fixed
author/committer dates has a sha that depends only on content, message, author and date, so a
retried task produces the same commit and finds it already pushed.

The folder was written by agents, so git never reads anything from it but file content: the
repository lives outside it (a private state folder, ``GIT_DIR`` + ``GIT_WORK_TREE``), any
``.git`` in the folder is refused (``tree.scan_tree``), no system or global config is read, and
every command runs with hooks, fsmonitor, credential helpers and redirects off and only the
protocols of the remote allowed. No user value reaches git where it could be read as an option.

Credentials never touch the remote URL, git's config or the command line: each network command
gets ``http.extraHeader`` through ``GIT_CONFIG_COUNT`` in its environment, only for the origin
its connection names, and git's stderr is scrubbed before it is raised.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import quote

import tenacity

from airflow_provider_hisham.export.errors import (
    ExportError,
    GitCommandError,
    GitNotFoundError,
    InvalidValueError,
    PushError,
)
from airflow_provider_hisham.export.tree import check_source_dir, scan_tree
from airflow_provider_hisham.export.urls import Origin, Remote, check_credential_host, parse_remote
from airflow_provider_hisham.observability import events

log = logging.getLogger(__name__)

_AUTH_HEADER = re.compile(r"(Authorization:\s*\w+\s+)\S+", re.IGNORECASE)
# Failures that a retry cannot fix: bad credentials, permissions, rejected (non-fast-forward) refs.
_PERMANENT = re.compile(
    r"Authentication failed|could not read Username|could not read Password|\b401\b|\b403\b|"
    r"\brejected\b|non-fast-forward|not found|does not appear to be a git repository|\b404\b|"
    r"redirect|\b30[1278]\b",
    re.IGNORECASE,
)
# Config every command runs with (command-line scope beats the repository's own config).
SAFE_CONFIG = (
    "core.hooksPath=/dev/null", "core.fsmonitor=false", "core.untrackedCache=false", "core.symlinks=true",
    "core.autocrlf=false", "core.askPass=", "credential.helper=", "protocol.allow=never",
    "http.followRedirects=false", "http.lowSpeedLimit=1000", "http.lowSpeedTime=60",
    "submodule.recurse=false", "push.recurseSubmodules=no", "gc.auto=0", "maintenance.auto=false",
    "core.quotePath=false",
)
# Environment variables of the worker that must not steer our git (GIT_* are all dropped too).
_DROPPED_ENV = ("SSH_ASKPASS", "EMAIL")
COMMAND_TIMEOUT = 3600.0
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock(/|$)")
_REDIRECT = re.compile(r"returned error: 30[1278]\b")
_IDENTITY_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f<>]")
MAX_MESSAGE_BYTES = 64 * 1024


@dataclass(frozen=True)
class GitCredentials:
    """HTTP Basic credentials for one push, bound to ``origin``; ``token`` is kept out of ``repr``.

    :param source: what the credential belongs to, for messages (``connection 'git_default'``).
    """

    username: str
    token: str = field(repr=False)
    origin: Origin
    source: str = "its connection"

    @property
    def header(self) -> str:
        raw = base64.b64encode(f"{self.username}:{self.token}".encode()).decode()
        return f"Authorization: Basic {raw}"

    def env(self) -> dict[str, str]:
        """Environment that makes git send the header on this command only."""
        return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": self.header}

    def check_remote(self, remote: Remote, field: str = "git_url") -> None:
        """Refuse a remote that is not on this credential's origin (nothing is sent)."""
        check_credential_host(remote, self.origin, self.source, field)

    def scrub(self, text: str) -> str:
        secrets = {self.token, self.token.strip(), quote(self.token, safe=""), self.header.split(" ", 2)[2]}
        for secret in sorted((s for s in secrets if s), key=len, reverse=True):
            text = text.replace(secret, "***")
        return _AUTH_HEADER.sub(r"\1***", text)


def require_git() -> str:
    """Path of the git executable (``GIT_PYTHON_GIT_EXECUTABLE``, GitPython's variable, where a
    deployment already sets it), or a clear error telling how to install it."""
    path = shutil.which(os.environ.get("GIT_PYTHON_GIT_EXECUTABLE") or "git")
    if not path:
        raise GitNotFoundError(
            "git is not installed or not on PATH; repository export needs the git command line "
            "(for example `apt-get install git`), or set GIT_PYTHON_GIT_EXECUTABLE to its path"
        )
    return path


def check_branch(name: object, field: str = "default_branch") -> str:
    """A branch name git accepts and cannot read as an option (git check-ref-format's rules)."""
    if not isinstance(name, str) or not name:
        raise InvalidValueError(field, "is empty")
    if name.startswith("-"):
        raise InvalidValueError(field, f"{name[:100]!r} starts with '-': git would read it as an option")
    if (len(name) > 200 or _REF_FORBIDDEN.search(name) or name.startswith((".", "/")) or name.endswith((".", "/"))
            or name == "@" or name == "HEAD"):
        raise InvalidValueError(field, f"{name[:100]!r} is not a valid git branch name")
    return name


def check_identity(name: object, email: object) -> None:
    """Author name and e-mail: one line each, no ``<``/``>``, not option-like."""
    for label, value in (("author_name", name), ("author_email", email)):
        if not isinstance(value, str) or not value.strip():
            raise InvalidValueError(label, "is empty")
        if len(value) > 256 or _IDENTITY_FORBIDDEN.search(value):
            raise InvalidValueError(label, "must be one line of at most 256 characters without '<' or '>'")
        if value.startswith("-"):
            raise InvalidValueError(label, f"{value[:100]!r} starts with '-'")


def check_message(message: object) -> str:
    if not isinstance(message, str) or not message.strip():
        raise InvalidValueError("commit_message", "is empty")
    if "\x00" in message or len(message.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise InvalidValueError("commit_message", f"contains NUL or is longer than {MAX_MESSAGE_BYTES} bytes")
    return message if message.endswith("\n") else message + "\n"


def state_root() -> Path:
    """This user's private folder for export repositories (``$TMPDIR/hisham-export-<uid>``, mode 0700)."""
    root = Path(tempfile.gettempdir()) / f"hisham-export-{os.getuid()}"
    try:
        root.mkdir(mode=0o700)
    except FileExistsError:
        pass
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise ExportError(f"export state folder {str(root)!r} is not a private folder of this user (mode 0700); "
                          "remove it and retry")
    return root


def git_dir_for(source_dir: str | os.PathLike) -> Path:
    """The repository export keeps for ``source_dir``: outside it, in ``state_root()``."""
    key = hashlib.sha256(os.fsencode(os.path.realpath(source_dir))).hexdigest()[:32]
    return state_root() / f"{key}.git"


def discard_git_dir(source_dir: str | os.PathLike) -> None:
    """Delete the repository kept for ``source_dir`` (after a successful export)."""
    shutil.rmtree(git_dir_for(source_dir), ignore_errors=True)


class GitRunner:
    """Runs git on one repository (``git_dir``) and optional work tree, with ``SAFE_CONFIG`` only.

    :param protocols: transports git may use (``GIT_ALLOW_PROTOCOL``); none for local commands.
    """

    def __init__(self, git_dir: Path, work_tree: Path | None = None, credentials: GitCredentials | None = None,
                 protocols: Sequence[str] = ()) -> None:
        self.executable = require_git()
        self.git_dir = git_dir
        self.work_tree = work_tree
        self.credentials = credentials
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k not in _DROPPED_ENV}
        env.update({
            "LC_ALL": "C", "LANGUAGE": "C", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0", "GIT_NO_REPLACE_OBJECTS": "1", "GIT_DIR": str(git_dir),
            # An empty list is "nothing allowed"; git ignores an empty variable, so name a dummy.
            "GIT_ALLOW_PROTOCOL": ":".join(protocols) or "none",
        })
        if work_tree is not None:
            env["GIT_WORK_TREE"] = str(work_tree)
        self._env = env
        self._prefix = [self.executable]
        for item in SAFE_CONFIG:
            self._prefix += ["-c", item]

    def _scrub(self, text: str) -> str:
        return self.credentials.scrub(text) if self.credentials else text

    def run(self, *args: str, env: dict[str, str] | None = None, network: bool = False, stdin: str | None = None,
            error: type[GitCommandError] = GitCommandError) -> str:
        full_env = dict(self._env)
        if network and self.credentials:
            full_env.update(self.credentials.env())
        full_env.update(env or {})
        try:
            proc = subprocess.run([*self._prefix, *args], cwd=self.work_tree or self.git_dir.parent, env=full_env,
                                  input=stdin, capture_output=True, encoding="utf-8", errors="replace",
                                  timeout=COMMAND_TIMEOUT, stdin=None if stdin is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise error(args[0], -1, f"timed out after {COMMAND_TIMEOUT:.0f} s") from None
        if proc.returncode != 0:
            raise error(args[0], proc.returncode, self._scrub(proc.stderr or proc.stdout or ""))
        return proc.stdout.rstrip("\n")


def identity_env(author_name: str, author_email: str, date: datetime | None, newest: float) -> dict[str, str]:
    """Author and committer with a fixed date (``date``, else the newest file's time): same input, same sha."""
    when = date or datetime.fromtimestamp(int(newest), tz=timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    stamp = f"@{int(when.timestamp())} +0000"
    return {
        "GIT_AUTHOR_NAME": author_name, "GIT_AUTHOR_EMAIL": author_email, "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_NAME": author_name, "GIT_COMMITTER_EMAIL": author_email, "GIT_COMMITTER_DATE": stamp,
    }


def commit_tree(source_dir: str | os.PathLike, *, branch: str = "main", message: str = "Initial commit",
                author_name: str = "HishamOS", author_email: str = "hishamos@localhost",
                date: datetime | None = None) -> str:
    """Make ``refs/heads/<branch>`` of the folder's export repository a parentless commit of it; return its sha.

    The same content, message, author and date always give the same sha (re-running is a no-op).
    The repository is ``git_dir_for(source_dir)``; the folder itself gets no ``.git``.
    """
    root = Path(os.path.realpath(check_source_dir(source_dir)))
    check_branch(branch)
    check_identity(author_name, author_email)
    body = check_message(message)
    newest = scan_tree(source_dir)
    git = GitRunner(git_dir_for(root), root)
    git.run("init", "-q", "--template=")
    git.run("add", "-A")
    tree = git.run("write-tree")
    sha = git.run("commit-tree", tree, "-F", "-", env=identity_env(author_name, author_email, date, newest), stdin=body)
    git.run("update-ref", f"refs/heads/{branch}", sha)
    git.run("symbolic-ref", "HEAD", f"refs/heads/{branch}")
    return sha


def _remote_runner(url: str, credentials: GitCredentials | None, source_dir: str | os.PathLike | None,
                   allow_file: bool, field: str, work_tree: Path | None = None) -> tuple[Remote, GitRunner]:
    """Check the remote (and the credential's host) before anything runs; a runner for it."""
    remote = parse_remote(url, field=field, allow_file=allow_file)
    if credentials is not None:
        credentials.check_remote(remote, field)
    if source_dir is None:
        git_dir = state_root() / "scratch.git"
        if not (git_dir / "HEAD").exists():
            GitRunner(git_dir).run("init", "-q", "--bare", "--template=")
    else:
        git_dir = git_dir_for(source_dir)
    return remote, GitRunner(git_dir, work_tree, credentials=credentials, protocols=(remote.protocol,))


def _ls_remote(git: GitRunner, remote: Remote) -> dict[str, str]:
    out = git.run("ls-remote", "--heads", "--end-of-options", remote.url, network=True)
    heads = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        heads[ref.removeprefix("refs/heads/")] = sha
    return heads


def remote_heads(url: str, credentials: GitCredentials | None = None, *, source_dir: str | os.PathLike | None = None,
                 allow_file: bool = False, field: str = "git_url") -> dict[str, str]:
    """``{branch: sha}`` of the remote (empty for an empty repository)."""
    remote, git = _remote_runner(url, credentials, source_dir, allow_file, field)
    return _ls_remote(git, remote)


def _object_bytes(git: GitRunner, sha: str) -> int:
    """Bytes of the objects of ``sha`` (uncompressed): what a push of a parentless commit sends
    (reported to observers only; 0 when git cannot tell)."""
    try:
        names = "\n".join(line.split(" ", 1)[0] for line in git.run("rev-list", "--objects", sha).splitlines())
        sizes = git.run("cat-file", "--batch-check=%(objectsize)", stdin=names + "\n")
    except GitCommandError:
        return 0
    return sum(int(n) for n in sizes.split() if n.isdigit())


def wait_before_retry(seconds: float) -> None:
    """How a push retry waits when its caller gives no ``sleep`` (``time.sleep``): tests replace
    this one function to record the waits of operators, which make their own pushes."""
    time.sleep(seconds)


def push(source_dir: str | os.PathLike, url: str, sha: str, branches: Sequence[str],
         credentials: GitCredentials | None = None, *, retries: int = 3, backoff: float = 1.0,
         allow_file: bool = False, field: str = "git_url", force_with_lease: bool = False,
         sleep: Callable[[float], None] | None = None) -> bool:
    """Push ``sha`` (made by ``commit_tree``) to every branch in ``branches`` at ``url``; False when the
    remote already had it.

    ``force_with_lease`` replaces a branch only if it still points where ``ls-remote`` saw it (a
    request branch this export owns, rebuilt on a moved base), never a concurrent update.

    ``url`` must be https/http (a local repository only with ``allow_file``) and, with
    ``credentials``, on their origin. Transient failures (network, 5xx) are retried with
    exponential backoff (``backoff * 2**n`` seconds, ``retries`` times; ``sleep`` waits, a seam
    for tests); authentication failures, redirects and rejected refs are raised at once as
    ``PushError``.
    """
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha or ""):
        raise InvalidValueError("sha", "is not a commit id")
    for branch in branches:
        check_branch(branch, "branches")
    remote, git = _remote_runner(url, credentials, source_dir, allow_file, field)

    def attempt() -> bool:
        heads = _ls_remote(git, remote)
        todo = [b for b in branches if heads.get(b) != sha]
        if not todo:
            log.info("remote already holds %s on %s; nothing to push", sha, ", ".join(branches))
            return False
        started = time.monotonic()
        leases = [f"--force-with-lease=refs/heads/{b}:{heads.get(b, '')}" for b in todo] if force_with_lease else []
        git.run("push", "--porcelain", *leases, "--end-of-options", remote.url,
                *[f"{sha}:refs/heads/{b}" for b in todo], network=True, error=PushError)
        if events.active():
            events.emit(events.GIT_PUSH, url=remote.url, sha=sha, branches=list(todo), bytes=_object_bytes(git, sha),
                        duration_ms=(time.monotonic() - started) * 1000)
        return True

    def log_retry(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception()
        log.warning("git %s failed (attempt %d of %d), retrying in %.1fs: %s", exc.command, state.attempt_number,
                    retries + 1, state.next_action.sleep, exc.stderr.strip()[-300:])

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(lambda e: isinstance(e, GitCommandError) and not _PERMANENT.search(e.stderr)),
        stop=tenacity.stop_after_attempt(retries + 1),
        wait=tenacity.wait_exponential(multiplier=backoff, exp_base=2),
        before_sleep=log_retry,
        sleep=sleep or wait_before_retry,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except GitCommandError as exc:
        stderr = exc.stderr
        if _REDIRECT.search(stderr):
            stderr += "\n(the remote answered with a redirect; export does not follow redirects, so a token " \
                      "never goes where one points: use the repository's final URL)"
        raise PushError(exc.command, exc.status, stderr) from None
