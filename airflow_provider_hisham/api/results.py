"""Shaping API results for XCom: pick a part by a dotted path, and drop credentials."""

from __future__ import annotations

import re
from typing import Any

from airflow_provider_hisham.api.errors import HishamOSConfigError
from airflow_provider_hisham.secrets import REDACTED

#: Credential key names, normalised (lower case, letters and digits only: ``accessToken``,
#: ``access_token`` and ``access-token`` are all ``accesstoken``).
CREDENTIAL_KEYS = frozenset({
    "access", "refresh", "token", "key", "apikey", "jwt", "secret", "password", "passwd", "pwd", "passphrase",
    "authorization", "auth", "bearer", "cookie", "setcookie", "credential", "credentials", "privatekey",
    "clientsecret", "sessionid", "otp", "totpsecret",
})
#: ...and endings that make any key a credential (``refresh_token``, ``jwt_secret``, ``x-api-key``).
CREDENTIAL_SUFFIXES = ("token", "secret", "password", "passwd", "apikey", "privatekey", "secretkey", "accesskey",
                       "authorization", "jwt")
_NON_ALNUM = re.compile(r"[^a-z0-9]")
#: A JWT whatever key holds it (``eyJ`` is the base64 of ``{"``).
_JWT = re.compile(r"eyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]+")


def select(result: Any, path: str) -> Any:
    """``select({"results": [{"id": 1}]}, "results.0.id") == 1``; a missing step names the path."""
    current = result
    for i, step in enumerate(path.split(".")):
        where = ".".join(path.split(".")[: i + 1])
        if isinstance(current, dict) and step in current:
            current = current[step]
        elif isinstance(current, list) and re.fullmatch(r"-?\d+", step) and -len(current) <= int(step) < len(current):
            current = current[int(step)]
        else:
            raise HishamOSConfigError(f"result_path {path!r}: nothing at {where!r} in the result")
    return current


def is_credential_key(key: Any) -> bool:
    """``accessToken``, ``api_key``, ``X-API-Key``, ``refresh_token``, ``jwt``... (case, camelCase,
    snake_case and kebab-case alike)."""
    if not isinstance(key, str):
        return False
    norm = _NON_ALNUM.sub("", key.lower())
    return norm in CREDENTIAL_KEYS or norm.endswith(CREDENTIAL_SUFFIXES)


def _secret_like(value: Any) -> bool:
    """Worth hiding: anything but nothing and flags (``has_api_key: true`` stays readable)."""
    return value not in (None, "") and not isinstance(value, bool)


def redact_credentials(value: Any) -> Any:
    """The value with the values of credential-named keys (a raw call to the login endpoint returns
    tokens) and JWT-shaped strings replaced by ``***``: XCom is readable by every DAG author."""
    if isinstance(value, dict):
        return {k: (REDACTED if is_credential_key(k) and _secret_like(v) else redact_credentials(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact_credentials(v) for v in value]
    if isinstance(value, str) and "eyJ" in value:
        return _JWT.sub(REDACTED, value)
    return value


def shape_result(result: Any, path: str | None) -> Any:
    """What goes to XCom: the part at ``path`` (whole result without one), credentials redacted.
    A path through a credential key (``access``, ``user.apiKey``) yields ``***`` itself."""
    if not path:
        return redact_credentials(result)
    selected = select(result, path)
    if any(is_credential_key(step) for step in path.split(".")) and _secret_like(selected):
        return REDACTED
    return redact_credentials(selected)
