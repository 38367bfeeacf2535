"""A small threaded HTTP server on 127.0.0.1 for the local stand-ins of remote APIs.

Each stand-in subclasses ``JsonHandler`` and is run with ``LocalServer``: an ephemeral port on
127.0.0.1 only, HTTP/1.1 keep-alive, and a lifetime limit after which it stops by itself even if
a test forgets to stop it.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
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

    def reset_connection(self) -> None:
        """Close with RST: the client sees 'connection reset', never a response."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def handle_request(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def do_GET(self) -> None:
        self.handle_request()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET


# Network faults every stand-in can inject, besides its own error answers (see ``NetworkFault``).
NETWORK_FAULTS = ("stall", "reset", "drop_after_commit")


class NetworkFault:
    """How a stand-in misbehaves on the network for one request.

    ``stall``: wait ``delay`` seconds, then answer normally (past a client's timeout it looks hung);
    ``reset``: close with RST before processing (nothing committed); ``drop_after_commit``: process
    and commit the request, then close with RST instead of answering (the client never learns).
    """

    def __init__(self, kind: str, delay: float = 0.0) -> None:
        if kind not in NETWORK_FAULTS:
            raise ValueError(f"unknown network fault {kind!r}; one of {NETWORK_FAULTS}")
        self.kind, self.delay = kind, delay

    def before(self, handler: JsonHandler) -> bool:
        """Apply the fault before processing; True when the request must not be processed."""
        if self.kind == "stall":
            time.sleep(self.delay)
        if self.kind == "reset":
            handler.reset_connection()
            return True
        return False

    def after(self, handler: JsonHandler) -> bool:
        """Apply the fault once the request was processed; True when the answer must not be sent."""
        if self.kind == "drop_after_commit":
            handler.reset_connection()
            return True
        return False


class NetworkFaultPlan:
    """Mixin for a stand-in's state: network faults queued per method and path prefix.

    The state provides ``network_faults`` (a list) and ``lock``.
    """

    network_faults: list[tuple[str, str, NetworkFault]]
    lock: threading.Lock

    def fail_network(self, method: str, path_prefix: str, kind: str, count: int = 1, *, delay: float = 0.0) -> None:
        """Queue ``count`` network faults (``base.NETWORK_FAULTS``) for requests starting with ``path_prefix``."""
        with self.lock:
            self.network_faults.extend([(method, path_prefix, NetworkFault(kind, delay))] * count)

    def take_network_fault(self, method: str, path: str) -> NetworkFault | None:
        with self.lock:
            for i, (m, prefix, fault) in enumerate(self.network_faults):
                if m == method and path.startswith(prefix):
                    return self.network_faults.pop(i)[2]
        return None


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
