"""Hostile-input corpus for repository export (issue 9): agent-written trees, run-conf values, URLs.

Every case runs through ``run_confined`` (a forked child with memory and CPU limits) against real
git (and, for remotes, the real smart-HTTP server or a redirecting one), and asserts: the refusal
and its message (naming the field or path), that nothing outside the export's own output was
written or run (a marker file, a victim repository, the rest of the test folder), and that the
token appears neither in the exception, its traceback nor the child's log.
"""

from __future__ import annotations

import http.server
import logging
import os
import re
import socket
import stat
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_hisham.export.archive import archive_target, write_archive
from airflow_provider_hisham.export.errors import (
    ArchivePathError,
    ForeignHostError,
    InvalidValueError,
    PushError,
    RemoteURLError,
    UnsafeTreeError,
)
from airflow_provider_hisham.export.git import GitCredentials, commit_tree, git_dir_for, push
from airflow_provider_hisham.export.remote import check_repository_name
from airflow_provider_hisham.export.urls import connection_origin
from tests.security.harness import Case, assert_no_secret, assert_refused, run_confined
from tests.servers.repo_fixtures import TOKEN, git_server, write_project  # noqa: F401 - fixture

# -- hostile trees ---------------------------------------------------------------------------
# Each builder plants one attack in the folder ``src``; ``env`` has ``marker`` (a command that runs
# creates it) and ``victim`` (a repository of the worker's that must stay untouched).


def _fsmonitor_config(marker: Path) -> str:
    return f"[core]\n\trepositoryformatversion = 0\n\tfsmonitor = touch {marker}\n\thooksPath = hooks\n"


def _git_dir(path: Path, env: dict) -> None:
    """A ``.git`` folder whose config runs a command through fsmonitor and whose hooks do too."""
    (path / "hooks").mkdir(parents=True)
    (path / "refs" / "heads").mkdir(parents=True)
    (path / "objects").mkdir()
    (path / "HEAD").write_text("ref: refs/heads/main\n")
    (path / "config").write_text(_fsmonitor_config(env["marker"]))
    for hook in ("pre-commit", "post-commit", "pre-push", "reference-transaction", "post-index-change"):
        script = path / "hooks" / hook
        script.write_text(f"#!/bin/sh\ntouch {env['marker']}\n")
        script.chmod(0o755)


def _gitdir_file(path: Path, env: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"gitdir: {env['victim']}\n")


def _include_config(path: Path, env: dict) -> None:
    _git_dir(path, env)
    (path.parent / "evil.cfg").write_text(_fsmonitor_config(env["marker"]))
    (path / "config").write_text("[include]\n\tpath = ../evil.cfg\n")


def _symlink(target: str, name: str = "leak") -> Callable[[Path, dict], None]:
    def build(src: Path, env: dict) -> None:
        link = src / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target.format(**{k: str(v) for k, v in env.items()}))
    return build


def _fifo(rel: str) -> Callable[[Path, dict], None]:
    def build(src: Path, env: dict) -> None:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(src / rel)
    return build


def _device(kind: int, rel: str) -> Callable[[Path, dict], None]:
    def build(src: Path, env: dict) -> None:
        try:
            os.mknod(src / rel, kind | 0o600, os.makedev(1, 3) if kind == stat.S_IFCHR else os.makedev(7, 0))
        except PermissionError:
            pytest.skip("devices cannot be created here (not root, or no CAP_MKNOD)")
    return build


def _socket(src: Path, env: dict) -> None:
    here = os.getcwd()
    os.chdir(src)  # a relative path: AF_UNIX paths are limited to ~108 bytes
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind("agent.sock")
    finally:
        os.chdir(here)


TREE_ATTACKS: dict[str, tuple[Callable[[Path, dict], None], str, str]] = {
    # id: (builder, path named in the message, what the message says)
    "dotgit-fsmonitor-and-hooks": (lambda s, e: _git_dir(s / ".git", e), ".git", "named like git's own folder"),
    "dotgit-include-path": (lambda s, e: _include_config(s / ".git", e), ".git", "named like git's own folder"),
    "dotgit-file-gitdir-redirect": (lambda s, e: _gitdir_file(s / ".git", e), ".git", "named like git's own folder"),
    "dotgit-upper-case": (lambda s, e: _git_dir(s / ".GIT", e), ".GIT", "named like git's own folder"),
    "dotgit-mixed-case-file": (lambda s, e: _gitdir_file(s / ".Git", e), ".Git", "named like git's own folder"),
    "dotgit-nested-repository": (lambda s, e: _git_dir(s / "vendor" / "lib" / ".git", e), "vendor/lib/.git",
                                 "named like git's own folder"),
    "dotgit-deep-gitdir-file": (lambda s, e: _gitdir_file(s / "a" / "b" / "c" / "d" / ".git", e), "a/b/c/d/.git",
                                "named like git's own folder"),
    "dotgit-ntfs-trailing-dot": (lambda s, e: _git_dir(s / ".git.", e), ".git.", "named like git's own folder"),
    "dotgit-ntfs-trailing-space": (lambda s, e: _gitdir_file(s / ".git ", e), ".git ", "named like git's own folder"),
    "dotgit-ntfs-short-name": (lambda s, e: _git_dir(s / "GIT~1", e), "GIT~1", "named like git's own folder"),
    "dotgit-ntfs-stream": (lambda s, e: _git_dir(s / ".git::$INDEX_ALLOCATION", e), ".git::$INDEX_ALLOCATION",
                           "named like git's own folder"),
    "dotgit-hfs-ignorable": (lambda s, e: _git_dir(s / ".g\u200cit", e), ".g\u200cit", "named like git's own folder"),
    "dotgit-symlink-to-repository": (_symlink("{victim}", ".git"), ".git", "named like git's own folder"),
    "symlink-absolute-etc-passwd": (_symlink("/etc/passwd"), "leak", "symbolic link to an absolute path"),
    "symlink-relative-escape": (_symlink("../../outside/secret.txt"), "leak", "symbolic link leading outside the folder"),
    "symlink-nested-escape": (_symlink("../../../outside", "docs/api/link"), "docs/api/link",
                              "symbolic link leading outside the folder"),
    "symlink-chain-escape": (lambda s, e: (_symlink("../../outside", "hop")(s, e), _symlink("hop/secret.txt")(s, e)),
                             "hop|leak", "symbolic link leading outside the folder"),
    "symlink-folder-absolute": (_symlink("{outside}", "assets"), "assets", "symbolic link to an absolute path"),
    "fifo-at-root": (_fifo("pipe"), "pipe", "FIFO"),
    "fifo-nested": (_fifo("src/pkg/pipe.py"), "src/pkg/pipe.py", "FIFO"),
    "char-device": (_device(stat.S_IFCHR, "null"), "null", "character device"),
    "block-device": (_device(stat.S_IFBLK, "disk"), "disk", "block device"),
    "unix-socket": (_socket, "agent.sock", "socket"),
}
# Which export reads the tree: commit_tree (git), or an archive writer.
TREE_READERS = ("commit", "zip", "tar.gz")
TREE_CASES = [Case(f"tree-{reader}-{attack}", "tree", attack, reader)
              for attack in TREE_ATTACKS for reader in TREE_READERS
              if reader == "commit" or not attack.startswith("dotgit-") or attack in (
                  "dotgit-fsmonitor-and-hooks", "dotgit-file-gitdir-redirect", "dotgit-upper-case")]

# -- hostile remotes (git_url / clone_url), pushed with a token bound to the git server ----------
URL_CASES = [Case(f"url-{i}", "url", attack, payload, {"error": err, "match": match}) for i, (attack, payload, err, match) in
             enumerate([
    ("option: upload-pack", "--upload-pack=touch {marker}", RemoteURLError, "git_url starts with '-'"),
    ("option: receive-pack", "--receive-pack=touch {marker} {server}/x.git", RemoteURLError, "git_url starts with '-'"),
    ("option: short -u", "-utouch {marker}", RemoteURLError, "git_url starts with '-'"),
    ("option: config", "-c core.sshCommand=touch {marker}", RemoteURLError, "git_url starts with '-'"),
    ("helper: ext", "ext::sh -c touch% {marker}", RemoteURLError, "whitespace|transport helper"),
    ("helper: ext no space", "ext::touch", RemoteURLError, "git_url 'ext::touch' uses a git transport helper"),
    ("helper: fd", "fd::17", RemoteURLError, "uses a git transport helper"),
    ("helper: http emulation", "http::{server}/x.git", RemoteURLError, "uses a git transport helper"),
    ("file:// to a victim", "file://{victim}", RemoteURLError, "uses file://; local repositories are refused"),
    ("local path to a victim", "{victim}", RemoteURLError, "git_url is a local path"),
    ("relative path", "../victim.git", RemoteURLError, "is not a URL"),
    ("scp-like", "127.0.0.1:victim.git", RemoteURLError, "scp-like"),
    ("scp-like with user", "git@127.0.0.1:victim.git", RemoteURLError, "scp-like"),
    ("ssh scheme", "ssh://127.0.0.1/x.git", RemoteURLError, "scheme 'ssh'; only https and http"),
    ("git scheme", "git://127.0.0.1/x.git", RemoteURLError, "scheme 'git'"),
    ("ftp scheme", "ftp://127.0.0.1/x.git", RemoteURLError, "scheme 'ftp'"),
    ("token as user name", "http://{token}@{hostport}/team/x.git", RemoteURLError,
     "git_url for host '127.0.0.1:[0-9]+' contains a user name or password"),
    ("token as password", "http://x-access-token:{token}@{hostport}/team/x.git", RemoteURLError,
     "contains a user name or password"),
    ("url-encoded token as user", "http://{token_q}@{hostport}/team/x.git", RemoteURLError,
     "contains a user name or password"),
    ("token in query", "{server}/team/x.git?access_token={token}", RemoteURLError, "has a query or fragment"),
    ("fragment host confusion", "http://attacker.example#@{hostport}/x.git", RemoteURLError, "query or fragment"),
    ("backslash host confusion", "http://attacker.example\\@{hostport}/x.git", RemoteURLError, "backslash"),
    ("newline in url", "{server}/x.git\nhttp://attacker.example/", RemoteURLError, "control characters"),
    ("empty url", "", RemoteURLError, "git_url is empty"),
    ("no repository path", "{server}/", RemoteURLError, "names no repository"),
    ("percent in host", "http://127.0.0.1%2f@attacker.example/x.git", RemoteURLError, "user name or password"),
    ("other host with token", "http://attacker.example/x.git", ForeignHostError,
     r"git_url points to http://attacker\.example:80, which is not http://127\.0\.0\.1:\d+, the host of "
     r"connection 'git_test'; nothing was sent"),
    ("other loopback host with token", "http://127.0.0.2:{port}/team/x.git", ForeignHostError,
     r"points to http://127\.0\.0\.2:\d+, which is not http://127\.0\.0\.1:\d+"),
    ("same host other port", "http://127.0.0.1:1/team/x.git", ForeignHostError, r"http://127\.0\.0\.1:1, which is not"),
    ("same host other scheme", "https://{hostport}/team/x.git", ForeignHostError, r"https://127\.0\.0\.1:\d+, which"),
    ("host name spelled differently", "http://localhost:{port}/team/x.git", ForeignHostError,
     r"http://localhost:\d+, which is not"),
    ("redirect to another host", "{redirector}/team/x.git", PushError, "(?s)302.*does not follow redirects"),
])]

# -- other values that reach git: branches, author, message, commit id ---------------------------
VALUE_CASES = [Case(f"value-{i}", "value", attack, payload, {"error": err, "match": match})
               for i, (attack, payload, err, match) in enumerate([
    ("default_branch option", {"branch": "--upload-pack=touch {marker}"}, InvalidValueError,
     "default_branch '--upload-pack=.*' starts with '-'"),
    ("default_branch short option", {"branch": "-f"}, InvalidValueError, "default_branch '-f' starts with '-'"),
    ("default_branch refspec", {"branch": "main:refs/heads/other"}, InvalidValueError, "not a valid git branch name"),
    ("default_branch climbing", {"branch": "../../HEAD"}, InvalidValueError, "default_branch .* not a valid"),
    ("default_branch newline", {"branch": "main\nx"}, InvalidValueError, "default_branch .* not a valid"),
    ("branches option", {"branches": ["--force"]}, InvalidValueError, "branches '--force' starts with '-'"),
    ("branches mirror", {"branches": ["--mirror"]}, InvalidValueError, "branches '--mirror' starts with '-'"),
    ("branches refspec", {"branches": ["x:refs/heads/main"]}, InvalidValueError, "branches .* not a valid"),
    ("branches reflog syntax", {"branches": ["main@{1}"]}, InvalidValueError, "branches .* not a valid"),
    ("author_name option", {"author_name": "--exec=touch {marker}"}, InvalidValueError, "author_name .* starts with '-'"),
    ("author_email angle brackets", {"author_email": "a@b> evil <x@y"}, InvalidValueError, "author_email must be one line"),
    ("author_name newline", {"author_name": "Bot\ncommitter evil"}, InvalidValueError, "author_name must be one line"),
    ("commit_message NUL", {"message": "ok\x00hidden"}, InvalidValueError, "commit_message contains NUL"),
    ("commit_message empty", {"message": "  "}, InvalidValueError, "commit_message is empty"),
    ("commit id option", {"sha": "--all"}, InvalidValueError, "sha is not a commit id"),
])]

# -- archive names and folders (repository_name / archive_dir from a run's conf) ----------------
ARCHIVE_CASES = [Case(f"archive-{i}", "archive", attack, payload, {"match": match})
                 for i, (attack, payload, match) in enumerate([
    ("name climbing", {"name": "../../escaped"}, "repository_name cannot name an archive"),
    ("name absolute", {"name": "{outside}/replaced"}, "repository_name cannot name an archive"),
    ("name dot-dot", {"name": ".."}, "repository_name cannot name an archive"),
    ("name nested", {"name": "a/b"}, "repository_name cannot name an archive"),
    ("name hidden", {"name": ".bashrc"}, "repository_name cannot name an archive"),
    ("name NUL", {"name": "x\x00.zip"}, "repository_name cannot name an archive"),
    ("name backslash", {"name": "..\\..\\escaped"}, "repository_name cannot name an archive"),
    ("name too long", {"name": "n" * 300}, "repository_name cannot name an archive"),
    ("dir climbing", {"dir": "../.."}, "archive_dir '../..' is outside the archive root"),
    ("dir absolute", {"dir": "{outside}"}, "archive_dir .* is outside the archive root"),
    ("dir through a link", {"dir": "link/deeper", "link": True}, "archive_dir 'link/deeper' is outside the archive root"),
    ("existing link as archive", {"name": "bundle", "planted": True}, "is a symbolic link"),
])]

HOSTING_CASES = [Case(f"hosting-{i}", "hosting", attack, payload, {"match": match})
                 for i, (attack, payload, match) in enumerate([
    ("repository climbing", ("../../user", None), "repository_name '../../user' is not a repository name"),
    ("repository option", ("--help", None), "repository_name '--help' is not"),
    ("repository query", ("x?admin=1", None), "repository_name .* is not"),
    ("namespace climbing", ("ok", "../admin"), "namespace '../admin' is not"),
    ("namespace absolute", ("ok", "/orgs"), "namespace '/orgs' is not"),
])]

CONNECTION_CASES = [Case(f"connection-{i}", "connection", attack, payload, {"match": match})
                    for i, (attack, payload, match) in enumerate([
    ("no host", {"host": None}, "connection 'git_test' has no host"),
    ("host with credentials", {"host": f"https://user:{TOKEN}@git.example.com"}, "contains a user name or password"),
    ("host with a strange scheme", {"host": "ext::sh"}, "invalid host name"),
    ("host with ftp", {"host": "ftp://git.example.com"}, "scheme 'ftp'"),
])]

CASES: list[Case] = TREE_CASES + URL_CASES + VALUE_CASES + ARCHIVE_CASES + HOSTING_CASES + CONNECTION_CASES


# -- servers -------------------------------------------------------------------------------------
class _Recorder(http.server.BaseHTTPRequestHandler):
    """The "other host" (127.0.0.2): records every request; answers 401."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self):  # noqa: N802
        self.seen.append((self.path, self.headers.get("Authorization")))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="other"')
        self.end_headers()

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


def _serve(server: http.server.HTTPServer) -> None:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    timer = threading.Timer(600, server.shutdown)  # stops by itself even if teardown never runs
    timer.daemon = True  # and never keeps the test process alive after the tests (it did, for 600 s)
    timer.start()


@pytest.fixture(scope="module")
def other_hosts():
    """127.0.0.2 (records requests) and a 127.0.0.1 server that redirects everything there."""
    other = http.server.ThreadingHTTPServer(("127.0.0.2", 0), _Recorder)
    target = f"http://127.0.0.2:{other.server_address[1]}"

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(302)
            self.send_header("Location", target + self.path)
            self.end_headers()

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    redirector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    for server in (other, redirector):
        _serve(server)
    yield {"other": target, "redirector": f"http://127.0.0.1:{redirector.server_address[1]}"}
    for server in (other, redirector):
        server.shutdown()
        server.server_close()


# -- running one case ----------------------------------------------------------------------------
def _logged(log_file: Path, fn: Callable, *args, **kwargs):
    """In the child: send every log record to ``log_file`` (scanned for the token), then call ``fn``."""
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    return fn(*args, **kwargs)


def _snapshot(base: Path, skip: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for path in base.rglob("*"):
        if path == skip or skip in path.parents:
            continue
        st = path.lstat()
        found[str(path.relative_to(base))] = (st.st_size, st.st_mtime_ns)
    return found


@pytest.fixture
def env(tmp_path):
    victim = tmp_path / "victim"
    write_project(victim, 1)
    subprocess.run(["git", "init", "-q", "-b", "main", str(victim)], check=True)
    subprocess.run(["git", "-C", str(victim), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(victim), "-c", "user.name=v", "-c", "user.email=v@v", "commit", "-qm", "v"],
                   check=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"worker secret {TOKEN}\n")
    src = write_project(tmp_path / "work" / "src", 3)
    return {"victim": victim / ".git", "victim_tree": victim, "outside": outside, "marker": tmp_path / "PWNED",
            "src": src, "out": tmp_path / "out", "log": tmp_path / "child.log", "base": tmp_path}


def _creds(server_url: str) -> GitCredentials:
    return GitCredentials("x-access-token", TOKEN, connection_origin(server_url, conn_id="git_test"),
                          "connection 'git_test'")


def _fill(value, values: dict):
    """``{name}`` placeholders replaced (not str.format: payloads such as ``main@{1}`` keep their braces)."""
    if isinstance(value, str):
        for key, replacement in values.items():
            value = value.replace("{" + key + "}", str(replacement))
        return value
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def _run(case: Case, env: dict, request) -> tuple[object, type, str]:
    """Plant the case, and return (outcome, expected exception class, expected message)."""
    src, out = env["src"], env["out"]
    if case.area == "tree":
        builder, path, says = TREE_ATTACKS[case.attack]
        builder(src, env)
        if case.payload == "commit":
            fn, args = commit_tree, (src,)
        else:
            fn, args = write_archive, (src, out / f"bundle.{case.payload}", case.payload)
        paths = "|".join(re.escape(repr(p)) for p in path.split("|"))
        return run_confined(_logged, env["log"], fn, *args, timeout=20), UnsafeTreeError, \
            rf"^source_dir {re.escape(repr(str(src)))}: ({paths}) is (a )?{says}"
    if case.area in ("url", "value"):
        server = request.getfixturevalue("git_server")
        hosts = request.getfixturevalue("other_hosts")
        values = {"marker": env["marker"], "victim": env["victim"], "server": server.url, "port": server.port,
                  "hostport": f"127.0.0.1:{server.port}", "token": TOKEN, "token_q": TOKEN.replace("_", "%5F"),
                  "redirector": hosts["redirector"], "outside": env["outside"]}
        server.create_bare("team/x")
        creds = _creds(hosts["redirector"] if "{redirector}" in str(case.payload) else server.url)
        if case.area == "url":
            sha = commit_tree(src)
            outcome = run_confined(_logged, env["log"], push, src, _fill(case.payload, values), sha, ["main"], creds,
                                   retries=0, timeout=20)
        else:
            kw = {k: _fill(v, values) for k, v in case.payload.items()}
            if "sha" in kw or "branches" in kw:
                sha = kw.pop("sha", None) or commit_tree(src)
                outcome = run_confined(_logged, env["log"], push, src, server.repo_url("team/x"), sha,
                                       kw.get("branches", ["main"]), creds, retries=0, timeout=20)
            else:
                outcome = run_confined(_logged, env["log"], commit_tree, src, timeout=20, **kw)
        match = case.extra["match"]
        return outcome, case.extra["error"], match
    if case.area == "archive":
        root = env["base"] / "exports"
        root.mkdir()
        values = {"outside": env["outside"]}
        if case.payload.get("link"):
            (root / "link").symlink_to(env["outside"])
        if case.payload.get("planted"):
            (root / "bundle.zip").symlink_to(env["outside"] / "secret.txt")

        def export():
            target = archive_target(root, _fill(case.payload.get("dir"), values),
                                    _fill(case.payload.get("name", "bundle"), values), "zip")
            return write_archive(src, target, "zip")

        return run_confined(_logged, env["log"], export), ArchivePathError, case.extra["match"]
    if case.area == "hosting":
        return run_confined(_logged, env["log"], check_repository_name, *case.payload), InvalidValueError, \
            case.extra["match"]
    assert case.area == "connection"
    return (run_confined(_logged, env["log"], connection_origin, case.payload["host"], conn_id="git_test"),
            InvalidValueError, case.extra["match"])


@pytest.mark.parametrize("case", CASES, ids=str)
def test_export_corpus(case: Case, env, request):
    server = request.getfixturevalue("git_server") if case.area in ("url", "value") else None
    before = _snapshot(env["base"], env["out"])
    served_before = server and (server.run / "access.log").read_text()
    outcome, error, match = _run(case, env, request)
    assert_refused(outcome, error, match)
    assert not env["marker"].exists(), "a command planted in the input ran"
    after = _snapshot(env["base"], env["out"])
    ours = ("work/src", "exports", "child.log")  # the planted input, the archive root, the child's log
    assert {k for k in before.keys() | after.keys() if not k.startswith(ours) and before.get(k) != after.get(k)} \
        == set(), "something outside the input and the output roots was written"
    if env["out"].exists():
        assert list(env["out"].iterdir()) == [], "a refused export left an archive"
    assert not git_dir_for(env["src"]).joinpath("refs", "heads", "main").exists() or case.area != "tree"
    log_text = env["log"].read_text() if env["log"].exists() else ""
    assert_no_secret([TOKEN], outcome.message, outcome.traceback, log_text)
    if case.area == "url":
        assert _Recorder.seen == [], f"the other host received {_Recorder.seen}"
        if error is not PushError:  # refused before git ran: the server saw nothing new
            assert (server.run / "access.log").read_text() == served_before


def test_corpus_size():
    assert len(CASES) >= 50 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("attack", ["dotgit-fsmonitor-and-hooks", "dotgit-include-path", "dotgit-file-gitdir-redirect",
                                    "dotgit-nested-repository"])
def test_git_itself_ignores_a_planted_git_even_without_the_tree_check(attack, env, monkeypatch):
    """Defence in depth: with ``scan_tree`` switched off, export's git still never reads the planted
    ``.git`` (its repository is elsewhere, its config ours): no command runs, the victim repository
    is untouched and nothing of ``.git`` is committed."""
    import airflow_provider_hisham.export.git as export_git

    builder, _, _ = TREE_ATTACKS[attack]
    builder(env["src"], env)
    victim_before = _snapshot(env["victim_tree"], env["out"])
    monkeypatch.setattr(export_git, "scan_tree", lambda _src: 1.7e9)
    outcome = run_confined(commit_tree, env["src"], timeout=20)
    assert not env["marker"].exists()
    assert _snapshot(env["victim_tree"], env["out"]) == victim_before
    if outcome.kind != "returned":  # an embedded repository without commits: git refuses to add it
        assert "does not have a commit checked out" in outcome.message, outcome.describe()
        return
    files = subprocess.run(["git", f"--git-dir={git_dir_for(env['src'])}", "ls-tree", "-r", "--name-only", "HEAD"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert files and not any(".git/" in f or f.startswith(".git") for f in files), files


def test_commit_message_is_data_not_an_option(env, git_server):
    """A message shaped like an option ends up, literally, as the message: it reaches git on stdin."""
    message = f"--upload-pack=touch {env['marker']}\n\n-c core.fsmonitor=touch {env['marker']}"
    outcome = run_confined(commit_tree, env["src"], message=message, timeout=20)
    assert outcome.kind == "returned", outcome.describe()
    body = subprocess.run(["git", f"--git-dir={git_dir_for(env['src'])}", "log", "-1", "--format=%B"],
                          capture_output=True, text=True, check=True).stdout
    assert body.strip() == message and not env["marker"].exists()
