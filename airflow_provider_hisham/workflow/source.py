"""Read YAML or JSON workflow configs keeping the line of every value (for error messages).

PyYAML's composer gives each node a start mark; we build plain Python values from the nodes
and record ``path -> line`` on the side, so validation can say ``file:line`` for any field.
JSON is checked with the ``json`` module (its errors carry line and column) and then composed
with the same YAML machinery for the line map, JSON being YAML for these purposes.
"""

from __future__ import annotations

import datetime
import json
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


def _construct(node: yaml.Node, path: Path_, lines: dict, issues: list, name: str, scalars: Any) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise WorkflowConfigError([ConfigIssue(name, "YAML merge keys (<<) are not supported", line=key_line)])
            if isinstance(key_node, yaml.ScalarNode):
                key = _scalar(key_node, scalars)
            else:
                key = _construct(key_node, path + ("<key>",), {}, issues, name, scalars)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise WorkflowConfigError([ConfigIssue(name, "mapping keys must be scalars", line=key_line)])
            sub = path + (key,)
            if key in result:
                issues.append(ConfigIssue(name, f"duplicate key '{key}'", field=_dotted(sub), line=key_line))
            if isinstance(value_node, yaml.ScalarNode):
                result[key] = _scalar(value_node, scalars)
            else:
                result[key] = _construct(value_node, sub, lines, issues, name, scalars)
            lines[sub] = key_line  # the key's line reads best
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, path + (i,), lines, issues, name, scalars) for i, item in enumerate(node.value)]
    return _scalar(node, scalars)


def _scalar(node: yaml.ScalarNode, scalars: Any) -> Any:
    if node.tag == _STR_TAG:  # most scalars: SafeConstructor.construct_yaml_str's value, without
        return node.value  # its four calls and per-node bookkeeping (aliases only repeat strings)
    value = scalars.construct_object(node)  # safe scalars only: str, int, float, bool, null, dates
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
    """Parse ``text`` (YAML, or JSON when ``fmt == "json"`` or ``name`` ends in .json)."""
    fmt = fmt or ("json" if name.endswith(".json") else "yaml")
    if fmt == "json":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise WorkflowConfigError([ConfigIssue(name, f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno)]) from None
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "syntax error"
        if fmt == "json":  # valid JSON that YAML 1.1 cannot read: keep the values, lose the lines
            return ConfigSource(name, json.loads(text), {}, text, fmt)
        raise WorkflowConfigError([ConfigIssue(name, f"invalid YAML: {problem}", line=line)]) from None
    if node is None:
        raise WorkflowConfigError([ConfigIssue(name, "the file is empty", line=1)])
    lines: dict = {}
    issues: list = []
    data = _construct(node, (), lines, issues, name, yaml.constructor.SafeConstructor())
    if issues:
        raise WorkflowConfigError(issues)
    return ConfigSource(name, data, lines, text, fmt)


def read_config(path: str | Path, *, name: str | None = None) -> ConfigSource:
    """Read and parse one config file; ``name`` (default: the path) is what errors show."""
    path = Path(path)
    label = name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise WorkflowConfigError([ConfigIssue(label, f"not UTF-8 text: {exc.reason}")]) from None
    return parse_text(text, label, fmt="json" if path.suffix.lower() == ".json" else "yaml")
