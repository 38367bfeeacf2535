"""Connection secrets: checking them at load, every form they take on the wire, and Fernet values.

**Every form.** A credential leaves the worker raw, stripped, URL-encoded, JSON-escaped, inside a
base64 ``Basic`` header, and an error body or a library message may echo any of these.
``credential_forms`` lists them, ``SecretScrubber`` replaces them in text and structures (error
messages, test_connection output, XCom, audit records), and the hooks hand Airflow's masker the
forms we send (``sent_forms``): an echo reaches a message or a log line only through the scrubber.
``clean_credential`` strips a copy-pasted trailing newline or space at connection load and
refuses control characters inside a value, naming the field, never the value.

**Fernet values.**

Connections in the metadata database are encrypted by Airflow itself; connections defined in
environment variables (``AIRFLOW_CONN_*``) or a secrets file are not. For those, a password or
an extra value may be given as ``fernet:<token>``, encrypted with Airflow's Fernet key
(``[core] fernet_key``; a comma-separated list is a MultiFernet, so keys can be rotated: the
first key encrypts, any key decrypts). They are decrypted in one place, the secrets backend
:class:`airflow_provider_hisham.secrets_backend.FernetSecretsBackend`, so every hook gets plain
values; a ``fernet:`` value that reaches a hook undecrypted is refused (``require_plain``).

Produce a value (reads the secret from stdin so it stays out of shell history)::

    printf %s "$TOKEN" | python -m airflow_provider_hisham.secrets encrypt

Re-encrypt an existing value with the first (newest) key after a rotation::

    printf %s "fernet:..." | python -m airflow_provider_hisham.secrets rotate
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import os
import re
import sys
import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

PREFIX = "fernet:"
REDACTED = "***"
#: Shorter values are not scrubbed from text (they would match ordinary words); Airflow's masker
#: skips values under 5 characters for the same reason.
MIN_SCRUB_LENGTH = 4


class CredentialFormatError(ValueError):
    """A connection credential holds characters it cannot be sent with (names the field only)."""


def _has_control(value: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value)


def clean_credential(value: Any, field: str, where: str = "") -> tuple[str | None, bool]:
    """``(value without surrounding whitespace, whether it had some)``.

    A trailing newline or space is a copy-paste accident that HTTP libraries print raw in their
    header errors; a control character inside the value cannot be sent at all; a ``fernet:``
    value was not decrypted (``require_plain``). The error names the field (and ``where``, e.g.
    the connection), never the value.
    """
    if value is None:
        return None, False
    text = str(require_plain(value, field, where))
    stripped = text.strip()
    if _has_control(stripped):
        prefix = f"{where}: " if where else ""
        raise CredentialFormatError(f"{prefix}field {field!r} contains a control character (line break, tab, "
                                    "NUL...) inside the value; re-enter it without one")
    return stripped, stripped != text


def sent_forms(secret: str, users: Iterable[str] = ()) -> set[str]:
    """The forms ``secret`` takes in what we send, so in what a library may log about a request:
    raw and stripped, URL-encoded, JSON-escaped, and base64 ``user:secret`` (HTTP Basic)."""
    forms: set[str] = set()
    for s in {secret, secret.strip()}:
        if not s:
            continue
        forms.update({s, quote(s, safe=""), quote(s), quote_plus(s), json.dumps(s)[1:-1],
                      json.dumps(s, ensure_ascii=False)[1:-1]})
        for user in users:
            forms.add(base64.b64encode(f"{user}:{s}".encode()).decode())
    return {f for f in forms if f}


def credential_forms(secret: str, users: Iterable[str] = ()) -> set[str]:
    """Every form ``secret`` takes in what we send or an echo of it: the :func:`sent_forms`, and
    the ones only a server's echo produces (``repr``- and HTML-escaped, base64)."""
    forms = sent_forms(secret, users)
    for s in {secret, secret.strip()}:
        if s:
            forms.update({repr(s)[1:-1], html.escape(s), base64.b64encode(s.encode()).decode(),
                          base64.urlsafe_b64encode(s.encode()).decode()})
    return {f for f in forms if f}


_JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.(?P<signature>[\w-]{16,})")


def masker_form(form: str) -> str:
    """What Airflow's log masker gets for ``form``: a JWT's signature, anything else whole.

    Every copy of a token contains its signature and a token without it is refused, so masking
    the signature hides what matters; and the masker recompiles one regular expression over all
    its values on each new one, which for a 43-character signature is a sixth of the work of a
    whole token (a login's two JWTs were a third of an agent step's client time).
    """
    match = _JWT.fullmatch(form)
    return match["signature"] if match else form


class SecretScrubber:
    """Replaces every form of the secrets it was given with ``***``.

    Cheap when there is nothing to hide: ``scrub`` looks for each form as a plain substring and
    builds its one regular expression (longest form first) only when a text holds one.
    """

    def __init__(self) -> None:
        self._forms: set[str] = set()
        self._compiled: re.Pattern[str] | None = None
        self._withheld: dict[str, set[str]] = {}

    def add(self, secret: Any, users: Iterable[str] = (), *, sent: bool = True) -> set[str]:
        """Remember every form of ``secret``; returns what to hand Airflow's log masker: its
        :func:`sent_forms` not handed before, each as :func:`masker_form`.

        The echo-only forms stay out of the masker: a server's echo reaches a message or a log
        line only through :meth:`scrub`, and each masker value costs a recompile of the masker's
        one regular expression. For the same reason a secret we hold but have not sent yet
        (``sent=False``: a refresh token, until the access token needs refreshing, which most
        tasks never do) is scrubbed at once and handed to the masker by the ``add`` that says
        it is about to be sent.
        """
        if not isinstance(secret, str) or len(secret.strip()) < MIN_SCRUB_LENGTH:
            return set()
        new = {f for f in credential_forms(secret, users) if len(f) >= MIN_SCRUB_LENGTH} - self._forms
        if new:
            self._forms |= new
            self._compiled = None  # rebuilt on the next scrub: a login adds secrets, few scrubs follow
        masked = {masker_form(f) for f in new & sent_forms(secret, users)}
        if not sent:
            self._withheld.setdefault(secret, set()).update(masked)
            return set()
        return masked | self._withheld.pop(secret, set())

    @property
    def _pattern(self) -> re.Pattern[str] | None:
        if self._compiled is None and self._forms:
            # longest first, so a form is never half-replaced by a shorter one it contains
            self._compiled = re.compile("|".join(map(re.escape, sorted(self._forms, key=len, reverse=True))))
        return self._compiled

    @property
    def forms(self) -> frozenset[str]:
        return frozenset(self._forms)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def scrub(self, text: str) -> str:
        """``text`` with every known form replaced (no regular expression is built or run when
        none of them occurs: most texts scrubbed hold no secret)."""
        if not text or not self.contains_secret(text):
            return text
        return self._pattern.sub(REDACTED, text)

    def truncate(self, text: str, limit: int) -> str:
        """Scrub, then cut to ``limit`` characters without leaving the start of a secret at the cut."""
        text = self.scrub(text)
        if len(text) <= limit:
            return text
        text = text[:limit]
        for form in self._forms:
            for n in range(min(len(form) - 1, len(text)), MIN_SCRUB_LENGTH - 1, -1):
                if text.endswith(form[:n]):
                    text = text[: len(text) - n]
                    break
        return text

    def scrub_value(self, value: Any) -> Any:
        """A copy of a JSON-like structure with every string (keys too) scrubbed."""
        return scrub_all(value, (self,))

    def contains_secret(self, text: str) -> bool:
        return any(map(text.__contains__, self._forms))


def scrub_all(value: Any, scrubbers: Iterable[SecretScrubber]) -> Any:
    """``value`` (text or a JSON-like structure, keys too) scrubbed by each of ``scrubbers``, in
    one walk of the structure."""
    active = [s for s in scrubbers if s]
    return _walk(value, active) if active else value


def _scrub_text(text: str, active: list[SecretScrubber]) -> str:
    for s in active:
        text = s.scrub(text)
    return text


def _walk(value: Any, active: list[SecretScrubber]) -> Any:
    # module-level, not a closure: a recursive closure is a reference cycle that would keep every
    # scrubber it saw (and their secrets) alive until the next garbage collection
    if isinstance(value, str):
        return _scrub_text(value, active)
    if isinstance(value, dict):
        return {_scrub_text(k, active) if isinstance(k, str) else k: _walk(x, active) for k, x in value.items()}
    if isinstance(value, (list, tuple)):
        return [_walk(x, active) for x in value]
    return value


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


def require_plain(value: Any, field: str, where: str = "") -> Any:
    """``value`` unchanged, unless it is a ``fernet:`` value: then nothing decrypted it on the way
    to the hook, and sending it would only fail at the remote end. Refused with how to fix it."""
    if isinstance(value, str) and is_encrypted(value.strip()):
        prefix = f"{where}: " if where else ""
        raise CredentialFormatError(
            f"{prefix}field {field!r} is an encrypted fernet: value that was not decrypted; configure "
            "[secrets] backend = airflow_provider_hisham.secrets_backend.FernetSecretsBackend "
            "(or store the connection in Airflow's metadata database, which encrypts it itself)")
    return value


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
