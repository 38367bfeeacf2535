"""``python -m scripts.report`` reads the suites' result files and fails on what did not hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts import report


@pytest.fixture
def artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(report, "ARTIFACTS", tmp_path)
    monkeypatch.setattr(report, "SCAN_SECRETS", tmp_path / ".scan" / "secrets.json")
    monkeypatch.setattr(report, "SECURITY_JUNIT", tmp_path / "security-junit.xml")
    (tmp_path / ".scan").mkdir()
    (tmp_path / ".scan" / "secrets.json").write_text(json.dumps(["tok-0123456789", "p@ss word!"]))
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "run.log").write_text("task ran, token ***\n")
    return tmp_path


def _faults(survived: bool) -> dict:
    return {"cases": {"t1": {"faults": [{"target": "hishamos", "kind": "503", "served": 2}], "survived": True},
                      "t2": {"faults": [{"target": "hishamos", "kind": "503", "served": 1}], "survived": survived}}}


def test_fault_rows_count_served_faults_and_the_survivors():
    rows, ok = report.fault_rows(_faults(survived=False))
    assert rows == [["hishamos: 503", "3", "2", "2"], ["TOTAL", "3", "2", "2"]] and not ok
    assert report.fault_rows(_faults(survived=True))[1]


def test_security_rows_count_parametrized_corpus_cases_only(artifacts):
    (artifacts / "security-junit.xml").write_text(
        '<testsuites><testsuite>'
        '<testcase classname="tests.security.test_x_corpus" name="test_refused[a]"/>'
        '<testcase classname="tests.security.test_x_corpus" name="test_refused[b]"><failure/></testcase>'
        '<testcase classname="tests.security.test_x_corpus" name="test_corpus_is_big"/>'
        '</testsuite></testsuites>')
    rows, ok = report.security_rows()
    assert rows == [["test_x_corpus", "2", "1"], ["TOTAL", "2", "1"]] and not ok


def test_secret_scan_finds_plain_and_url_encoded_credentials(artifacts):
    rows, ok = report.secret_rows()
    assert ok and ["secrets found", "0"] in rows
    (artifacts / "logs" / "leak.log").write_text("url http://x:p%40ss%20word%21@host\n")
    rows, ok = report.secret_rows()
    assert not ok and ["secrets found", "1"] in rows and ["  in", "logs/leak.log"] in rows


def test_missing_results_do_not_pass(artifacts, capsys):
    assert report.main(["--no-run"]) == 1
    out = capsys.readouterr().out
    assert "no results" in out and "NOT ALL HELD" in out
