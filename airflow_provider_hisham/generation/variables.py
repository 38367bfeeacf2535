"""Template manifest (``template.yaml``): declared variables with defaults, types and validation."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_hisham.booleans import BooleanValueError, parse_bool
from airflow_provider_hisham.generation.errors import TemplateSpecError, VariableError
from airflow_provider_hisham.generation.safe_load import load_yaml, read_bytes_bounded

MANIFEST_NAMES = ("template.yaml", "template.yml")
_TYPES = {"str", "int", "float", "bool", "choice", "list", "dict"}
# Python's re backtracks: a pattern is accepted only when its worst case on a value of at most
# MAX_PATTERN_VALUE characters stays small (no repetition inside repetition, no alternation under
# repetition, no back-references, at most MAX_PATTERN_REPEATS repeated items).
MAX_PATTERN_VALUE = 256
MAX_PATTERN_LENGTH = 1000
MAX_PATTERN_REPEATS = 3


def pattern_risk(pattern: str) -> str | None:
    """Why ``pattern`` could backtrack for a long time, or None when its cost is bounded."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"longer than {MAX_PATTERN_LENGTH} characters"
    # one frame per open group: [has repetition (or an optional item) inside, has alternation inside]
    stack: list[list[bool]] = [[False, False]]
    repeats = 0
    last_group: list[bool] | None = None  # the group just closed (what a quantifier would apply to)
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1:i + 2]
            if nxt.isdigit() and nxt != "0" or nxt == "g":
                return "back-references are not allowed"
            i += 2
            last_group = None
            continue
        if ch == "[":
            j = i + 1
            if pattern[j:j + 1] == "^":
                j += 1
            if pattern[j:j + 1] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            last_group = None
            continue
        if ch == "(":
            if pattern.startswith("(?P=", i):
                return "back-references are not allowed"
            if pattern.startswith("(?(", i):
                return "conditional groups are not allowed"
            stack.append([False, False])
            i += 1
            if pattern[i:i + 1] == "?":  # (?:  (?=  (?!  (?<=  (?<!  (?P<name>  (?>  (?i)  (?i:
                i += 1
                if pattern.startswith("P<", i):
                    i = pattern.find(">", i) + 1 or n
                elif pattern.startswith(("<=", "<!"), i):
                    i += 2
                else:
                    while i < n and (pattern[i].isalpha() or pattern[i] == "-"):
                        i += 1
                    if pattern[i:i + 1] in (":", "=", "!", ">"):
                        i += 1
            last_group = None
            continue
        if ch == ")":
            if len(stack) > 1:
                last_group = stack.pop()
                stack[-1][0] |= last_group[0]
                stack[-1][1] |= last_group[1]
            i += 1
            continue
        if ch == "|":
            stack[-1][1] = True
            i += 1
            last_group = None
            continue
        if ch == "?":  # optional: no repeat of its own, but a repeated group around it may backtrack
            stack[-1][0] = True
            i += 2 if pattern[i + 1:i + 2] in ("?", "+") else 1
            last_group = None
            continue
        if ch in "*+{":
            many = True
            if ch == "{":
                close = pattern.find("}", i)
                body = pattern[i + 1:close] if close > 0 else ""
                parts = body.split(",")
                if close < 0 or not all(p.strip().isdigit() or p.strip() == "" for p in parts) or len(parts) > 2:
                    i += 1  # a literal "{"
                    last_group = None
                    continue
                top = parts[-1].strip()
                many = top == "" or int(top) > 1
                i = close + 1
            else:
                i += 1
            if pattern[i:i + 1] in ("?", "+"):
                i += 1
            if many:
                repeats += 1
                if last_group is not None and (last_group[0] or last_group[1]):
                    return "a repeated group contains a repetition or an alternation (exponential backtracking)"
                stack[-1][0] = True
                if repeats > MAX_PATTERN_REPEATS:
                    return f"more than {MAX_PATTERN_REPEATS} repeated items (polynomial backtracking)"
            last_group = None
            continue
        i += 1
        last_group = None
    return None


@dataclass
class Variable:
    name: str
    type: str = "str"
    default: Any = None
    required: bool = False
    description: str = ""
    choices: list[Any] | None = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None


@dataclass
class TemplateSpec:
    """What ``template.yaml`` declares about a template directory."""

    name: str
    description: str = ""
    variables: list[Variable] = field(default_factory=list)
    conditions: dict[str, str] = field(default_factory=dict)
    copy_without_render: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)


def _infer_type(vdef: dict[str, Any]) -> str:
    """No declared type: choices make a choice, otherwise the default's type (str if none)."""
    if vdef.get("choices"):
        return "choice"
    default = vdef.get("default")
    for py, name in ((bool, "bool"), (int, "int"), (float, "float"), (list, "list"), (dict, "dict")):
        if isinstance(default, py):
            return name
    return "str"


def load_spec(template_dir: str, max_bytes: int = 1024 * 1024) -> TemplateSpec:
    """Read and check the manifest; a template without one has no declared variables."""
    for name in MANIFEST_NAMES:
        path = os.path.join(template_dir, name)
        if os.path.lexists(path):
            break
    else:
        return TemplateSpec(name=os.path.basename(os.path.normpath(template_dir)))
    raw = load_yaml(read_bytes_bounded(path, max_bytes, "template manifest"), path) or {}
    if not isinstance(raw, dict):
        raise TemplateSpecError(f"{path}: manifest must be a mapping")
    unknown = set(raw) - {"name", "description", "variables", "conditions", "copy_without_render", "exclude", "extensions"}
    if unknown:
        raise TemplateSpecError(f"{path}: unknown manifest keys {sorted(unknown)}")
    if not isinstance(raw.get("variables") or {}, dict):
        raise TemplateSpecError(f"{path}: variables must map names to definitions")
    variables = []
    for vname, vdef in (raw.get("variables") or {}).items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(vname)):
            raise TemplateSpecError(f"{path}: variables.{vname}: not a valid identifier")
        if not isinstance(vdef, dict):
            vdef = {"default": vdef}
        bad = set(vdef) - set(Variable.__dataclass_fields__) - {"name"}
        if bad:
            raise TemplateSpecError(f"{path}: variables.{vname}: unknown keys {sorted(bad)}")
        if "type" not in vdef:
            vdef = {**vdef, "type": _infer_type(vdef)}
        var = Variable(name=str(vname), **{k: v for k, v in vdef.items() if k != "name"})
        if var.type not in _TYPES:
            raise TemplateSpecError(f"{path}: variables.{vname}.type {var.type!r} not one of {sorted(_TYPES)}")
        if var.type == "choice" and not var.choices:
            raise TemplateSpecError(f"{path}: variables.{vname}: type choice needs 'choices'")
        if var.pattern is not None:
            reason = pattern_risk(str(var.pattern))
            if reason:
                raise TemplateSpecError(f"{path}: variables.{vname}.pattern {var.pattern!r} refused: {reason}")
            try:
                re.compile(var.pattern)
            except re.error as err:
                raise TemplateSpecError(f"{path}: variables.{vname}.pattern: {err}") from None
        variables.append(var)
    for key in ("copy_without_render", "exclude", "extensions"):
        if not isinstance(raw.get(key) or [], list):
            raise TemplateSpecError(f"{path}: {key} must be a list")
    conditions = raw.get("conditions") or {}
    if not isinstance(conditions, dict):
        raise TemplateSpecError(f"{path}: conditions must map path globs to expressions")
    return TemplateSpec(
        name=str(raw.get("name") or os.path.basename(os.path.normpath(template_dir))),
        description=str(raw.get("description") or ""),
        variables=variables,
        conditions={str(k): str(v) for k, v in conditions.items()},
        copy_without_render=[str(x) for x in raw.get("copy_without_render") or []],
        exclude=[str(x) for x in raw.get("exclude") or []],
        extensions=[str(x) for x in raw.get("extensions") or []],
    )


def _coerce(var: Variable, value: Any) -> Any:
    t = var.type
    if t == "str" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if t == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, str)):
            try:
                return parse_bool(value, var.name, default=False)  # an empty form field is false
            except BooleanValueError as exc:
                raise VariableError(var.name, exc.reason) from None
        raise VariableError(var.name, f"expected a boolean, got {value!r}")
    if t == "int":
        if isinstance(value, bool):
            raise VariableError(var.name, f"expected an integer, got {value!r}")
        try:
            return int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise VariableError(var.name, f"expected an integer, got {value!r}") from None
    if t == "float":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise VariableError(var.name, f"expected a number, got {value!r}") from None
    if t == "list" and not isinstance(value, list):
        raise VariableError(var.name, f"expected a list, got {type(value).__name__}")
    if t == "dict" and not isinstance(value, dict):
        raise VariableError(var.name, f"expected a mapping, got {type(value).__name__}")
    if t == "str" and not isinstance(value, str):
        raise VariableError(var.name, f"expected a string, got {type(value).__name__}")
    return value


def _validate(var: Variable, value: Any) -> None:
    if var.choices is not None and value not in var.choices:
        raise VariableError(var.name, f"{value!r} is not one of {var.choices!r}")
    if var.pattern is not None and isinstance(value, str):
        if len(value) > MAX_PATTERN_VALUE:
            raise VariableError(var.name, f"is {len(value)} characters long; at most {MAX_PATTERN_VALUE} are checked against a pattern")
        if not re.fullmatch(var.pattern, value):
            raise VariableError(var.name, f"{value[:200]!r} does not match pattern {var.pattern!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if var.min is not None and value < var.min:
            raise VariableError(var.name, f"{value!r} is below the minimum {var.min!r}")
        if var.max is not None and value > var.max:
            raise VariableError(var.name, f"{value!r} is above the maximum {var.max!r}")
    if isinstance(value, (str, list)):
        if var.min_length is not None and len(value) < var.min_length:
            raise VariableError(var.name, f"shorter than {var.min_length}")
        if var.max_length is not None and len(value) > var.max_length:
            raise VariableError(var.name, f"longer than {var.max_length}")


def resolve_variables(spec: TemplateSpec, given: dict[str, Any] | None, renderer: Any) -> dict[str, Any]:
    """Merge given values over defaults (string defaults may use earlier variables), coerce, validate.

    Values not declared by the manifest are passed through unchanged.
    """
    given = dict(given or {})
    result: dict[str, Any] = {}
    for var in spec.variables:
        if var.name in given:
            value = given.pop(var.name)
        elif var.required:
            raise VariableError(var.name, "is required and has no value")
        else:
            value = var.default
            if isinstance(value, str):
                value = renderer.render(value, {**result, **given}, f"template.yaml:variables.{var.name}.default")
        if value is None:
            if var.required:
                raise VariableError(var.name, "is required and has no value")
            result[var.name] = None
            continue
        value = _coerce(var, value)
        _validate(var, value)
        result[var.name] = value
    result.update(given)
    return result
