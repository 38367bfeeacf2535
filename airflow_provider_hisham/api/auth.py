"""The three ways to authenticate to HishamOS, as small objects that produce request headers.

Each strategy answers ``headers()`` for the next request and ``reauthenticate()`` after a 401
(True when a retry with new credentials makes sense). Network calls (login, refresh) are passed
in as functions so this module stays free of HTTP and Airflow; every credential is handed to
``on_secret`` before it is first sent (the hook masks it in Airflow's logs and scrubs it from its
messages), and one obtained but not sent yet to ``on_held`` (scrubbed only, until it is sent).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import jwt

from airflow_provider_hisham.api.errors import HishamOSAPIError, HishamOSConfigError

AUTH_MODES = ("password", "jwt_secret", "api_key")
#: Lifetime of tokens minted in jwt_secret mode: short, so a leaked one is soon useless.
MINTED_TOKEN_LIFETIME = 300.0


class Auth(Protocol):
    def headers(self) -> dict[str, str]: ...

    def reauthenticate(self) -> bool: ...


def token_times(token: str) -> tuple[float | None, float | None]:
    """``(exp, iat)`` of a JWT, read without verifying (the client cannot and need not verify it)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None, None
    exp, iat = claims.get("exp"), claims.get("iat")
    return (float(exp) if isinstance(exp, (int, float)) else None,
            float(iat) if isinstance(iat, (int, float)) else None)


class _Clocked:
    """Refresh ahead of expiry: when less than ``margin`` seconds (or a fifth of the lifetime) remain."""

    margin = 60.0

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    def _fresh(self, expires: float | None, issued: float) -> bool:
        if expires is None:
            return True
        lead = min(self.margin, max(0.0, (expires - issued) / 5))
        return self._clock() < expires - lead


class PasswordAuth(_Clocked):
    """Email + password: login, keep the tokens, refresh ahead of expiry, log in again when the
    refresh token is rejected."""

    def __init__(self, email: str, password: str, *, login: Callable[[str, str], dict[str, Any]],
                 refresh: Callable[[str], dict[str, Any]], on_secret: Callable[[str], None] = lambda s: None,
                 on_held: Callable[[str], None] | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        if not email or not password:
            raise HishamOSConfigError("auth mode 'password' needs the connection's Login (email) and Password")
        self._email, self._password = email, password
        self._login, self._refresh, self._on_secret = login, refresh, on_secret
        self._on_held = on_held or on_secret
        self._access: str | None = None
        self._refresh_token: str | None = None
        self._expires: float | None = None
        self._issued = 0.0
        self.logins = self.refreshes = 0

    def _store(self, tokens: dict[str, Any]) -> None:
        # the access token goes out with the next request; the refresh token only when the access
        # token needs refreshing (``on_held`` now, ``on_secret`` just before it is sent)
        if tokens.get("access"):
            self._on_secret(tokens["access"])
        if tokens.get("refresh"):
            self._on_held(tokens["refresh"])
        self._access = tokens["access"]
        self._refresh_token = tokens.get("refresh") or self._refresh_token
        self._expires, issued = token_times(self._access)
        self._issued = issued if issued is not None else self._clock()

    def _do_login(self) -> None:
        self.logins += 1
        self._store(self._login(self._email, self._password))

    def _do_refresh(self) -> None:
        """Refresh; if HishamOS rejects the refresh token (expired, blacklisted), log in again."""
        if not self._refresh_token:
            return self._do_login()
        self.refreshes += 1
        self._on_secret(self._refresh_token)
        try:
            self._store(self._refresh(self._refresh_token))
        except HishamOSAPIError as exc:
            if exc.status not in (400, 401):
                raise
            self._refresh_token = None
            self._do_login()

    def headers(self) -> dict[str, str]:
        if self._access is None:
            self._do_login()
        elif not self._fresh(self._expires, self._issued):
            self._do_refresh()
        return {"Authorization": f"Bearer {self._access}"}

    def reauthenticate(self) -> bool:
        self._do_refresh()
        return True


class JwtSecretAuth(_Clocked):
    """Shared JWT secret: mint short-lived HS256 access tokens for one user id, so HishamOS applies
    that user's permissions (claims ``token_type``, ``user_id``, ``jti``, ``exp``, ``iat``)."""

    def __init__(self, secret: str, user_id: str, *, lifetime: float = MINTED_TOKEN_LIFETIME,
                 on_secret: Callable[[str], None] = lambda s: None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        if not secret:
            raise HishamOSConfigError("auth mode 'jwt_secret' needs the connection field 'jwt_secret'")
        if not user_id:
            raise HishamOSConfigError("auth mode 'jwt_secret' needs a user id: pass user_id to the task/hook "
                                      "or set the connection field 'default_user_id'")
        try:
            uuid.UUID(str(user_id))
        except ValueError:
            raise HishamOSConfigError(f"user_id {user_id!r} is not a UUID (HishamOS user ids are UUIDs)") from None
        self.user_id = str(user_id)
        self._secret, self._lifetime, self._on_secret = secret, lifetime, on_secret
        self._token: str | None = None
        self._expires = 0.0
        self._issued = 0.0
        self.minted = 0

    def mint(self) -> str:
        now = self._clock()
        claims = {"token_type": "access", "user_id": self.user_id, "jti": uuid.uuid4().hex,
                  "iat": int(now), "exp": int(now + self._lifetime)}
        token = jwt.encode(claims, self._secret, algorithm="HS256")
        self._on_secret(token)
        self._token, self._expires, self._issued = token, float(claims["exp"]), now
        self.minted += 1
        return token

    def headers(self) -> dict[str, str]:
        if self._token is None or not self._fresh(self._expires, self._issued):
            self.mint()
        return {"Authorization": f"Bearer {self._token}"}

    def reauthenticate(self) -> bool:
        self.mint()
        return True


class ApiKeyAuth:
    """``X-API-Key``; a 401 cannot be fixed by the client, so no replay."""

    def __init__(self, api_key: str) -> None:
        if not api_key:
            raise HishamOSConfigError("auth mode 'api_key' needs the connection field 'api_key'")
        self._headers = {"X-API-Key": api_key}

    def headers(self) -> dict[str, str]:
        return self._headers

    def reauthenticate(self) -> bool:
        return False
