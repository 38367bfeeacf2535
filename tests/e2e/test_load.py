"""Load: many concurrent DAG runs of a generate-and-archive workflow, and many mapped generation
tasks in one run, on one machine, with the LocalExecutor and then the CeleryExecutor stack
(PostgreSQL; Redis for Celery).

Every run must succeed and every project must match its manifest (each file's sha256 and size,
no extra file) and its archive (the same hashes inside the zip). The figures (throughput, p50/p95
task duration, peak memory of the deployment's processes) go to ``artifacts/load.json`` for
``python -m scripts.report``. ``HISHAM_LOAD_RUNS`` / ``HISHAM_LOAD_MAPPED`` (default 100 each)
size the load; ``HISHAM_LOAD_PARALLELISM`` the executor's slots (default 6 on 2 cores).
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import threading
import time
import zipfile
from datetime import datetime
from pathlib import Path

import psutil
import pytest

from tests.e2e.rest import Rest
from tests.faults.manifest import manifest_mismatches
from tests.faults.results import ARTIFACTS, merge_artifact
from tests.faults.stack import bundle_stack

RUNS = int(os.environ.get("HISHAM_LOAD_RUNS", "100"))
MAPPED = int(os.environ.get("HISHAM_LOAD_MAPPED", "100"))
PARALLELISM = int(os.environ.get("HISHAM_LOAD_PARALLELISM", "6"))
FILES = 30  # files per generated project
LOAD_JSON = ARTIFACTS / "load.json"
DAGS = '''
from datetime import datetime

from airflow.sdk import DAG
from airflow_provider_hisham.operators.file_generation import HishamOSFileGenerationOperator
from airflow_provider_hisham.operators.repo_creation import HishamOSRepoCreationOperator

STRUCTURE = {f"pkg{i % 5}/module_{i}.py": f"VALUE = {i}\\\\n" * (i + 1) for i in range(FILES)}
STRUCTURE["README.md"] = "# generated under load\\\\n"

with DAG("load_generate_archive", schedule=None, start_date=datetime(2026, 1, 1), catchup=False,
         max_active_runs=RUNS, max_active_tasks=64):
    generate = HishamOSFileGenerationOperator(task_id="generate", project_id="load-{{ dag_run.conf['n'] }}",
                                      structure=STRUCTURE, workers=1)
    archive = HishamOSRepoCreationOperator(task_id="archive", target="zip", archive_dir="archives",
                                   source_dir="{{ ti.xcom_pull('generate')['output_dir'] }}",
                                   repository_name="load-{{ dag_run.conf['n'] }}")
    generate >> archive

with DAG("load_mapped", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, max_active_tasks=64):
    HishamOSFileGenerationOperator.partial(task_id="generate", structure=STRUCTURE, workers=1).expand(
        project_id=[f"mapped-{i}" for i in range(MAPPED)])
'''.replace("FILES", str(FILES)).replace("RUNS", str(RUNS)).replace("MAPPED", str(MAPPED))


class MemorySampler:
    """Peak resident memory of the deployment: every component process and its children (tasks)."""

    def __init__(self, pids: list[int], every: float = 0.5) -> None:
        self.pids, self.every, self.peak = pids, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for pid in self.pids:
                try:
                    proc = psutil.Process(pid)
                    for p in [proc, *proc.children(recursive=True)]:
                        total += p.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)
            self._stop.wait(self.every)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _state(obj) -> str:
    return str(getattr(obj.state, "value", obj.state))


def _when(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _wait_all(rest: Rest, dag_id: str, expected: int, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    while True:
        runs = rest.dag_runs.get_dag_runs(dag_id, limit=expected + 10).dag_runs
        if len(runs) >= expected and all(_state(r) in ("success", "failed") for r in runs):
            return runs
        if time.monotonic() > deadline:
            counts = {s: sum(_state(r) == s for r in runs) for s in {_state(r) for r in runs}}
            raise TimeoutError(f"{dag_id}: runs not finished after {timeout:.0f} s: {counts}")
        time.sleep(2)


def _task_instances(rest: Rest, dag_id: str) -> list:
    tis, offset = [], 0
    while True:
        page = rest.task_instances.get_task_instances(dag_id, "~", limit=100, offset=offset).task_instances
        tis += page
        offset += len(page)
        if len(page) < 100:
            return tis


def _figures(tis: list, wall: float, peak: int) -> dict:
    durations = sorted(float(ti.duration) for ti in tis if ti.duration is not None)
    first = min(_when(ti.start_date) for ti in tis)
    last = max(_when(ti.end_date) for ti in tis)
    span = (last - first).total_seconds()
    return {
        "task_instances": len(tis),
        "wall_seconds": round(wall, 1),
        "throughput_tasks_per_second": round(len(tis) / span, 2),
        "task_seconds_p50": round(statistics.median(durations), 2),
        "task_seconds_p95": round(durations[min(len(durations) - 1, int(0.95 * len(durations)))], 2),
        "peak_memory_mb": round(peak / 2**20),
        "parallelism": PARALLELISM,
    }


def _archive_mismatches(summary: dict, archive: Path) -> list[str]:
    """The zip holds exactly the manifest's files with the manifest's hashes."""
    manifest = {f["path"]: f["sha256"] for f in json.loads(Path(summary["manifest_path"]).read_bytes())["files"]}
    with zipfile.ZipFile(archive) as zf:
        inside = {i.filename.rstrip("/"): hashlib.sha256(zf.read(i)).hexdigest() for i in zf.infolist() if not i.is_dir()}
    prefixes = {name.split("/", 1)[0] for name in inside}
    if len(prefixes) == 1 and not set(inside) & set(manifest):  # members under one top-level folder
        inside = {name.split("/", 1)[1]: sha for name, sha in inside.items()}
    return [] if inside == manifest else [f"{archive.name}: members differ from the manifest"]


@pytest.mark.timeout(1500)  # never hang CI: about 4 (Local) and 7 (Celery) minutes on 2 busy cores
@pytest.mark.parametrize("executor", ["LocalExecutor", "CeleryExecutor"])
def test_load(executor):
    with bundle_stack(executor, {"hisham_load_dags.py": DAGS}, parallelism=PARALLELISM) as stack:
        stack.wait_for_dags("load_generate_archive", "load_mapped", timeout=180)
        rest = Rest(stack.client())
        pids = [p.pid for p in stack._procs.values()]
        figures = {}
        with MemorySampler(pids) as memory:
            started = time.monotonic()
            for n in range(RUNS):
                rest.trigger("load_generate_archive", {"n": n})
            runs = _wait_all(rest, "load_generate_archive", RUNS, timeout=60 + RUNS * 6)
            wall = time.monotonic() - started
        assert sorted(_state(r) for r in runs) == ["success"] * RUNS
        tis = _task_instances(rest, "load_generate_archive")
        figures["concurrent_runs"] = {"runs": RUNS, **_figures(tis, wall, memory.peak)}
        bad = []
        for run in runs:
            result = rest.wait("load_generate_archive", run.dag_run_id)
            summary = rest.xcom(result, "generate")
            archive = Path(rest.xcom(result, "archive")["archive_path"])
            assert summary["total_files"] == FILES + 1
            bad += manifest_mismatches(summary) + _archive_mismatches(summary, archive)
        assert bad == []

        with MemorySampler(pids) as memory:
            started = time.monotonic()
            run_id = rest.trigger("load_mapped", {})
            result = rest.wait("load_mapped", run_id, timeout=60 + MAPPED * 4)
            wall = time.monotonic() - started
        assert result.state == "success", result.states()
        tis = _task_instances(rest, "load_mapped")
        assert len(tis) == MAPPED and {_state(t) for t in tis} == {"success"}
        figures["mapped_tasks"] = {"mapped": MAPPED, **_figures(tis, wall, memory.peak)}
        for i in range(MAPPED):
            entry = rest.xcoms.get_xcom_entry("load_mapped", "generate", run_id, "return_value", map_index=i,
                                              deserialize=True)
            value = entry.actual_instance.value if hasattr(entry, "actual_instance") else entry.value
            summary = json.loads(value) if isinstance(value, str) else value
            assert summary["project_id"] == f"mapped-{i}"
            bad += manifest_mismatches(summary)
        assert bad == []
        figures["verified_projects"] = RUNS + MAPPED
        figures["cpu_count"] = os.cpu_count()
        merge_artifact(LOAD_JSON, "executors", executor, figures)
        print(f"\n{executor}: {json.dumps(figures)}")
