"""Base URL rules and the keep-alive adapter (plain requests, no server)."""

from __future__ import annotations

import pickle
import socket

import pytest
import requests

from airflow_provider_hisham.api.transport import KeepAliveAdapter, base_url, join_url, keepalive_options


@pytest.mark.parametrize(("host", "schema", "port", "url"), [
    ("hishamos.example.com", None, None, "http://hishamos.example.com"),
    ("hishamos.example.com", "https", None, "https://hishamos.example.com"),
    ("hishamos.example.com", "https", 8443, "https://hishamos.example.com:8443"),
    ("https://hishamos.example.com", "http", None, "https://hishamos.example.com"),  # the URL's scheme wins
    ("https://hishamos.example.com/os", None, 8443, "https://hishamos.example.com/os:8443"),  # as HttpHook did
    (None, None, None, "http://"),
])
def test_base_url_follows_httphooks_rules(host, schema, port, url):
    assert base_url(host, schema, port) == url


@pytest.mark.parametrize(("base", "path", "url"), [
    ("http://h", "/api/v1/", "http://h/api/v1/"),
    ("http://h/os", "api/v1/", "http://h/os/api/v1/"),
    ("http://h/", "api/v1/", "http://h/api/v1/"),
])
def test_join_url_puts_one_slash_between(base, path, url):
    assert join_url(base, path) == url


def test_keepalive_options_turn_tcp_keepalive_on_with_httphooks_timings():
    options = keepalive_options()
    assert (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1) in options
    assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) in options  # urllib3's default kept
    if hasattr(socket, "TCP_KEEPIDLE"):
        assert {(socket.TCP_KEEPIDLE, 120), (socket.TCP_KEEPINTVL, 30), (socket.TCP_KEEPCNT, 20)} <= {
            (opt, value) for level, opt, value in options if level == socket.IPPROTO_TCP}


def test_the_adapter_opens_keepalive_sockets(monkeypatch):
    """A real connection through the adapter has SO_KEEPALIVE set on its socket."""
    seen: list[int] = []
    real = socket.socket.setsockopt

    def record(sock, level, option, value):
        if (level, option) == (socket.SOL_SOCKET, socket.SO_KEEPALIVE):
            seen.append(value)
        return real(sock, level, option, value)

    monkeypatch.setattr(socket.socket, "setsockopt", record)
    with socket.create_server(("127.0.0.1", 0)) as server, requests.Session() as session:
        session.mount("http://", KeepAliveAdapter())
        with pytest.raises(requests.ReadTimeout):  # the server's backlog takes the connection, nobody answers
            session.get(f"http://127.0.0.1:{server.getsockname()[1]}/", timeout=0.2)
    assert seen == [1]


def test_the_adapter_survives_pickling():
    adapter = pickle.loads(pickle.dumps(KeepAliveAdapter(socket_options=[(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)])))
    assert adapter.poolmanager.connection_pool_kw["socket_options"] == [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
