"""The clients' event seam: listeners see events while registered; a failing one breaks nothing."""

from __future__ import annotations

import logging

from airflow_provider_hisham.observability import events


def test_listeners_get_events_only_while_listening_and_failures_are_logged(caplog):
    seen = []

    def broken(event):
        raise RuntimeError("observer bug")

    assert not events.active()
    events.emit(events.API_CALL, method="GET")  # nobody listens: nothing happens
    with events.listening(seen.append), events.listening(broken), caplog.at_level(logging.ERROR):
        assert events.active()
        events.emit(events.API_CALL, method="GET", status=200)
    events.emit(events.API_CALL, method="POST")
    assert [(e.kind, e.fields) for e in seen] == [(events.API_CALL, {"method": "GET", "status": 200})]
    assert "observer bug" in caplog.text
    assert not events.active()
