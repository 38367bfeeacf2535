"""The ``approval`` step: the summary a reviewer sees (bounded, escaped), the decision it records,
and the operator's checks of its config."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from airflow_provider_hisham.publishing.summary import (
    PublishSummaryError,
    build_summary,
    decision_from_response,
    escape_markdown,
)

HOSTILE_NAMES = [
    "[click](https://evil.example/steal).md",
    "![img](https://evil.example/x.png)",
    "<img src=x onerror=alert(1)>.html",
    "<script>alert(1)</script>",
    "www.evil.example",
    "https:__evil.example_path",
    "&lt;b&gt;entity&lt;_b&gt;",
    "**bold** _em_ `code`",
    "name\u202eexe.txt",
    "# heading",
    "1. list",
]


def _html(markdown: str) -> str:
    md = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable(["table", "strikethrough"])
    return md.render(markdown)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_value_renders_as_its_literal_text(name):
    html = _html(f"- {escape_markdown(name)}")
    for tag in ("<a", "<img", "<script", "<strong", "<em", "<code", "<h1", "<ol"):
        assert tag not in html, (name, html)
    shown = name.replace("\u202e", "U+202E")
    assert MarkdownIt("commonmark").parseInline(escape_markdown(name))[0].children[0].content == shown


def test_a_long_value_is_cut_and_control_characters_are_named():
    assert escape_markdown("x" * 1000).endswith("x …")
    assert len(escape_markdown("x" * 1000)) < 310
    assert escape_markdown("a\nb\x00") == "aU\\+000AbU\\+0000"


def test_the_summary_lists_the_first_files_counts_the_rest_and_skips_git(tmp_path):
    for i in range(250):
        (tmp_path / f"f{i:03}.txt").write_text("x" * 10)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref")
    for name in HOSTILE_NAMES[:5]:
        (tmp_path / name.replace("/", "_")).write_text("y")
    summary = build_summary({"output_dir": str(tmp_path)}, target="git", branch="main",
                            story={"number": "STORY-7", "title": "[x](https://evil.example)"})
    assert summary.files.total_files == 255 and summary.files.total_bytes == 2505
    assert len(summary.files.listed) == 200 and summary.files.listed == sorted(summary.files.listed)
    assert not any(name.startswith(".git") for name in summary.files.listed)
    body = summary.markdown()
    assert "… and 55 more" in body and "first 200 of 255" in body
    assert "STORY\\-7 \\- \\[x\\]\\(https\\:\\/\\/evil\\.example\\)" in body
    assert "Target: git" in body and "Branch: main" in body
    html = _html(body)
    assert "<a" not in html and "<img" not in html and "<script" not in html
    assert summary.as_dict()["total_files"] == 255


def test_the_summary_refuses_a_missing_project(tmp_path):
    with pytest.raises(PublishSummaryError, match="is not a folder"):
        build_summary(str(tmp_path / "missing"))
    with pytest.raises(PublishSummaryError, match="no output_dir"):
        build_summary({"total_files": 3})


def test_a_decision_records_who_and_why():
    from datetime import datetime, timezone

    at = datetime(2026, 1, 2, tzinfo=timezone.utc)
    rejected = decision_from_response(["Reject"], {"reason": "tests missing"}, {"id": "u1", "name": "Ann"}, at, False, "Approve")
    assert rejected.as_dict() == {"approved": False, "decision": "rejected", "responded_by": {"id": "u1", "name": "Ann"},
                                  "reason": "tests missing", "responded_at": at.isoformat(), "timed_out": False}
    assert rejected.log_line() == "Rejected by Ann (id u1): tests missing"
    timed_out = decision_from_response(["Reject"], {}, None, at, True, "Approve")
    assert timed_out.log_line() == "Rejected by the timeout default (no reason given)"


def test_on_timeout_and_assigned_users_are_checked():
    from airflow_provider_hisham.operators.approval import HishamOSApprovalOperator

    with pytest.raises(ValueError, match="on_timeout must be one of reject, approve, fail"):
        HishamOSApprovalOperator(task_id="a", project="/x", on_timeout="maybe")
    with pytest.raises(ValueError, match="assigned_users"):
        HishamOSApprovalOperator(task_id="a", project="/x", assigned_users=[{"name": "no id"}])
    op = HishamOSApprovalOperator(task_id="a", project="/x", assigned_users=["ann"], on_timeout="approve",
                                 response_timeout_seconds=60)
    assert op.assigned_users == [{"id": "ann", "name": "ann"}] and op.defaults == ["Approve"]
    assert HishamOSApprovalOperator(task_id="b", project="/x", on_timeout="fail").defaults is None
