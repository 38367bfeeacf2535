"""Validate a local stand-in's traffic against an official OpenAPI description (openapi-core).

The description is trimmed to the operations a stand-in serves (following every ``$ref``) so
that building the validator takes well under a second even for GitHub's 13 MB file.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterable

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def trim_spec(spec: dict, operations: Iterable[tuple[str, str]]) -> dict:
    """A copy of ``spec`` holding only ``(path, method)`` operations and the components they use."""
    paths: dict[str, dict] = {}
    for path, method in operations:
        item = spec["paths"][path]
        paths.setdefault(path, {k: v for k, v in item.items() if k == "parameters"})[method] = item[method]
    out = {key: spec[key] for key in ("openapi", "info", "servers") if key in spec}
    out["paths"] = copy.deepcopy(paths)
    components: dict[str, dict] = {}
    pending: set[str] = set()
    _refs(paths, pending)
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen or not ref.startswith("#/components/"):
            continue
        seen.add(ref)
        _, _, section, name = ref.split("/", 3)
        node = spec["components"][section][name]
        components.setdefault(section, {})[name] = copy.deepcopy(node)
        _refs(node, pending)
    out["components"] = components
    return out


def _detail(exc: BaseException) -> str:
    """The schema errors behind an openapi-core exception (they hide in ``__cause__``)."""
    parts = []
    while exc is not None:
        errors = getattr(exc, "schema_errors", None)
        if errors:
            for error in errors:
                leaves = [error, *(error.context or [])]
                parts.extend(f"{'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message[-200:]}" for e in leaves)
        else:
            parts.append(type(exc).__name__)
        exc = exc.__cause__ or exc.__context__
    return "; ".join(parts)


class SpecChecker:
    """Checks requests/responses; violations are collected (a test asserts there are none)."""

    def __init__(self, spec_path: Path, operations: Iterable[tuple[str, str]], host_url: str) -> None:
        spec = json.loads(Path(spec_path).read_text())
        self.spec = trim_spec(spec, operations)
        self.openapi = OpenAPI.from_dict(self.spec)
        self.host_url = host_url
        self.violations: list[str] = []
        self.checked = 0

    def declared(self, path_template: str, method: str, status: int) -> bool:
        responses = self.spec["paths"][path_template][method]["responses"]
        return str(status) in responses

    def check(self, method: str, path: str, path_template: str, body: bytes, status: int,
              response: bytes, query: dict | None = None, *, check_request: bool = True) -> None:
        request = MockRequest(self.host_url, method.lower(), path, args=query or {}, data=body or None,
                              content_type="application/json")
        try:
            if check_request:
                self.openapi.validate_request(request)
            if self.declared(path_template, method.lower(), status):
                self.openapi.validate_response(request, MockResponse(response, status_code=status,
                                                                     content_type="application/json"))
            self.checked += 1
        except Exception as exc:  # noqa: BLE001 - every violation is recorded with its detail
            detail = _detail(exc)
            self.violations.append(f"{method} {path} -> {status}: {type(exc).__name__}: {detail}"[:2000])
