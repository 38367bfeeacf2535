"""Bound the work of a param's JSON Schema ``pattern`` (regular expressions are hostile too).

Airflow validates a DAG-run conf against each Param's schema with jsonschema, whose ``pattern``
is Python's backtracking ``re.search`` over the whole value: ``^(\\w+\\s?)*$`` hangs on 30
characters, and even ``\\w*\\w*@`` takes 30 s on 2,000. So a param's pattern must have:

- at most MAX_PATTERN_CHARS characters, no backreferences or conditionals;
- no nested quantifier: a repeated group (``*``, ``+``, ``{m,n}``) may not itself contain a
  quantifier or an alternation (``(a+)+``, ``(a|ab)*``, ``(\\w+\\s?)*``: write ``[\\w\\s]*``);

and it only ever sees at most ``n`` characters. Without nested quantifiers, a search costs at most
about ``n ** (k + 1)`` steps for ``k`` repeating quantifiers (``n ** k`` when anchored with ``^``);
``n`` is the largest length keeping that under PATTERN_STEPS (at most MAX_PATTERN_INPUT): a
``maxLength`` above it is refused, a missing one is set to it. Longer values are refused by
``maxLength`` before the pattern runs (the pattern moves under ``if: {maxLength} then:``).
"""

from __future__ import annotations

import re
from typing import Any

MAX_PATTERN_CHARS = 256
MAX_PATTERN_INPUT = 10_000
PATTERN_STEPS = 10**8  # ~0.3 s of re's backtracking

_VALUE_KEYS = frozenset({"default", "const", "enum", "examples", "values_display", "description", "title"})
_BRACES = re.compile(r"\{(\d*)(,?)(\d*)\}")


class UnsafePatternError(ValueError):
    """A pattern whose matching time cannot be bounded; the message says why and what to write."""


def _group_start(pattern: str, i: int) -> tuple[int, bool]:
    """Skip a group's opening; (next index, whether it opens a group at all)."""
    if not pattern.startswith("(?", i):
        return i + 1, True
    rest = pattern[i + 2:]
    if rest.startswith("P="):
        raise UnsafePatternError("backreferences ((?P=name)) are not allowed")
    if rest.startswith("("):
        raise UnsafePatternError("conditional groups ((?(1)...)) are not allowed")
    if rest.startswith("P<"):
        return pattern.index(">", i) + 1, True
    if rest[:1] in (":", "=", "!", ">"):
        return i + 3, True
    if rest.startswith(("<=", "<!")):
        return i + 4, True
    if rest.startswith("#"):  # a comment: not a group
        return pattern.index(")", i) + 1, False
    j = i + 2
    while j < len(pattern) and pattern[j] not in ":)":
        j += 1
    return (j + 1, pattern[j:j + 1] == ":")  # (?i) sets flags; (?i:...) is a group


def analyse(pattern: str) -> tuple[int, bool]:
    """(repeating quantifiers, anchored at the start) of a safe pattern; UnsafePatternError else."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise UnsafePatternError(f"a pattern may have at most {MAX_PATTERN_CHARS} characters, this one has {len(pattern)}")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise UnsafePatternError(f"not a regular expression: {exc}") from None
    frames: list[dict] = [{"quantified": False, "alternation": False}]
    last: Any = None  # "atom", a closed group's frame, or None (nothing to quantify)
    repeats, i = 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if pattern[i + 1:i + 2] in tuple("123456789"):
                raise UnsafePatternError("backreferences (\\1) are not allowed")
            last, i = "atom", i + 2
        elif char == "[":
            j = i + 1 + (pattern[i + 1:i + 2] == "^")
            j += pattern[j:j + 1] == "]"
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            last, i = "atom", j + 1
        elif char == "(":
            i, is_group = _group_start(pattern, i)
            if is_group:
                frames.append({"quantified": False, "alternation": False})
            last = None
        elif char == ")":
            frame = frames.pop()
            frames[-1]["quantified"] |= frame["quantified"]
            frames[-1]["alternation"] |= frame["alternation"]
            last, i = frame, i + 1
        elif char == "|":
            frames[-1]["alternation"] = True
            last, i = None, i + 1
        elif char in "*+?" or (char == "{" and _BRACES.match(pattern, i)):
            if char == "{":
                low, comma, high = _BRACES.match(pattern, i).groups()
                i += len(_BRACES.match(pattern, i).group(0))
                many = bool(comma) or int(low or 0) > 1
                repeating = bool(comma) and (not high or int(high) > int(low or 0))
            else:
                i += 1
                many = repeating = char != "?"
            if pattern[i:i + 1] in ("?", "+"):  # lazy or possessive
                i += 1
            if isinstance(last, dict) and many and (last["quantified"] or last["alternation"]):
                raise UnsafePatternError(
                    "a repeated group may not contain a quantifier or '|' (nested quantifiers backtrack "
                    "exponentially); use a character class, e.g. [\\w\\s]* instead of (\\w+\\s?)*"
                )
            frames[-1]["quantified"] = True
            repeats += repeating
            last = None
        else:
            last, i = "atom", i + 1
    anchored = pattern.startswith(("^", "\\A")) and not frames[0]["alternation"]
    return repeats, anchored


def max_input(pattern: str) -> int:
    """The longest value ``pattern`` may be searched in (see the module docstring)."""
    repeats, anchored = analyse(pattern)
    power = repeats + (0 if anchored else 1)
    if power == 0:
        return MAX_PATTERN_INPUT
    n = int(round(PATTERN_STEPS ** (1 / power)))
    while n > 1 and n**power > PATTERN_STEPS:
        n -= 1
    return min(n, MAX_PATTERN_INPUT)


def guard_schema(schema: Any, path: tuple = ()) -> Any:
    """``schema`` with every ``pattern`` checked and bounded (a copy; the input is not changed).

    Raises UnsafePatternError with ``.path``, the path of the offending keyword in ``schema``.
    """
    if isinstance(schema, list):
        return [guard_schema(item, path + (i,)) for i, item in enumerate(schema)]
    if not isinstance(schema, dict):
        return schema
    out = {key: value if key in _VALUE_KEYS else guard_schema(value, path + (key,)) for key, value in schema.items()}
    if "patternProperties" in out:
        raise _at(UnsafePatternError("patternProperties is not supported in params"), path + ("patternProperties",))
    pattern = out.get("pattern")
    if isinstance(pattern, str):
        try:
            limit = max_input(pattern)
        except UnsafePatternError as exc:
            raise _at(exc, path + ("pattern",)) from None
        length = out.get("maxLength", limit)
        if isinstance(length, int) and length > limit:
            raise _at(
                UnsafePatternError(f"maxLength {length} is too long for this pattern: at most {limit} (see the README on param patterns)"),
                path + ("maxLength",),
            )
        del out["pattern"]
        out["maxLength"] = length
        out["allOf"] = list(out.get("allOf", [])) + [{"if": {"maxLength": length}, "then": {"pattern": pattern}}]
    return out


def _at(exc: UnsafePatternError, path: tuple) -> UnsafePatternError:
    exc.path = path
    return exc
