"""Reading template-supplied files with bounds: size, YAML aliases, nesting depth, UTF-8.

``template.yaml``, ``cookiecutter.json``, ``{% include %}``-d files and structures passed as JSON
come from whoever wrote the template (soon an AI agent). Each reader here refuses, with the file
(and line where there is one), what would otherwise cost unbounded memory or end in a raw
exception: a file that is not a regular file or is too big, a YAML alias bomb, 100,000 levels of
nesting, bytes that are not UTF-8.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

import yaml

from airflow_provider_hisham.generation.errors import GenerationError, LimitExceededError, TemplateSpecError

MAX_YAML_NODES = 10_000  # nodes of a template.yaml once its aliases are expanded
MAX_NESTING = 100  # levels of nested lists/mappings in a manifest or a JSON structure


def read_bytes_bounded(path: str, max_bytes: int, what: str = "file") -> bytes:
    """At most ``max_bytes`` of a regular file (never blocks on a FIFO, never follows past the size)."""
    return read_file_bounded(path, max_bytes, what)[0]


def read_file_bounded(path: str, max_bytes: int, what: str = "file") -> tuple[bytes, int]:
    """:func:`read_bytes_bounded` and the ``st_mode`` of the very file read (from its open descriptor)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as err:
        raise TemplateSpecError(f"{path}: cannot read {what}: {err.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise TemplateSpecError(f"{path}: {what} is not a regular file")
        # one read for the usual case: a short read of a regular file is its end
        first = os.read(fd, min(st.st_size, max_bytes) + 1)
        chunks, size = [first], len(first)
        if size > st.st_size:  # it grew since fstat: read on, up to the limit
            while size <= max_bytes:
                chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    finally:
        os.close(fd)
    if size > max_bytes:
        raise LimitExceededError("max_file_bytes", size, max_bytes, path, f"{what} is larger than allowed (or grew while read)")
    return (first if len(chunks) == 1 else b"".join(chunks)), st.st_mode


def decode_utf8(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TemplateSpecError(f"{source}: not valid UTF-8 (byte {err.start}: {err.reason})") from None


def load_json(text: str | bytes, source: str, error: type[GenerationError] = TemplateSpecError) -> Any:
    """``json.loads`` with nesting bounded and every failure an ``error`` naming ``source``."""
    if isinstance(text, bytes):
        text = decode_utf8(text, source)
    depth = _json_depth(text)
    if depth > MAX_NESTING:
        raise error(f"{source}: nested {depth} levels deep (at most {MAX_NESTING})")
    try:
        return json.loads(text)
    except ValueError as err:
        raise error(f"{source}: invalid JSON: {err}") from None
    except RecursionError:  # pragma: no cover - refused by the depth scan first
        raise error(f"{source}: nested too deeply") from None


def _json_depth(text: str) -> int:
    """Deepest ``[``/``{`` nesting outside strings (a linear scan; no recursion)."""
    if "[" not in text and "{" not in text:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_NESTING:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


class _BoundedComposer(yaml.SafeLoader):
    """SafeLoader that counts nodes as if every alias were expanded, and bounds nesting depth."""

    def __init__(self, stream: str, source: str) -> None:
        super().__init__(stream)
        self._source = source
        self._sizes: dict[int, int] = {}
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        mark = self.peek_event().start_mark
        alias = self.check_event(yaml.events.AliasEvent)
        self._depth += 1
        if self._depth > MAX_NESTING:
            raise TemplateSpecError(f"{self._source}, line {mark.line + 1}: nested more than {MAX_NESTING} levels deep")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if alias:
            size = self._sizes.get(id(node))
            if size is None:
                raise TemplateSpecError(f"{self._source}, line {mark.line + 1}: an alias refers to a node that contains it")
        else:
            size = 1
            if isinstance(node, yaml.SequenceNode):
                size += sum(self._sizes.get(id(child), 1) for child in node.value)
            elif isinstance(node, yaml.MappingNode):
                size += sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value)
            self._sizes[id(node)] = size
        if size > MAX_YAML_NODES:
            raise TemplateSpecError(
                f"{self._source}, line {mark.line + 1}: expands to more than {MAX_YAML_NODES} nodes "
                "(YAML aliases are expanded; refusing an alias bomb)"
            )
        return node


def load_yaml(text: str | bytes, source: str) -> Any:
    """``yaml.safe_load`` of a generation input with aliases and nesting bounded."""
    if isinstance(text, bytes):
        text = decode_utf8(text, source)
    loader = _BoundedComposer(text, source)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as err:
        raise TemplateSpecError(f"{source}: invalid YAML: {err}") from None
    except RecursionError:
        raise TemplateSpecError(f"{source}: nested too deeply") from None
    finally:
        loader.dispose()
