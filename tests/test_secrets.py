"""Fernet-encrypted connection secrets (``fernet:`` values) and the command that makes them."""

from __future__ import annotations

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
