"""Commit a folder and push it with the ``git`` command line (through GitPython's command wrapper).

Why git commands and not GitPython's index: ``git add -A`` is about 6x faster than
``IndexFile.add`` on big generated trees. Why ``commit-tree``: a parentless commit with fixed
author/committer dates has a sha that depends only on content, message, author and date, so a
retried task produces the same commit and finds it already pushed.

Credentials never touch the remote URL, ``.git/config`` or the command line: each network
command gets ``http.extraHeader`` through ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_0``/
``GIT_CONFIG_VALUE_0`` in its environment, and git's stderr is scrubbed before it is raised.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence
from urllib.parse import quote, urlsplit

from airflow_provider_hisham.export.errors import (
    ExportError,
    GitCommandError,
    GitNotFoundError,
    PushError,
    SourceDirError,
)

log = logging.getLogger(__name__)

_AUTH_HEADER = re.compile(r"(Authorization:\s*\w+\s+)\S+", re.IGNORECASE)
# Failures that a retry cannot fix: bad credentials, permissions, rejected (non-fast-forward) refs.
_PERMANENT = re.compile(
    r"Authentication failed|could not read Username|could not read Password|\b401\b|\b403\b|"
    r"\brejected\b|non-fast-forward|not found|does not appear to be a git repository|\b404\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class GitCredentials:
    """HTTP Basic credentials for one push; ``token`` is kept out of ``repr``."""

    username: str
    token: str = field(repr=False)

    @property
    def header(self) -> str:
        raw = base64.b64encode(f"{self.username}:{self.token}".encode()).decode()
        return f"Authorization: Basic {raw}"

    def env(self) -> dict[str, str]:
        """Environment that makes git send the header on this command only."""
        return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": self.header}

    def scrub(self, text: str) -> str:
        secrets = {self.token, quote(self.token, safe=""), self.header.split(" ", 2)[2]}
        for secret in sorted((s for s in secrets if s), key=len, reverse=True):
            text = text.replace(secret, "***")
        return _AUTH_HEADER.sub(r"\1***", text)


def require_git() -> str:
    """Path of the git executable, or a clear error telling how to install it."""
    path = shutil.which(os.environ.get("GIT_PYTHON_GIT_EXECUTABLE") or "git")
    if not path:
        raise GitNotFoundError(
            "git is not installed or not on PATH; repository export needs the git command line "
            "(for example `apt-get install git`), or set GIT_PYTHON_GIT_EXECUTABLE to its path"
        )
    return path


def check_url(url: str) -> str:
    """Reject remote URLs that carry a password: credentials belong in a connection."""
    parts = urlsplit(url)
    if parts.password is not None:
        raise ExportError(
            f"git URL for host {parts.hostname!r} contains a password; put the token in a connection "
            "(git_conn_id) instead"
        )
    return url


class GitRunner:
    """Runs git commands in one work tree; errors are scrubbed ``GitCommandError``s."""

    def __init__(self, work_tree: str | os.PathLike, credentials: GitCredentials | None = None) -> None:
        require_git()
        from git.cmd import Git  # GitPython, imported lazily

        self.work_tree = Path(work_tree)
        self.credentials = credentials
        self._git = Git(str(self.work_tree))

    def _scrub(self, text: str) -> str:
        return self.credentials.scrub(text) if self.credentials else text

    def run(self, *args: str, env: dict[str, str] | None = None, network: bool = False,
            error: type[GitCommandError] = GitCommandError) -> str:
        full_env = {"GIT_TERMINAL_PROMPT": "0"}
        if network and self.credentials:
            full_env.update(self.credentials.env())
        full_env.update(env or {})
        status, stdout, stderr = self._git.execute(
            ["git", *args], env=full_env, with_extended_output=True, with_exceptions=False,
            strip_newline_in_stdout=True,
        )
        if status != 0:
            raise error(args[0], status, self._scrub(stderr or stdout or ""))
        return stdout


def newest_mtime(root: Path) -> datetime:
    """Latest modification time of the files below ``root`` (``.git`` excluded): a content-derived date."""
    newest = 0.0
    stack = [str(root)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.name == ".git":
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return datetime.fromtimestamp(int(newest), tz=timezone.utc)


def check_source_dir(source_dir: str | os.PathLike) -> Path:
    path = Path(source_dir)
    if not path.exists():
        raise SourceDirError(f"source_dir {str(path)!r} does not exist")
    if not path.is_dir():
        raise SourceDirError(f"source_dir {str(path)!r} is not a folder")
    if not any(p.name != ".git" for p in path.iterdir()):
        raise SourceDirError(f"source_dir {str(path)!r} is empty: nothing to export")
    return path


def commit_tree(source_dir: str | os.PathLike, *, branch: str = "main", message: str = "Initial commit",
                author_name: str = "HishamOS", author_email: str = "hishamos@localhost",
                date: datetime | None = None) -> str:
    """Make ``refs/heads/<branch>`` of ``source_dir/.git`` a parentless commit of the folder; return its sha.

    The same content, message, author and date always give the same sha (re-running is a no-op).
    """
    root = check_source_dir(source_dir)
    git = GitRunner(root)
    if not (root / ".git").is_dir():
        git.run("init", "-q", "-b", branch)
    git.run("add", "-A")
    tree = git.run("write-tree")
    when = date or newest_mtime(root)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    stamp = f"{int(when.timestamp())} +0000"
    identity = {
        "GIT_AUTHOR_NAME": author_name, "GIT_AUTHOR_EMAIL": author_email, "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_NAME": author_name, "GIT_COMMITTER_EMAIL": author_email, "GIT_COMMITTER_DATE": stamp,
    }
    sha = git.run("commit-tree", tree, "-m", message, env=identity)
    git.run("update-ref", f"refs/heads/{branch}", sha)
    git.run("symbolic-ref", "HEAD", f"refs/heads/{branch}")
    return sha


def remote_heads(url: str, credentials: GitCredentials | None = None, *, cwd: str | os.PathLike = ".") -> dict[str, str]:
    """``{branch: sha}`` of the remote (empty for an empty repository)."""
    out = GitRunner(cwd, credentials).run("ls-remote", "--heads", check_url(url), network=True)
    heads = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        heads[ref.removeprefix("refs/heads/")] = sha
    return heads


def push(source_dir: str | os.PathLike, url: str, sha: str, branches: Sequence[str],
         credentials: GitCredentials | None = None, *, retries: int = 3, backoff: float = 1.0) -> bool:
    """Push ``sha`` to every branch in ``branches`` at ``url``; False when the remote already had it.

    Transient failures (network, 5xx) are retried with exponential backoff; authentication
    failures and rejected refs are raised at once as ``PushError``.
    """
    check_url(url)
    git = GitRunner(source_dir, credentials)
    attempt = 0
    while True:
        try:
            heads = remote_heads(url, credentials, cwd=source_dir)
            todo = [b for b in branches if heads.get(b) != sha]
            if not todo:
                log.info("remote already holds %s on %s; nothing to push", sha, ", ".join(branches))
                return False
            git.run("push", "--porcelain", url, *[f"{sha}:refs/heads/{b}" for b in todo], network=True, error=PushError)
            return True
        except GitCommandError as exc:
            attempt += 1
            if attempt > retries or _PERMANENT.search(exc.stderr):
                raise PushError(exc.command, exc.status, exc.stderr) from None
            delay = backoff * 2 ** (attempt - 1)
            log.warning("git %s failed (attempt %d of %d), retrying in %.1fs: %s", exc.command, attempt,
                        retries + 1, delay, exc.stderr.strip()[-300:])
            time.sleep(delay)


def set_origin(source_dir: str | os.PathLike, url: str) -> None:
    """Record the (credential-free) remote as ``origin`` for people inspecting the folder later."""
    GitRunner(source_dir).run("config", "remote.origin.url", check_url(url))
