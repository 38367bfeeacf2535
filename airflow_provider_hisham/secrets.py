"""Fernet-encrypted secret values for connections that Airflow stores in plaintext.

Connections in the metadata database are encrypted by Airflow itself; connections defined in
environment variables (``AIRFLOW_CONN_*``) or secrets backends are not. For those, a password or
token may be given as ``fernet:<token>``: it is decrypted with Airflow's Fernet key
(``[core] fernet_key``; a comma-separated list is a MultiFernet, so keys can be rotated: the
first key encrypts, any key decrypts). Any other value is returned unchanged.

Produce a value (reads the secret from stdin so it stays out of shell history)::

    printf %s "$TOKEN" | python -m airflow_provider_hisham.secrets encrypt

Re-encrypt an existing value with the first (newest) key after a rotation::

    printf %s "fernet:..." | python -m airflow_provider_hisham.secrets rotate
"""

from __future__ import annotations

import argparse
import os
import sys

PREFIX = "fernet:"


class SecretDecryptionError(ValueError):
    """A ``fernet:`` value could not be decrypted with the configured Fernet key(s)."""


def _keys(keys: str | None) -> str:
    if keys is None:
        keys = os.environ.get("AIRFLOW__CORE__FERNET_KEY")
    if keys is None:
        try:
            from airflow.configuration import conf  # lazy: honours fernet_key_cmd / _secret too

            keys = conf.get("core", "fernet_key", fallback="")
        except Exception:  # noqa: BLE001 - Airflow missing or unconfigured: same clear error below
            keys = ""
    if not keys or not keys.strip():
        raise SecretDecryptionError(
            "no Fernet key configured: set [core] fernet_key (AIRFLOW__CORE__FERNET_KEY) to use fernet: values"
        )
    return keys


def _fernet(keys: str | None):
    from cryptography.fernet import Fernet, MultiFernet

    try:
        return MultiFernet([Fernet(k.strip().encode()) for k in _keys(keys).split(",") if k.strip()])
    except ValueError as exc:
        raise SecretDecryptionError(f"invalid Fernet key in [core] fernet_key: {exc}") from None


def is_encrypted(value: str | None) -> bool:
    return bool(value) and value.startswith(PREFIX)


def decrypt_secret(value: str | None, keys: str | None = None) -> str | None:
    """Plain text of ``value``: ``fernet:<token>`` is decrypted, anything else passes through."""
    if not is_encrypted(value):
        return value
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(keys).decrypt(value[len(PREFIX):].strip().encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError(
            "a fernet: secret could not be decrypted with any configured Fernet key "
            "(was it encrypted with a key that is no longer in [core] fernet_key?)"
        ) from None


def encrypt_secret(value: str, keys: str | None = None) -> str:
    """``fernet:<token>`` for ``value``, encrypted with the first configured key."""
    return PREFIX + _fernet(keys).encrypt(value.encode()).decode()


def rotate_secret(value: str, keys: str | None = None) -> str:
    """Re-encrypt a ``fernet:`` value with the first key (after adding a new key in front)."""
    if not is_encrypted(value):
        raise SecretDecryptionError("rotate expects a value starting with 'fernet:'")
    from cryptography.fernet import InvalidToken

    try:
        return PREFIX + _fernet(keys).rotate(value[len(PREFIX):].strip().encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError("the value cannot be decrypted with any configured Fernet key") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_hisham.secrets",
                                     description="Encrypt connection secrets with Airflow's Fernet key.")
    parser.add_argument("command", choices=["encrypt", "rotate"])
    parser.add_argument("--key", help="Fernet key(s), comma-separated; default: Airflow's [core] fernet_key")
    args = parser.parse_args(argv)
    value = sys.stdin.read().rstrip("\r\n")
    if not value:
        parser.error("give the secret on stdin")
    try:
        out = encrypt_secret(value, args.key) if args.command == "encrypt" else rotate_secret(value, args.key)
    except SecretDecryptionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
