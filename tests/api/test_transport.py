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


def _tcp(options):
    return {(opt, value) for level, opt, value in options if level == socket.IPPROTO_TCP}


# (the platform's names for idle, interval and count, as (name, number) or None when it has none)
PLATFORMS = {
    "linux": (("TCP_KEEPIDLE", 4), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 6)),
    "macos": (("TCP_KEEPALIVE", 0x10), ("TCP_KEEPINTVL", 0x101), ("TCP_KEEPCNT", 0x102)),
    "none": (None, None, None),
}


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_keepalive_options_turn_tcp_keepalive_on_with_httphooks_timings(platform, monkeypatch):
    """Each timing under the name the platform gives it, and none where it has no such option."""
    for name in ("TCP_KEEPIDLE", "TCP_KEEPALIVE", "TCP_KEEPINTVL", "TCP_KEEPCNT"):
        monkeypatch.delattr(socket, name, raising=False)
    names = PLATFORMS[platform]
    for entry in names:
        if entry is not None:
            monkeypatch.setattr(socket, entry[0], entry[1], raising=False)
    options = keepalive_options()
    assert (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1) in options
    assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) in options  # urllib3's default kept
    expected = {(entry[1], value) for entry, value in zip(names, (120, 30, 20)) if entry is not None}
    assert _tcp(options) - {(socket.TCP_NODELAY, 1)} == expected


@pytest.mark.skipif(not hasattr(socket, "TCP_KEEPIDLE"), reason="the real names of Linux")
def test_keepalive_options_use_this_platforms_real_option_numbers():
    assert {(socket.TCP_KEEPIDLE, 120), (socket.TCP_KEEPINTVL, 30), (socket.TCP_KEEPCNT, 20)} <= _tcp(keepalive_options())


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
