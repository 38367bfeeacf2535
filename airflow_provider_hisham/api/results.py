"""Shaping API results for XCom: pick a part by a dotted path, and drop credentials."""

from __future__ import annotations

import re
from typing import Any

from airflow_provider_hisham.api.errors import HishamOSConfigError

_CREDENTIAL_KEY = re.compile(r"^(access|refresh|token|access_token|refresh_token|password|api_key|jwt_secret|secret)$",
                             re.IGNORECASE)
REDACTED = "***"


def select(result: Any, path: str) -> Any:
    """``select({"results": [{"id": 1}]}, "results.0.id") == 1``; a missing step names the path."""
    current = result
    for i, step in enumerate(path.split(".")):
        where = ".".join(path.split(".")[: i + 1])
        if isinstance(current, dict) and step in current:
            current = current[step]
        elif isinstance(current, list) and re.fullmatch(r"-?\d+", step) and -len(current) <= int(step) < len(current):
            current = current[int(step)]
        else:
            raise HishamOSConfigError(f"result_path {path!r}: nothing at {where!r} in the result")
    return current


def redact_credentials(value: Any) -> Any:
    """The value with credential-named keys (a raw call to the login endpoint returns tokens)
    replaced by ``***``: XCom is readable by every DAG author."""
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and _CREDENTIAL_KEY.match(k) and v else redact_credentials(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact_credentials(v) for v in value]
    return value
