"""Agent answers: fenced blocks, JSON found in the text, and the step result built from them.

Agents answer text. Many answer JSON, either as the whole text or in one fenced ```` ```json ````
block amid prose; its top-level keys become keys of the step result, so a later step can use
``{{ steps.triage.output.severity }}``. The fence scanner follows CommonMark's rules (up to 3
spaces of indent, 3+ backticks or tildes, a closing fence of the same character at least as
long), is linear in the text, and is shared with :mod:`airflow_provider_hisham.agents.files`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: Keys every agent step result has; parsed JSON keys never replace them.
BASE_KEYS = ("text", "content", "success", "cost", "tokens_used", "execution_time", "agent")
#: Where a JSON answer goes when it is not an object, or when one of its keys is a base key.
JSON_KEY = "json"

_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")


@dataclass(frozen=True)
class Fence:
    """One fenced block: its info string, its body, the 1-based line of its opening fence."""

    info: str
    body: str
    line: int
    closed: bool


def iter_fences(text: str) -> Iterator[Fence]:
    """The top-level fenced blocks of ``text`` in order (a fence inside a longer fence is body)."""
    lines = text.split("\n")
    i, n = 0, len(lines)
    while i < n:
        match = _OPEN.fullmatch(lines[i].rstrip("\r"))
        if match is None or (match.group(1)[0] == "`" and "`" in match.group(2)):
            i += 1
            continue
        char, width, start = match.group(1)[0], len(match.group(1)), i
        body: list[str] = []
        closed = False
        i += 1
        while i < n:
            line = lines[i].rstrip("\r")
            rest = line.lstrip(" ")
            run = len(rest) - len(rest.lstrip(char))
            i += 1
            if len(line) - len(rest) <= 3 and run >= width and not rest[run:].strip():
                closed = True
                break
            body.append(line)
        yield Fence(match.group(2).strip(), "\n".join(body), start + 1, closed)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(text: str) -> tuple[bool, Any]:
    """``(True, value)`` for strict JSON (no NaN/Infinity), ``(False, None)`` otherwise (also when
    nested too deeply to parse)."""
    try:
        return True, json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return False, None


def parse_json_answer(text: str) -> tuple[bool, Any]:
    """JSON in an answer: the whole text (an object or array), else the one fenced ``json`` block."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        found, value = loads(stripped)
        if found:
            return True, value
    blocks = [f for f in iter_fences(text) if f.closed and f.info.split()[:1] == ["json"]]
    if len(blocks) == 1:
        return loads(blocks[0].body)
    return False, None


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def answer_text(answer: Mapping[str, Any]) -> str:
    text = answer.get("output")
    if text is None:
        text = answer.get("response")
    if text is None:
        return ""
    return text if isinstance(text, str) else json.dumps(text, default=str)


def answer_tokens(answer: Mapping[str, Any]) -> int:
    usage = answer.get("token_usage")
    raw = usage.get("tokens_used") if isinstance(usage, Mapping) else answer.get("tokens_used")
    return int(_number(raw))


def step_result(answer: Mapping[str, Any], agent: str) -> dict[str, Any]:
    """``{"text", "content", "success", "cost", "tokens_used", "execution_time" (ms), "agent"}`` plus
    the keys of a JSON object answer (a non-object, or an object with a base key, is also under ``json``)."""
    text = answer_text(answer)
    result: dict[str, Any] = {
        "text": text, "content": text, "success": bool(answer.get("success", True)),
        "cost": _number(answer.get("cost")), "tokens_used": answer_tokens(answer),
        "execution_time": _number(answer.get("execution_time")), "agent": agent,
    }
    found, value = parse_json_answer(text)
    if not found:
        return result
    if isinstance(value, dict):
        result.update({k: v for k, v in value.items() if k not in BASE_KEYS})
        if not any(k in BASE_KEYS for k in value):
            return result
    result[JSON_KEY] = value
    return result
