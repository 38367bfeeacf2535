"""A secrets backend that hands every hook plain values for ``fernet:``-encrypted connections.

Connections kept in the metadata database are encrypted by Airflow itself. Connections given as
environment variables (``AIRFLOW_CONN_*``) or in a file are not, so their secrets may be written as
``fernet:<token>`` (see :mod:`airflow_provider_hisham.secrets` for the ``encrypt``/``rotate``
command). This backend is where they are decrypted: it sits first in Airflow's search path
(``[secrets] backend``), so every hook (this provider's, the github provider's ``GithubHook``,
an ``HttpHook``...) gets the plaintext, and Airflow masks it in logs.

Configuration (``airflow.cfg`` or ``AIRFLOW__SECRETS__BACKEND`` / ``AIRFLOW__SECRETS__BACKEND_KWARGS``)::

    [secrets]
    backend = airflow_provider_hisham.secrets_backend.FernetSecretsBackend
    backend_kwargs = {"connections_file_path": "/run/secrets/connections.json"}

``backend_kwargs`` (all optional):

* ``connections_file_path``: a JSON object ``{conn_id: URI or connection object}`` (the form of
  ``airflow connections export --format json``), read on each lookup, at most 1 MiB.
* ``variables_file_path``: a JSON object ``{key: value}``.
* ``environment``: also read ``AIRFLOW_CONN_*`` / ``AIRFLOW_VAR_*`` (default true); the file wins.

Decrypted are the password and every top-level string value of the extra that starts with
``fernet:`` (e.g. HishamOS ``jwt_secret`` / ``api_key``), and variable values, with
``[core] fernet_key`` (a comma-separated list rotates keys). A value that does not decrypt is an
``AirflowSecretsBackendAccessDenied`` naming the connection and field (never the value), so
Airflow does not fall through to a backend that would hand out the ciphertext.
"""

from __future__ import annotations

import json
import os
from typing import Any

from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied
from airflow.secrets import BaseSecretsBackend

from airflow_provider_hisham.secrets import SecretDecryptionError, decrypt_secret, is_encrypted

#: Largest connections/variables file read, in bytes.
MAX_FILE_BYTES = 1 << 20
CONN_ENV_PREFIX = "AIRFLOW_CONN_"
VAR_ENV_PREFIX = "AIRFLOW_VAR_"


class FernetBackendError(AirflowSecretsBackendAccessDenied):
    """A connection or variable this backend holds cannot be handed out (bad file, undecryptable
    value). Authoritative: Airflow must not fall through to a backend that returns ciphertext."""


class FernetSecretsBackend(BaseSecretsBackend):
    """Connections and variables from a JSON file and/or environment variables, ``fernet:`` values
    decrypted with Airflow's ``[core] fernet_key``."""

    def __init__(self, connections_file_path: str | None = None, variables_file_path: str | None = None,
                 environment: bool | str = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from airflow_provider_hisham.booleans import parse_bool

        self.connections_file_path = connections_file_path or None
        self.variables_file_path = variables_file_path or None
        self.environment = parse_bool(environment, "[secrets] backend_kwargs: environment")

    # -- lookups -----------------------------------------------------------------------------
    def get_conn_value(self, conn_id: str, team_name: str | None = None) -> str | None:
        """The connection's serialized value (URI or JSON) as written, before decryption."""
        value = self._lookup(self.connections_file_path, "connections", CONN_ENV_PREFIX, conn_id, team_name)
        if isinstance(value, dict):
            return json.dumps(value)
        if value is not None and not isinstance(value, str):
            raise FernetBackendError(f"connection {conn_id!r} in {self.connections_file_path}: expected a URI "
                                     f"string or an object, got {type(value).__name__}")
        return value

    def get_connection(self, conn_id: str, team_name: str | None = None) -> Any:
        """The connection with its password and ``fernet:`` extra values decrypted (and masked)."""
        value = self.get_conn_value(conn_id, team_name=team_name)
        if not value:
            return None
        try:
            conn = self.deserialize_connection(conn_id=conn_id, value=value)
            extra = conn.extra_dejson if conn.extra else {}
            extra = extra if isinstance(extra, dict) else {}
        except (ValueError, TypeError) as exc:
            # the library's message may quote the value: name the connection and the error type only
            raise FernetBackendError(f"connection {conn_id!r}: cannot be parsed ({type(exc).__name__}); "
                                     "expected a connection URI or JSON object") from None
        password = self._decrypt(conn.password, f"connection {conn_id!r}", "password")
        clear_extra = {k: self._decrypt(v, f"connection {conn_id!r}", f"extra.{k}") if isinstance(v, str) else v
                       for k, v in extra.items()}
        if password == conn.password and clear_extra == extra:
            return conn
        fields = {"conn_type": conn.conn_type, "description": conn.description, "host": conn.host,
                  "schema": conn.schema, "login": conn.login, "password": password, "port": conn.port,
                  "extra": clear_extra or None}
        return self.deserialize_connection(conn_id=conn_id, value=json.dumps(
            {k: v for k, v in fields.items() if v is not None}))

    def get_variable(self, key: str, team_name: str | None = None) -> str | None:
        """The variable's value, decrypted when it is a ``fernet:`` value."""
        value = self._lookup(self.variables_file_path, "variables", VAR_ENV_PREFIX, key, team_name)
        if value is not None and not isinstance(value, str):
            value = json.dumps(value)
        return self._decrypt(value, f"variable {key!r}", "value")

    # -- helpers -----------------------------------------------------------------------------
    def _lookup(self, path: str | None, what: str, prefix: str, key: str, team_name: str | None) -> Any:
        """The file's entry, else (with ``environment``) the team's and then the global variable,
        named as Airflow's own environment backend names them."""
        value = self._from_file(path, key, what)
        if value is None and self.environment:
            if team_name:
                value = os.environ.get(f"{prefix}_{team_name.upper()}___{key.upper()}")
            value = value or os.environ.get(prefix + key.upper())
        return value

    @staticmethod
    def _decrypt(value: str | None, where: str, field: str) -> str | None:
        if not is_encrypted(value):
            return value
        try:
            plain = decrypt_secret(value)
        except SecretDecryptionError as exc:
            raise FernetBackendError(f"{where}: field {field!r}: {exc}") from None
        if plain:
            from airflow.sdk.log import mask_secret

            mask_secret(plain)
        return plain

    @staticmethod
    def _from_file(path: str | None, key: str, what: str) -> Any:
        """``key``'s entry in the JSON object at ``path`` (None when there is no file or no entry)."""
        if not path:
            return None
        from airflow_provider_hisham.generation.errors import GenerationError
        from airflow_provider_hisham.generation.safe_load import load_json, read_bytes_bounded

        try:
            data = load_json(read_bytes_bounded(path, MAX_FILE_BYTES, f"{what} file"), path)
        except GenerationError as exc:
            raise FernetBackendError(f"[secrets] backend_kwargs {what}_file_path: {exc}") from None
        if not isinstance(data, dict):
            raise FernetBackendError(f"{path}: the {what} file must be a JSON object keyed by id, "
                                     f"not {type(data).__name__}")
        return data.get(key)
