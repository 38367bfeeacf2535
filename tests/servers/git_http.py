"""A real git smart-HTTP server on 127.0.0.1: nginx (auth_basic) -> fcgiwrap -> git-http-backend.

Tokens are htpasswd passwords for the users GitHub and GitLab use for token pushes
(``x-access-token``, ``oauth2``), so a push authenticated with the wrong token gets a real 401.
Both processes run under ``timeout`` so they stop by themselves even if the test process dies.

Standalone: ``python -m tests.servers.git_http --token T`` prints the base URL and serves until
interrupted.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
NGINX = "/usr/sbin/nginx"
FCGIWRAP = "/usr/sbin/fcgiwrap"
USERS = ("x-access-token", "oauth2", "git")


class GitServerUnavailable(RuntimeError):
    """nginx, fcgiwrap, htpasswd or git-http-backend is missing on this machine."""


def missing_tools() -> list[str]:
    tools = {"nginx": NGINX, "fcgiwrap": FCGIWRAP, "git-http-backend": GIT_HTTP_BACKEND}
    missing = [name for name, path in tools.items() if not os.access(path, os.X_OK)]
    if shutil.which("htpasswd") is None:
        missing.append("htpasswd")
    return missing


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log {run}/access.log;
  client_body_temp_path {run}/body;
  fastcgi_temp_path {run}/fastcgi;
  proxy_temp_path {run}/proxy;
  uwsgi_temp_path {run}/uwsgi;
  scgi_temp_path {run}/scgi;
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 0;
    location / {{
      auth_basic "git";
      auth_basic_user_file {run}/htpasswd;
      include /etc/nginx/fastcgi_params;
      fastcgi_pass unix:{run}/fcgiwrap.sock;
      fastcgi_request_buffering off;
      fastcgi_read_timeout 300s;
      fastcgi_param SCRIPT_FILENAME {backend};
      fastcgi_param GIT_PROJECT_ROOT {root};
      fastcgi_param GIT_HTTP_EXPORT_ALL "";
      fastcgi_param PATH_INFO $uri;
      fastcgi_param REMOTE_USER $remote_user;
    }}
  }}
}}
"""


class GitHttpServer:
    """Serve bare repositories under ``root`` at ``url``/<path>.git, token-protected."""

    def __init__(self, token: str, *, max_lifetime: int = 1800) -> None:
        missing = missing_tools()
        if missing:
            raise GitServerUnavailable(f"git smart-HTTP server needs: {', '.join(missing)}")
        self.token = token
        self.max_lifetime = max_lifetime
        self.base = Path(tempfile.mkdtemp(prefix="hisham-git-http-"))
        self.root = self.base / "repos"
        self.run = self.base / "run"
        self.root.mkdir()
        self.run.mkdir()
        self.port = _free_port()
        self._procs: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def repo_url(self, path: str) -> str:
        return f"{self.url}/{path}.git"

    def set_token(self, token: str) -> None:
        """(Re)write the htpasswd file: every user in ``USERS`` has ``token`` as password."""
        self.token = token
        lines = []
        for user in USERS:
            out = subprocess.run(["htpasswd", "-niB", user], input=token, capture_output=True, text=True, check=True)
            lines.append(out.stdout.strip())
        (self.run / "htpasswd").write_text("\n".join(lines) + "\n")

    def create_bare(self, path: str, default_branch: str = "main") -> Path:
        """Create (idempotently) an empty bare repository served at ``repo_url(path)``."""
        repo = self.root / f"{path}.git"
        if not (repo / "HEAD").exists():
            repo.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["git", "init", "-q", "--bare", "-b", default_branch, str(repo)], check=True)
            subprocess.run(["git", "-C", str(repo), "config", "http.receivepack", "true"], check=True)
        return repo

    def set_push_hook(self, path: str, *, refuse: str | None = None, stall: float = 0.0, once: bool = False,
                      mark: Path | None = None) -> None:
        """Make pushes to ``path`` misbehave through a real ``pre-receive`` hook: touch ``mark`` (a
        push reached the hook), wait ``stall`` seconds, then refuse with ``refuse`` (git's
        "pre-receive hook declined") or accept. ``once``: the hook removes itself after one push."""
        hook = self.root / f"{path}.git" / "hooks" / "pre-receive"
        hook.parent.mkdir(parents=True, exist_ok=True)
        lines = ["#!/bin/sh", "cat >/dev/null"]
        if once:
            lines.append(f"rm -f {shlex.quote(str(hook))}")
        if mark is not None:
            lines.append(f"touch {shlex.quote(str(mark))}")
        if stall:
            lines.append(f"sleep {stall:.3f}")
        if refuse is not None:
            lines += [f"echo {shlex.quote(refuse)} >&2", "exit 1"]
        hook.write_text("\n".join(lines) + "\n")
        hook.chmod(0o755)

    def clear_push_hook(self, path: str) -> None:
        (self.root / f"{path}.git" / "hooks" / "pre-receive").unlink(missing_ok=True)

    def head(self, path: str, branch: str = "main") -> str | None:
        """The sha ``branch`` points at in the served repository, or None."""
        out = subprocess.run(["git", "-C", str(self.root / f"{path}.git"), "rev-parse", "-q", "--verify",
                              f"refs/heads/{branch}"], capture_output=True, text=True)
        return out.stdout.strip() or None

    def start(self) -> "GitHttpServer":
        self.set_token(self.token)
        user = "user root;" if os.geteuid() == 0 else ""
        conf = _NGINX_CONF.format(user=user, run=self.run, port=self.port, backend=GIT_HTTP_BACKEND, root=self.root)
        (self.run / "nginx.conf").write_text(conf)
        life = str(self.max_lifetime)
        sock = self.run / "fcgiwrap.sock"
        self.start_backend()
        self._procs.append(subprocess.Popen(["timeout", life, NGINX, "-p", str(self.run), "-c",
                                             str(self.run / "nginx.conf")],
                                            stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            start_new_session=True))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if sock.exists():
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return self
                except OSError:
                    pass
            if any(p.poll() is not None for p in self._procs):
                break
            time.sleep(0.02)
        log = (self.run / "error.log").read_text() if (self.run / "error.log").exists() else ""
        self.stop()
        raise GitServerUnavailable(f"git smart-HTTP server did not start: {log[-500:]}")

    def start_backend(self) -> None:
        """Start fcgiwrap (git-http-backend's runner); without it nginx answers 502."""
        sock = self.run / "fcgiwrap.sock"
        sock.unlink(missing_ok=True)
        self._backend = subprocess.Popen(["timeout", str(self.max_lifetime), FCGIWRAP, "-c", "4", "-s", f"unix:{sock}"],
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self._procs.append(self._backend)
        deadline = time.monotonic() + 5
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop_backend(self) -> None:
        """Stop fcgiwrap so pushes fail with a transient 502 (to test push retries)."""
        os.killpg(self._backend.pid, signal.SIGTERM)
        self._backend.wait(timeout=5)
        self._procs.remove(self._backend)

    def stop(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self._procs.clear()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "GitHttpServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # pragma: no cover - manual use
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--token", required=True)
    parser.add_argument("--repo", action="append", default=[], help="bare repository to create")
    args = parser.parse_args()
    with GitHttpServer(args.token) as server:
        for name in args.repo:
            server.create_bare(name)
        print(server.url, flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
