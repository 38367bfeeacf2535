"""Read YAML or JSON workflow configs keeping the line of every value (for error messages).

PyYAML's composer gives each node a start mark; we build plain Python values from the nodes
and record ``path -> line`` on the side, so validation can say ``file:line`` for any field.
JSON is checked with the ``json`` module (its errors carry line and column) and then composed
with the same YAML machinery for the line map, JSON being YAML for these purposes.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from airflow_provider_hisham.workflow.errors import ConfigIssue, WorkflowConfigError

try:  # the C composer is several times faster; fall back to the pure-Python one
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader

Path_ = tuple  # a path into the config: ("steps", 2, "config", "target")

CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class ConfigSource:
    """A parsed config with the line (1-based) where each path's value starts.

    ``lines`` may be None with the ``text`` it was parsed from (a cached plan's source): the
    line map is then made again from the text when a line is first asked for (an error).
    """

    name: str
    data: Any
    lines: dict[Path_, int] | None = field(default_factory=dict)
    text: str | None = field(default=None, repr=False)
    fmt: str = "yaml"

    def keep_text_only(self) -> None:
        """Free the data and the line map (only the text stays; lines come back from it if one
        is asked for), once the config is validated and only its plan is needed."""
        if self.text is not None:
            self.data = None
            self.lines = None

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        if self.lines is None:
            try:
                self.lines = parse_text(self.text, self.name, fmt=self.fmt).lines if self.text is not None else {}
            except WorkflowConfigError:  # not the text the plan was made from: no lines then
                self.lines = {}
        path = tuple(path)
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]


_STR_TAG = "tag:yaml.org,2002:str"
_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_YAML + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_MAP_TAG, _SEQ_TAG = _YAML + "map", _YAML + "seq"

MAX_CONFIG_BYTES = 1_048_576  # one config file
MAX_DEPTH = 64  # nested mappings and lists (a workflow needs about 12 for 3 nested blocks)
MAX_ALIAS_VALUES = 10_000  # values that YAML aliases may repeat in one config, all aliases together


class _Budget:
    """What aliases may still materialise, and the sizes of the anchored nodes seen so far."""

    __slots__ = ("left", "seen", "sizes")

    def __init__(self) -> None:
        self.left = MAX_ALIAS_VALUES
        self.seen: set[int] = set()
        self.sizes: dict[int, int] = {}


def _issue(name: str, message: str, path: Path_ = (), line: int | None = None) -> WorkflowConfigError:
    return WorkflowConfigError([ConfigIssue(name, message, _dotted(path), line=line)])


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_YAML):] if tag.startswith(_YAML) else tag


def _size(node: yaml.Node, budget: _Budget, active: set[int], name: str, path: Path_) -> int:
    """How many values ``node`` expands to (memoised), refusing recursive anchors."""
    key = id(node)
    if key in budget.sizes:
        return budget.sizes[key]
    if key in active:
        raise _issue(name, "a YAML alias refers to a node that contains it (recursive anchor)", path, node.start_mark.line + 1)
    active.add(key)
    total = 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            total += _size(key_node, budget, active, name, path) + _size(value_node, budget, active, name, path)
            if total > MAX_ALIAS_VALUES:
                break
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            total += _size(item, budget, active, name, path)
            if total > MAX_ALIAS_VALUES:
                break
    active.discard(key)
    budget.sizes[key] = total
    return total


def _construct(
    node: yaml.Node, path: Path_, lines: dict, issues: list, name: str, scalars: Any, budget: _Budget, charged: bool = False
) -> Any:
    """Build ``node``'s value; ``charged`` once an alias's whole expansion is on the budget."""
    line = node.start_mark.line + 1
    lines[path] = line
    if len(path) > MAX_DEPTH:
        raise _issue(name, f"nested deeper than {MAX_DEPTH} levels", path, line)
    key = id(node)
    if key in budget.seen and not charged:  # an alias of a node seen before: built again, count it
        budget.left -= _size(node, budget, set(), name, path)
        if budget.left < 0:
            raise _issue(name, f"YAML aliases expand to more than {MAX_ALIAS_VALUES} values (anchor at line {line})", path, line)
        charged = True
    budget.seen.add(key)
    if isinstance(node, yaml.MappingNode):
        if node.tag != _MAP_TAG:
            raise _issue(name, f"YAML tag '{_tag_name(node.tag)}' is not allowed", path, line)
        result: dict = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise WorkflowConfigError([ConfigIssue(name, "YAML merge keys (<<) are not supported", line=key_line)])
            if isinstance(key_node, yaml.ScalarNode):
                key = _scalar(key_node, scalars, name, path)
            else:
                raise _issue(name, "mapping keys must be scalars", path, key_line)
            sub = path + (key,)
            if key in result:
                issues.append(ConfigIssue(name, f"duplicate key '{key}'", field=_dotted(sub), line=key_line))
            if isinstance(value_node, yaml.ScalarNode):
                result[key] = _scalar(value_node, scalars, name, sub)
            else:
                result[key] = _construct(value_node, sub, lines, issues, name, scalars, budget, charged)
            lines[sub] = key_line  # the key's line reads best
        return result
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ_TAG:
            raise _issue(name, f"YAML tag '{_tag_name(node.tag)}' is not allowed", path, line)
        return [_construct(item, path + (i,), lines, issues, name, scalars, budget, charged) for i, item in enumerate(node.value)]
    return _scalar(node, scalars, name, path)


def _scalar(node: yaml.ScalarNode, scalars: Any, name: str, path: Path_) -> Any:
    if node.tag == _STR_TAG:  # most scalars: SafeConstructor.construct_yaml_str's value, without
        return node.value  # its four calls and per-node bookkeeping (aliases only repeat strings)
    if node.tag not in _SCALAR_TAGS:
        raise _issue(name, f"YAML tag '{_tag_name(node.tag)}' is not allowed", path, node.start_mark.line + 1)
    try:
        value = scalars.construct_object(node)  # safe scalars only: str, int, float, bool, null, dates
    except (ValueError, OverflowError, yaml.YAMLError) as exc:  # an int of 5,000 digits, a bad date
        raise _issue(name, f"cannot read {node.value[:40]!r}: {getattr(exc, 'problem', None) or exc}", path, node.start_mark.line + 1) from None
    if isinstance(value, float) and not math.isfinite(value):
        raise _issue(name, f"{node.value!r} is not a finite number", path, node.start_mark.line + 1)
    # an unquoted 2025-01-01 is a date to YAML; the schema (and JSON) speak strings
    return value.isoformat() if isinstance(value, (datetime.date, datetime.datetime)) else value


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def dotted(path: Path_) -> str:
    """``("steps", 2, "config", "x")`` -> ``steps[2].config.x`` (the field names in errors)."""
    return _dotted(tuple(path))


def parse_text(text: str, name: str, *, fmt: str | None = None) -> ConfigSource:
    """Parse ``text`` (YAML, or JSON when ``fmt == "json"`` or ``name`` ends in .json).

    Bounded: at most MAX_CONFIG_BYTES, MAX_DEPTH levels, MAX_ALIAS_VALUES values repeated by
    aliases, safe YAML tags and finite numbers only; each refusal names the file and line.
    """
    fmt = fmt or ("json" if name.endswith(".json") else "yaml")
    if len(text) > MAX_CONFIG_BYTES:
        raise _issue(name, f"the file has {len(text)} characters; a workflow config may have at most {MAX_CONFIG_BYTES}")
    if fmt == "json":
        _check_json(text, name)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "syntax error"
        if fmt == "json":  # valid JSON that YAML 1.1 cannot read: keep the values, lose the lines
            return ConfigSource(name, json.loads(text), {}, text, fmt)
        raise WorkflowConfigError([ConfigIssue(name, f"invalid YAML: {problem}", line=line)]) from None
    except (yaml.YAMLError, RecursionError, MemoryError) as exc:
        raise _issue(name, f"invalid YAML: {type(exc).__name__}") from None
    if node is None:
        raise WorkflowConfigError([ConfigIssue(name, "the file is empty", line=1)])
    lines: dict = {}
    issues: list = []
    try:
        data = _construct(node, (), lines, issues, name, yaml.constructor.SafeConstructor(), _Budget())
    except RecursionError:  # pure-Python composer only; the depth check normally comes first
        raise _issue(name, f"nested deeper than {MAX_DEPTH} levels") from None
    if issues:
        raise WorkflowConfigError(issues)
    return ConfigSource(name, data, lines, text, fmt)


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, max(index, 0)) + 1


def _check_json(text: str, name: str) -> None:
    def constant(value: str) -> None:
        raise _issue(name, f"{value} is not a finite number", line=_line_of(text, text.find(value)))

    try:
        json.loads(text, parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise WorkflowConfigError([ConfigIssue(name, f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno)]) from None
    except RecursionError:
        raise _issue(name, f"nested deeper than {MAX_DEPTH} levels") from None
    except WorkflowConfigError:
        raise
    except ValueError as exc:  # an integer of more digits than Python converts
        raise _issue(name, f"invalid JSON: {exc}") from None


def read_bounded(path: Path) -> bytes:
    """A config file's bytes, never more than MAX_CONFIG_BYTES + 1 (a file that grows, /dev/zero)."""
    with open(path, "rb") as handle:
        return handle.read(MAX_CONFIG_BYTES + 1)


def decode(data: bytes, name: str) -> str:
    """``data`` as UTF-8 text, or a WorkflowConfigError naming the file, the line and the size limit."""
    if len(data) > MAX_CONFIG_BYTES:
        raise _issue(name, f"the file is larger than {MAX_CONFIG_BYTES} bytes, the limit of a workflow config")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _issue(name, f"not UTF-8 text: {exc.reason} at byte {exc.start}", line=line) from None

