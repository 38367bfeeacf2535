"""Agent output -> a project structure ``{path: content}`` for ``file_generation``.

Two forms: the whole answer is a JSON object ``{path: content}`` (nested objects are folders, as
in inline structures), or the answer holds fenced code blocks whose info string names a path
(```` ```python src/app.py ````, or a single token with a ``/``: ```` ```src/app.py ````); blocks
without a path are prose examples and are skipped. Agent output is untrusted: every path goes
through the generation path rules (relative, no ``..``, no control characters, portable, length
and depth limits), ``.git`` is refused anywhere, duplicates and case collisions are refused,
sizes and block counts are bounded, and every refusal names the step that produced the output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_hisham.agents.errors import AgentOutputError
from airflow_provider_hisham.agents.output import iter_fences, loads
from airflow_provider_hisham.generation.errors import GenerationError
from airflow_provider_hisham.generation.limits import Limits
from airflow_provider_hisham.generation.paths import check_relative_path, check_tree

MAX_BLOCKS = 1000
_FORBIDDEN_SEGMENTS = {".git"}


def _check_path(path: str, source: str, where: str, limits: Limits) -> None:
    try:
        segments = check_relative_path(path, limits)
    except GenerationError as exc:
        raise AgentOutputError(source, f"{where}: {exc}", path) from None
    if any(s.casefold() in _FORBIDDEN_SEGMENTS for s in segments):
        raise AgentOutputError(source, f"{where}: path {path!r} is inside .git (refused in agent output)", path)


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _from_mapping(mapping: Mapping[str, Any], source: str, limits: Limits, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = str(key)
        path = prefix + (name[:-1] if isinstance(value, Mapping) and name.endswith("/") else name)
        _check_path(path, source, f"key {path!r}", limits)
        if isinstance(value, Mapping):
            out[path + "/"] = {}
            out.update(_from_mapping(value, source, limits, path + "/"))
        elif isinstance(value, str):
            out[path] = value
        else:
            raise AgentOutputError(source, f"key {path!r}: content must be a string (or an object for a folder), "
                                           f"got {type(value).__name__}", path)
    return out


def _fence_path(info: str) -> str | None:
    tokens = info.split()
    if len(tokens) >= 2:
        return tokens[1]
    if len(tokens) == 1 and "/" in tokens[0]:
        return tokens[0]
    return None


def _from_fences(text: str, source: str, limits: Limits, max_blocks: int) -> dict[str, Any]:
    out: dict[str, str] = {}
    lines: dict[str, int] = {}
    blocks = 0
    for fence in iter_fences(text):
        blocks += 1
        if blocks > max_blocks:
            raise AgentOutputError(source, f"more than {max_blocks} fenced blocks")
        path = _fence_path(fence.info)
        if path is None:
            continue
        where = f"block at line {fence.line}"
        if not fence.closed:
            raise AgentOutputError(source, f"{where} ({path!r}) is never closed (truncated output?)", path)
        _check_path(path, source, where, limits)
        if path in out:
            raise AgentOutputError(source, f"{where}: path {path!r} also given by the block at line {lines[path]}",
                                   path)
        content = fence.body + "\n" if fence.body else ""
        if _size(content) > limits.max_file_bytes:
            raise AgentOutputError(source, f"{where}: {path!r} is larger than max_file_bytes {limits.max_file_bytes}",
                                   path)
        out[path], lines[path] = content, fence.line
        if len(out) > limits.max_files:
            raise AgentOutputError(source, f"more than max_files {limits.max_files} files")
    if not out:
        raise AgentOutputError(source, "no files in it: expected a JSON object {path: content} or fenced code "
                                       "blocks naming a path (```python src/app.py)")
    return out


def _text_of(output: Any, source: str) -> str:
    if isinstance(output, Mapping):
        text = output.get("text")
        if not isinstance(text, str):
            raise AgentOutputError(source, "expected an agent step's output (a mapping with 'text') or its text")
        return text
    if isinstance(output, str):
        return output
    raise AgentOutputError(source, f"expected an agent step's output or its text, got {type(output).__name__}")


def structure_from_output(output: Any, *, source: str, limits: Limits | None = None,
                          max_blocks: int = MAX_BLOCKS) -> dict[str, Any]:
    """The ``{path: content}`` structure an agent answered (a step result from the agent operator,
    or its text). Raises :class:`AgentOutputError` naming ``source`` and the path/block at fault."""
    limits = limits or Limits()
    text = _text_of(output, source)
    if _size(text) > limits.max_project_bytes:
        raise AgentOutputError(source, f"{_size(text)} bytes, more than max_project_bytes {limits.max_project_bytes}")
    stripped = text.strip()
    if stripped.startswith("{"):
        found, value = loads(stripped)
        if found and isinstance(value, dict):
            structure = _from_mapping(value, source, limits)
        else:
            structure = _from_fences(text, source, limits, max_blocks)
    else:
        structure = _from_fences(text, source, limits, max_blocks)
    files = [p for p, v in structure.items() if isinstance(v, str)]
    if len(files) > limits.max_files:
        raise AgentOutputError(source, f"{len(files)} files, more than max_files {limits.max_files}")
    try:
        check_tree(files, [p.rstrip("/") for p, v in structure.items() if not isinstance(v, str)])
    except GenerationError as exc:
        raise AgentOutputError(source, str(exc), getattr(exc, "path", None)) from None
    return structure

