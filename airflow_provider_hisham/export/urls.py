"""Which git remotes export talks to, and the one host each credential may be sent to.

A remote URL comes from DAG-run conf or from a hosting API's answer, so it is hostile: it must be
``https://`` or ``http://`` (a local repository only when the DAG's author allowed it), carry no
user name or password, query or fragment, and can never be read by git as an option or as a
transport helper (``ext::``, ``fd::``). A credential is bound to one ``Origin`` (scheme, host,
port): the one of the connection it came from; a remote elsewhere is refused before git runs.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from airflow_provider_hisham.export.errors import ForeignHostError, InvalidValueError, RemoteURLError

NETWORK_SCHEMES = ("https", "http")
DEFAULT_PORTS = {"https": 443, "http": 80}
MAX_URL_LENGTH = 2048
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")
_NETLOC = re.compile(r"^[A-Za-z0-9.\-:\[\]]+$")
_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_USERINFO = re.compile(r"(?<=://)[^/?#]*@")


def redact_url(url: str) -> str:
    """``url`` for messages: any user/password part replaced by ``***``, at most 200 characters."""
    shown = _USERINFO.sub("***@", str(url))
    return shown if len(shown) <= 200 else shown[:200] + "..."


@dataclass(frozen=True)
class Origin:
    """Scheme, host and port: where a connection's credential may go."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class Remote:
    """A checked git remote: ``origin`` is None for a local repository (``protocol == "file"``)."""

    url: str
    protocol: str
    origin: Origin | None = None


def _host(raw: str | None, field: str) -> str:
    host = (raw or "").lower()
    if not host:
        raise RemoteURLError(field, "names no host")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _HOSTNAME.match(host):
        raise RemoteURLError(field, f"has an invalid host name {host[:100]!r}")
    return host.rstrip(".")


def _origin(parts, scheme: str, field: str) -> Origin:
    if not _NETLOC.match(parts.netloc):
        raise RemoteURLError(field, "has characters git and Python would read differently in its host part")
    try:
        port = parts.port
    except ValueError:
        raise RemoteURLError(field, "has an invalid port") from None
    return Origin(scheme, _host(parts.hostname, field), port or DEFAULT_PORTS[scheme])


def parse_remote(url: object, *, field: str = "git_url", allow_file: bool = False) -> Remote:
    """Check a remote URL given by a user or an API (see module docstring); the error names ``field``."""
    if not isinstance(url, str) or not url.strip():
        raise RemoteURLError(field, "is empty; give an https:// URL of a git repository")
    if len(url) > MAX_URL_LENGTH:
        raise RemoteURLError(field, f"is longer than {MAX_URL_LENGTH} characters")
    if url.startswith("-"):
        raise RemoteURLError(field, "starts with '-': git would read it as an option")
    if _UNSAFE_CHARS.search(url):
        raise RemoteURLError(field, "contains whitespace, control characters or a backslash")
    if _HELPER.match(url):
        raise RemoteURLError(field, f"{redact_url(url)!r} uses a git transport helper ('<name>::'); only "
                                    "https and http remotes are supported")
    if url.startswith("/"):
        if not allow_file:
            raise RemoteURLError(field, "is a local path; local repositories are refused unless the DAG's "
                                        "author allows them (allow_local_remote=True)")
        return Remote(url, "file")
    if "://" not in url:
        raise RemoteURLError(field, f"{redact_url(url)!r} is not a URL: scp-like (host:path) and relative "
                                    "remotes are refused; give https://host/path.git")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if "@" in parts.netloc:
        host = parts.netloc.rpartition("@")[2]
        raise RemoteURLError(field, f"for host {host[:100]!r} contains a user name or password; credentials "
                                    "belong in a connection (git_conn_id), never in the URL")
    if scheme == "file":
        if not allow_file:
            raise RemoteURLError(field, "uses file://; local repositories are refused unless the DAG's author "
                                        "allows them (allow_local_remote=True)")
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise RemoteURLError(field, "must be file:///absolute/path")
        return Remote(url, "file")
    if scheme not in NETWORK_SCHEMES:
        raise RemoteURLError(field, f"uses scheme {scheme!r}; only https and http remotes are supported")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise RemoteURLError(field, "has a query or fragment; a git remote URL has neither")
    origin = _origin(parts, scheme, field)
    if parts.path.strip("/") == "":
        raise RemoteURLError(field, f"names no repository on {origin}")
    return Remote(url, scheme, origin)


def connection_origin(host: str | None, *, conn_id: str, schema: str | None = None,
                      port: int | None = None) -> Origin:
    """The origin of a connection: ``host`` as a URL (``https://git.example.com``) or a bare host name
    with ``schema`` (``http``/``https``, default https) and ``port``."""
    field = f"connection {conn_id!r}"
    if not host or not str(host).strip():
        raise InvalidValueError(field, "has no host: its token is only ever sent to its own host, so set the "
                                       "connection's host (e.g. https://git.example.com)")
    host = str(host).strip()
    if "://" in host:
        parts = urlsplit(host)
        scheme = parts.scheme.lower()
        if scheme not in NETWORK_SCHEMES:
            raise InvalidValueError(field, f"host uses scheme {scheme!r}; only https and http are supported")
        if "@" in parts.netloc:
            raise InvalidValueError(field, "host contains a user name or password; use login and password")
        return _origin(parts, scheme, f"{field} host")
    scheme = (schema or "").lower() if (schema or "").lower() in NETWORK_SCHEMES else "https"
    if port is not None and not 0 < int(port) < 65536:
        raise InvalidValueError(field, f"has an invalid port {port!r}")
    return Origin(scheme, _host(host, f"{field} host"), int(port) if port else DEFAULT_PORTS[scheme])


def check_credential_host(remote: Remote, origin: Origin, source: str, field: str = "git_url") -> None:
    """Refuse, before anything is sent, a remote that is not on the credential's own origin."""
    if remote.origin is None:
        raise ForeignHostError(field, f"is a local repository; the token of {source} is only sent to {origin}")
    if remote.origin != origin:
        raise ForeignHostError(field, f"points to {remote.origin}, which is not {origin}, the host of {source}; "
                                      "nothing was sent")
