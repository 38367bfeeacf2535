"""A real Airflow deployment (tests/e2e/stack.py) serving DAG files a fault or load test writes.

The DAG files go into a bundle of their own (a temporary folder), so the test can build them
with the local servers' addresses and nothing else in the deployment parses them.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import skip_or_fail
from tests.e2e.stack import AirflowStack, postgres_available, redis_available
from tests.faults.results import save_log


@contextmanager
def bundle_stack(executor: str, dag_files: dict[str, str], *, extra_env: dict[str, str] | None = None,
                 parallelism: int = 4) -> Iterator[AirflowStack]:
    """Start ``executor``'s stack on PostgreSQL with ``dag_files`` ({file name: source}) as its bundle."""
    reason = postgres_available() or (redis_available() if executor == "CeleryExecutor" else None)
    if reason:
        skip_or_fail(reason)
    home = Path(tempfile.mkdtemp(prefix=f"hisham-faults-{executor.lower()}-"))
    bundle = home / "bundle"
    bundle.mkdir()
    for name, source in dag_files.items():
        (bundle / name).write_text(source)
    env = {"AIRFLOW__CORE__PARALLELISM": str(parallelism), "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(parallelism),
           **(extra_env or {})}
    stack = AirflowStack(home=home, executor=executor, bundles={"faults": bundle}, extra_env=env,
                         start_timeout=240)
    failed = True
    try:
        with stack:
            yield stack
        failed = False
    finally:
        keep_logs(home, f"stack-{executor}-{home.name}")
        if failed:
            print(f"\nkept the stack's home for inspection: {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def keep_logs(home: Path, label: str) -> None:
    """Every component log and task log of a stack, in one file under artifacts/logs/."""
    parts = [f"=== {p.relative_to(home)}\n{p.read_text(errors='replace')}"
             for p in sorted([*home.glob("*.log"), *(home / "logs").rglob("*")]) if p.is_file()]
    save_log(label, "\n".join(parts))
