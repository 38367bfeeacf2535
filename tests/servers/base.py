"""A small threaded HTTP server on 127.0.0.1 for the local stand-ins of remote APIs.

Each stand-in subclasses ``JsonHandler`` and is run with ``LocalServer``: an ephemeral port on
127.0.0.1 only, HTTP/1.1 keep-alive, and a lifetime limit after which it stops by itself even if
a test forgets to stop it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class JsonHandler(BaseHTTPRequestHandler):
    """Request handler with JSON helpers; subclasses implement ``handle_request``."""

    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output quiet; servers record requests in ``server.requests`` instead

    # -- helpers ---------------------------------------------------------------------------
    @property
    def path_only(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status: int, body: bytes | str | dict | list | None = None, *,
             content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
        if isinstance(body, (dict, list)):
            payload = json.dumps(body).encode()
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = body or b""
        self.send_response(status)
        if payload or status not in (204, 304):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def handle_request(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def do_GET(self) -> None:
        self.handle_request()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class LocalServer:
    """Run a handler class on 127.0.0.1:<ephemeral port> in a background thread.

    ``state`` is shared with the handler as ``self.server.state``. Use as a context manager;
    the server also shuts itself down after ``max_lifetime`` seconds.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler], state: Any = None, *,
                 max_lifetime: float = 1800.0, port: int = 0) -> None:
        self._httpd = _Server(("127.0.0.1", port), handler)  # port 0: ephemeral (tests)
        self._httpd.state = state  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name=f"{handler.__name__}-server")
        self._deadline = threading.Timer(max_lifetime, self.stop)
        self._deadline.daemon = True

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state(self) -> Any:
        return self._httpd.state  # type: ignore[attr-defined]

    def start(self) -> "LocalServer":
        self._thread.start()
        self._deadline.start()
        return self

    def stop(self) -> None:
        self._deadline.cancel()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
