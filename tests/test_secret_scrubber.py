"""SecretScrubber: every form is scrubbed; Airflow's masker gets the forms we send (JWTs as their
signature); no regular expression is built while no text holds a secret."""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote

import jwt

from airflow_provider_hisham.secrets import REDACTED, SecretScrubber, credential_forms, masker_form, scrub_all, sent_forms

PASSWORD = 'p@ss word&"<%'


def _token() -> str:
    return jwt.encode({"user_id": "u", "exp": 9999999999, "token_type": "access"}, "k" * 32, algorithm="HS256")


def test_every_form_is_scrubbed_but_only_sent_forms_go_to_the_masker():
    scrubber = SecretScrubber()
    masked = scrubber.add(PASSWORD, ("user@example.com",))
    echoes = [PASSWORD, quote(PASSWORD, safe=""), json.dumps(PASSWORD)[1:-1], html.escape(PASSWORD),
              base64.b64encode(PASSWORD.encode()).decode(),
              base64.b64encode(f"user@example.com:{PASSWORD}".encode()).decode()]
    for echo in echoes:
        assert scrubber.scrub(f"error: {echo} was wrong") == f"error: {REDACTED} was wrong", echo
    assert masked == sent_forms(PASSWORD, ("user@example.com",))
    assert html.escape(PASSWORD) not in masked and base64.b64encode(PASSWORD.encode()).decode() not in masked
    assert masked < credential_forms(PASSWORD, ("user@example.com",))
    assert scrubber.add(PASSWORD, ("user@example.com",)) == set()  # nothing new the second time


def test_a_jwt_goes_to_the_masker_as_its_signature_and_is_scrubbed_whole():
    token = _token()
    scrubber = SecretScrubber()
    assert scrubber.add(token) == {token.rsplit(".", 1)[1]}
    assert scrubber.scrub(f"Bearer {token}") == f"Bearer {REDACTED}"
    assert masker_form(token) == token.rsplit(".", 1)[1]
    assert masker_form("not.a.jwt") == "not.a.jwt" and masker_form(PASSWORD) == PASSWORD


def test_a_held_secret_is_scrubbed_at_once_and_masked_when_it_is_sent():
    token = _token()
    scrubber = SecretScrubber()
    assert scrubber.add(token, sent=False) == set()  # held (a refresh token): not in Airflow's masker yet
    assert scrubber.scrub(f"body {token}") == f"body {REDACTED}"
    assert scrubber.add(token) == {token.rsplit(".", 1)[1]}  # about to be sent: now it is
    assert scrubber.add(token) == set()


def test_scrub_all_leaves_no_cycle_holding_the_scrubbers():
    """A recursive closure would keep every scrubber (and its secrets) alive until a collection."""
    import gc
    import weakref

    scrubber = SecretScrubber()
    scrubber.add("some-secret-value")
    alive = weakref.ref(scrubber)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        assert scrub_all({"k": ["some-secret-value"]}, (scrubber,)) == {"k": [REDACTED]}
        del scrubber
        assert alive() is None
    finally:
        if was_enabled:
            gc.enable()


def test_no_pattern_is_built_until_a_text_holds_a_secret():
    scrubber = SecretScrubber()
    scrubber.add(_token())
    assert scrubber.scrub("GET /api/v1/agents/ 200") == "GET /api/v1/agents/ 200"
    assert scrubber._compiled is None
    assert scrubber.scrub(f"x {_token()[:10]}") == f"x {_token()[:10]}"  # a prefix is not the secret
    assert not scrubber.contains_secret("nothing here")


def test_scrub_all_walks_once_with_every_scrubber():
    a, b = SecretScrubber(), SecretScrubber()
    a.add("first-secret-value")
    b.add("second-secret-value")
    value = {"first-secret-value": ["second-secret-value", ("x", 1)], "n": None, "t": True}
    assert scrub_all(value, (a, b, SecretScrubber())) == {REDACTED: [REDACTED, ["x", 1]], "n": None, "t": True}
    assert scrub_all(value, ()) is value
    assert a.scrub_value(value) == {REDACTED: ["second-secret-value", ["x", 1]], "n": None, "t": True}
