"""The fault suite's results file, ``artifacts/faults.json``, read by ``python -m scripts.report``.

Every fault test takes the ``fault_log`` fixture, says which faults it injected (``inject``, with
the count the stand-in actually served) and, after its last assertion, ``survived(outcome)``. A
test that fails before that is recorded as not survived. Entries are merged by test id under a
file lock, so the dag.test() suite (tests/faults) and the e2e kill tests (tests/e2e) share one file.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("HISHAM_ARTIFACTS_DIR") or REPO_ROOT / "artifacts")
RESULTS = ARTIFACTS / "faults.json"
LOGS = ARTIFACTS / "logs"  # what the runs logged, scanned for SCAN_SECRETS by the report
SCAN_SECRETS = ARTIFACTS / ".scan" / "secrets.json"  # the test credentials the runs used


class FaultLog:
    """One test's record: the faults it injected and whether the run survived them."""

    def __init__(self, test_id: str) -> None:
        self.test_id = test_id
        self.faults: list[dict[str, Any]] = []
        self.outcome: str | None = None

    def inject(self, target: str, kind: str, served: int) -> None:
        """Note ``served`` faults of ``kind`` that ``target`` really answered with (0 is a test bug)."""
        assert served > 0, f"{target}: the {kind} fault was never served, so nothing was tested"
        self.faults.append({"target": target, "kind": kind, "served": served})

    def survived(self, outcome: str) -> None:
        """Call after the last assertion: ``outcome`` is "success" or "failed: <the clear error>"."""
        assert self.faults, "a fault test must inject at least one fault"
        self.outcome = outcome


def merge_artifact(path: Path, section: str, key: str, entry: dict[str, Any]) -> None:
    """Set ``data[section][key] = entry`` in the JSON file ``path``, under a lock, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data = json.loads(path.read_text()) if path.exists() else {}
        except ValueError:
            data = {}
        data.setdefault(section, {})[key] = entry
        data["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)


def register_secrets(values: Any) -> None:
    """Add test credentials the report must not find in any log or artifact."""
    values = sorted({v for v in values if isinstance(v, str) and len(v) >= 8})
    path = SCAN_SECRETS
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        known = set(json.loads(path.read_text())) if path.exists() else set()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(known | set(values))))
        os.replace(tmp, path)


def save_log(name: str, text: str) -> Path:
    """Keep a run's log under ``artifacts/logs/`` (``name``: a test id or a stack's label)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:180]
    path = LOGS / f"{safe}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_entry(test_id: str, entry: dict[str, Any]) -> None:
    merge_artifact(RESULTS, "cases", test_id, entry)


@pytest.fixture
def fault_log(request: pytest.FixtureRequest) -> Iterator[FaultLog]:
    log = FaultLog(request.node.nodeid)
    yield log
    write_entry(log.test_id, {"faults": log.faults, "injected": sum(f["served"] for f in log.faults),
                              "survived": log.outcome is not None, "outcome": log.outcome or "test failed"})
