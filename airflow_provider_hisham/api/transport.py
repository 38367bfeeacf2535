"""The HishamOS client's transport pieces (plain ``requests``, no Airflow): base URL and keep-alive.

Our own code rather than the http provider's ``HttpHook`` internals, which change between its
releases. The rules are the ones HttpHook applied, so connections keep working unchanged: a host
with ``://`` is the URL, else ``schema://host`` (schema defaulting to ``http``), then ``:port``
when the connection sets one.
"""

from __future__ import annotations

import socket
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection

#: TCP keep-alive probing of an idle connection, as HttpHook set it: first probe after 120 s idle,
#: then every 30 s, dropped after 20 unanswered (a dead pooled connection is noticed, and a NAT or
#: load balancer does not drop a connection in a long wait).
KEEPALIVE_IDLE = 120
KEEPALIVE_INTERVAL = 30
KEEPALIVE_COUNT = 20


def base_url(host: str | None, schema: str | None, port: int | None) -> str:
    """The base URL of a connection's host, schema and port (not validated: the caller checks it)."""
    host = host or ""
    scheme = schema or "http"
    url = host if "://" in host else f"{scheme}://{host}"
    return f"{url}:{port}" if port else url


def join_url(base: str, path: str) -> str:
    """``base`` + ``path`` with one ``/`` between them when neither has it."""
    if base and not base.endswith("/") and path and not path.startswith("/"):
        return f"{base}/{path}"
    return base + path


def keepalive_options(idle: int = KEEPALIVE_IDLE, interval: int = KEEPALIVE_INTERVAL,
                      count: int = KEEPALIVE_COUNT) -> list[tuple[int, int, int]]:
    """urllib3's default socket options plus TCP keep-alive (each option the platform has)."""
    options = [*HTTPConnection.default_socket_options, (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    # Linux names the idle time TCP_KEEPIDLE; macOS TCP_KEEPALIVE.
    idle_option = getattr(socket, "TCP_KEEPIDLE", None) or getattr(socket, "TCP_KEEPALIVE", None)
    for option, value in ((idle_option, idle), (getattr(socket, "TCP_KEEPINTVL", None), interval),
                          (getattr(socket, "TCP_KEEPCNT", None), count)):
        if option is not None:
            options.append((socket.IPPROTO_TCP, option, value))
    return options


class KeepAliveAdapter(HTTPAdapter):
    """``requests``' HTTP adapter (connection pooling) whose sockets have TCP keep-alive on.

    Uses requests' documented extension point (``init_poolmanager``) and urllib3's public
    ``socket_options``.
    """

    __attrs__ = [*HTTPAdapter.__attrs__, "socket_options"]

    def __init__(self, socket_options: list[tuple[int, int, int]] | None = None, **kwargs: Any) -> None:
        # before super().__init__(): it builds the pool manager
        self.socket_options = keepalive_options() if socket_options is None else socket_options
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        pool_kwargs.setdefault("socket_options", self.socket_options)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
