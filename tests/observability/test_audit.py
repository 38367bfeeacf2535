"""Audit records: one JSON line each, never a credential."""

from __future__ import annotations

import json
import logging

from airflow_provider_hisham.observability import audit

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def test_a_record_is_one_json_line_without_secrets(caplog):
    from airflow_provider_hisham.secrets import SecretScrubber

    client = SecretScrubber()  # a client's (e.g. the HishamOS hook's) scrubber
    audit.watch(client)
    client.add("s3cret-Token-value")
    who = audit.Who("alice@example.com", "d", "r", "t", -1, 1)
    rec = audit.record("api_call", who, "GET /api/v1/projects/{id}/", "http://h/api/v1/projects/s3cret-Token-value/",
                       "ok", 12.3456, password="hunter22", note=f"token {JWT}", long="x" * 5000)
    with caplog.at_level(logging.INFO, logger=audit.LOGGER_NAME):
        audit.write(rec)
    [line] = [r.getMessage() for r in caplog.records if r.name == audit.LOGGER_NAME]
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["event"] == "api_call" and parsed["result"] == "ok" and parsed["duration_ms"] == 12.346
    assert parsed["who"] == {"user": "alice@example.com", "dag_id": "d", "run_id": "r", "task_id": "t",
                             "map_index": -1, "try_number": 1}
    for secret in ("s3cret-Token-value", "hunter22", JWT):
        assert secret not in line
    assert len(parsed["details"]["long"]) < 2100


def test_clients_secrets_are_kept_for_the_step_then_forgotten():
    import gc

    from airflow_provider_hisham.secrets import SecretScrubber

    with audit.keeping_clients():
        client = SecretScrubber()
        audit.watch(client)
        client.add("gone-with-the-hook")
        del client
        gc.collect()
        assert audit.clean("x gone-with-the-hook") == "x ***"  # the step's last records are still scrubbed
    gc.collect()
    # nothing accumulates in a long-lived process (a dag.test() session, a worker)
    assert audit.clean("x gone-with-the-hook") == "x gone-with-the-hook"


def test_outputs_of_finished_steps():
    who = audit.Who()
    gen = audit.step_records("file_generation", who, {"total_files": 3, "total_bytes": 10, "output_dir": "/o",
                                                      "generated_project_id": "g1"}, 1.0)
    assert [e[0] for e in gen] == ["file_batch", "record_registered"]
    exp = audit.step_records("repo_creation", who, {"archive_path": "/a.zip", "repository_export_id": "x",
                                                    "pull_request_url": "https://h/pr/1"}, 1.0)
    assert [e[0] for e in exp] == ["archive", "request_opened", "record_registered"]
    assert audit.step_records("agent", who, "text", 1.0) == []
