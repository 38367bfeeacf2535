"""Fernet-encrypted connection secrets (``fernet:`` values) and the command that makes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from airflow_provider_hisham.secrets import (
    SecretDecryptionError,
    decrypt_secret,
    encrypt_secret,
    rotate_secret,
)
from tests.conftest import REPO_ROOT

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_plain_values_pass_through():
    assert decrypt_secret("plain-token", OLD) == "plain-token"
    assert decrypt_secret(None, OLD) is None


def test_round_trip_and_key_rotation():
    value = encrypt_secret("s3cret-token", OLD)
    assert value.startswith("fernet:") and "s3cret-token" not in value
    assert decrypt_secret(value, OLD) == "s3cret-token"
    # Rotation: the new key goes first; values made with the old key still decrypt...
    assert decrypt_secret(value, f"{NEW},{OLD}") == "s3cret-token"
    # ...and `rotate` re-encrypts them with the new key, after which the old key can go.
    rotated = rotate_secret(value, f"{NEW},{OLD}")
    assert decrypt_secret(rotated, NEW) == "s3cret-token"
    with pytest.raises(SecretDecryptionError, match="could not be decrypted with any configured Fernet key"):
        decrypt_secret(rotated, OLD)


def test_default_key_is_airflows(monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", f"{NEW},{OLD}")
    assert decrypt_secret(encrypt_secret("tok", OLD)) == "tok"
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", "")
    with pytest.raises(SecretDecryptionError, match="no Fernet key configured"):
        decrypt_secret("fernet:abc")


def test_cli_encrypts_from_stdin():
    env = {**os.environ, "AIRFLOW__CORE__FERNET_KEY": OLD, "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run([sys.executable, "-m", "airflow_provider_hisham.secrets", "encrypt"], input="tok-123\n",
                         capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert out.startswith("fernet:") and decrypt_secret(out, OLD) == "tok-123"
    bad = subprocess.run([sys.executable, "-m", "airflow_provider_hisham.secrets", "rotate"], input="plain",
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "rotate expects" in bad.stderr


def test_an_undecrypted_value_is_refused_by_the_credential_readers():
    from airflow_provider_hisham.secrets import CredentialFormatError, clean_credential, require_plain

    value = encrypt_secret("tok-123", OLD)
    assert require_plain("plain", "password") == "plain" and require_plain(None, "password") is None
    with pytest.raises(CredentialFormatError, match="connection 'c': field 'api_key' is an encrypted fernet: value "
                                                    "that was not decrypted; configure \\[secrets\\] backend = "
                                                    "airflow_provider_hisham.secrets_backend.FernetSecretsBackend") as info:
        clean_credential(f" {value}\n", "api_key", "connection 'c'")
    assert value not in str(info.value)


def test_the_hishamos_hook_refuses_an_undecrypted_password(hishamos, monkeypatch):
    from airflow_provider_hisham.api.errors import HishamOSConfigError
    from airflow_provider_hisham.hooks.hishamos import HishamOSHook

    conn = hishamos.connection("password")
    conn["password"] = encrypt_secret(conn["password"], OLD)
    monkeypatch.setenv("AIRFLOW_CONN_HISHAMOS_ENC", json.dumps(conn))
    with pytest.raises(HishamOSConfigError, match="field 'password' is an encrypted fernet: value that was not decrypted"):
        HishamOSHook("hishamos_enc").get_conn()
