"""Fenced blocks and JSON answers; the step result's keys."""

from __future__ import annotations

from airflow_provider_hisham.agents import BASE_KEYS, iter_fences, parse_json_answer, step_result


def test_fences_follow_commonmark():
    text = ("intro\n```python src/a.py\nx = 1\n```\n   ~~~~ md\n```not closing\n~~~~~\n"
            "    ```indented code, not a fence\n````\ninner ```\n```\n````\n``` info with ` backtick\n```tail")
    fences = list(iter_fences(text))
    assert [(f.info, f.body, f.line, f.closed) for f in fences] == [
        ("python src/a.py", "x = 1", 2, True),
        ("md", "```not closing", 5, True),
        ("", "inner ```\n```", 9, True),
        ("tail", "", 14, False),
    ]


def test_crlf_and_empty_text():
    assert [(f.info, f.body) for f in iter_fences("```json\r\n{}\r\n```\r\n")] == [("json", "{}")]
    assert list(iter_fences("")) == []


def test_json_answers():
    assert parse_json_answer(' {"a": 1} ') == (True, {"a": 1})
    assert parse_json_answer("[1, 2]") == (True, [1, 2])
    assert parse_json_answer('Here:\n```json\n{"severity": 3}\n```\nbye') == (True, {"severity": 3})
    assert parse_json_answer('```json\n{"a": 1}\n```\n```json\n{"b": 2}\n```') == (False, None)  # ambiguous
    assert parse_json_answer('```python\n{"a": 1}\n```') == (False, None)
    assert parse_json_answer("42") == (False, None)  # plain text stays text
    assert parse_json_answer('{"a": NaN}') == (False, None)
    assert parse_json_answer("[" * 100_000 + "]" * 100_000) == (False, None)
    assert parse_json_answer("{not json") == (False, None)


def test_step_result_keys():
    answer = {"success": True, "output": '{"severity": 4, "tags": ["x"]}', "response": "...",
              "execution_time": 41.0, "cost": "0.000120", "token_usage": {"tokens_used": 6}, "agent_used": "b"}
    result = step_result(answer, "bug-triage-agent")
    assert result == {"text": answer["output"], "content": answer["output"], "success": True, "cost": 0.00012,
                      "tokens_used": 6, "execution_time": 41.0, "agent": "bug-triage-agent", "severity": 4,
                      "tags": ["x"]}
    clash = step_result({"output": '{"success": false, "deployment_id": "d"}'}, "devops-agent")
    assert clash["success"] is True and clash["deployment_id"] == "d"
    assert clash["json"] == {"success": False, "deployment_id": "d"}
    listed = step_result({"output": "[1, 2]"}, "x")
    assert listed["json"] == [1, 2] and set(listed) == {*BASE_KEYS, "json"}
    plain = step_result({"response": "hello", "tokens_used": "7"}, "x")
    assert plain["text"] == "hello" and plain["tokens_used"] == 7 and set(plain) == set(BASE_KEYS)
