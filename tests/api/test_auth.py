"""Auth strategies (plain Python; login/refresh are fakes standing in for the HTTP calls)."""

from __future__ import annotations

import jwt
import pytest

from airflow_provider_hisham.api.auth import ApiKeyAuth, JwtSecretAuth, PasswordAuth, token_times
from airflow_provider_hisham.api.errors import HishamOSAPIError, HishamOSConfigError

SECRET = "s" * 40
USER = "6b1b3c51-93a4-4a8a-9a0e-4d2f0f2f7a11"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _token(clock: Clock, lifetime: float, kind: str = "access") -> str:
    return jwt.encode({"token_type": kind, "exp": int(clock.now + lifetime), "iat": int(clock.now), "jti": "j",
                       "user_id": USER}, SECRET, algorithm="HS256")


@pytest.fixture
def clock():
    return Clock()


def test_password_auth_refreshes_ahead_of_expiry_and_relogs_when_refresh_is_rejected(clock):
    calls: list[str] = []
    masked: list[str] = []
    refresh_ok = [True]

    def login(email, password):
        calls.append("login")
        return {"access": _token(clock, 1800), "refresh": _token(clock, 86400, "refresh")}

    def refresh(token):
        calls.append("refresh")
        if not refresh_ok[0]:
            raise HishamOSAPIError(401, "Token is blacklisted")
        return {"access": _token(clock, 1800), "refresh": _token(clock, 86400, "refresh")}

    auth = PasswordAuth("a@x", "pw", login=login, refresh=refresh, on_secret=masked.append, clock=clock)
    first = auth.headers()
    assert calls == ["login"] and auth.headers() == first and set(masked) >= {first["Authorization"][7:]}
    clock.now += 1800 - 59  # inside the 60 s margin
    second = auth.headers()
    assert calls == ["login", "refresh"] and second != first
    refresh_ok[0] = False
    assert auth.reauthenticate() and calls == ["login", "refresh", "refresh", "login"]


def test_password_auth_needs_credentials():
    with pytest.raises(HishamOSConfigError, match="Login"):
        PasswordAuth("", "", login=lambda *a: {}, refresh=lambda t: {})


def test_jwt_auth_mints_short_lived_tokens_with_the_required_claims(clock):
    auth = JwtSecretAuth(SECRET, USER, clock=clock)
    token = auth.headers()["Authorization"].split()[1]
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False})
    assert claims["token_type"] == "access" and claims["user_id"] == USER
    assert claims["exp"] - claims["iat"] == 300 and len(claims["jti"]) == 32
    assert auth.headers()["Authorization"].endswith(token) and auth.minted == 1
    clock.now += 290
    assert not auth.headers()["Authorization"].endswith(token) and auth.minted == 2
    assert token_times(token) == (claims["exp"], claims["iat"])


def test_jwt_auth_validates_its_inputs():
    with pytest.raises(HishamOSConfigError, match="jwt_secret"):
        JwtSecretAuth("", USER)
    with pytest.raises(HishamOSConfigError, match="default_user_id"):
        JwtSecretAuth(SECRET, None)
    with pytest.raises(HishamOSConfigError, match="not a UUID"):
        JwtSecretAuth(SECRET, "bob")


def test_api_key_auth():
    auth = ApiKeyAuth("k")
    assert auth.headers() == {"X-API-Key": "k"} and auth.reauthenticate() is False
    with pytest.raises(HishamOSConfigError):
        ApiKeyAuth("")
