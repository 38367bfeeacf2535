"""The disk fills up during generation: a real ENOSPC from a small tmpfs (as root), else a real
EFBIG from ``RLIMIT_FSIZE`` in a child process.

The failing run ends with a clear error; the previous generation of the same project is still
there, whole and matching its manifest; no temporary tree is left; once there is room the
retried generation succeeds and matches its new manifest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from airflow.utils.state import DagRunState

from tests.conftest import REPO_ROOT, run_dag, xcom
from tests.faults.manifest import manifest_mismatches

SMALL = {"README.md": "# v1\n", "src/app.py": "print('v1')\n"}
# 24 files of 32 KiB: 768 KiB, three times what the file system holds.
LARGE = {f"data/blob_{i:02d}.txt": ("x" * 63 + "\n") * 512 for i in range(24)}
HEAD = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_hisham.operators.file_generation import HishamOSFileGenerationOperator

with DAG("{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False) as dag:
    HishamOSFileGenerationOperator(task_id="generate", project_id="diskfull", output_root={root!r},
                           structure={structure!r}, retries=0)
"""


def _mount_tmpfs(size: str) -> Path | None:
    """A tmpfs of ``size`` (needs root); None where mounting is not allowed."""
    if os.geteuid() != 0 or os.environ.get("HISHAM_FAULTS_NO_TMPFS"):  # the latter: try the fallback
        return None
    mnt = Path(tempfile.mkdtemp(prefix="hisham-tmpfs-"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        mnt.rmdir()
        return None
    return mnt


def _leftovers(root: Path) -> list[str]:
    """Temporary trees or manifests left in the projects' state folders."""
    state = root / ".hisham"
    return sorted(str(p.relative_to(root)) for p in state.rglob("*")
                  if p.name.startswith(("tmp-", ".manifest.")) or p.name.endswith(".next")) if state.exists() else []


def _generate(root: Path, structure: dict, name: str):
    return run_dag(HEAD.format(dag_id=f"fault_disk_{name}", root=str(root), structure=structure))


def test_disk_full_during_generation_keeps_the_last_good_tree(fault_log, capfd, caplog):
    mnt = _mount_tmpfs("256k")
    if mnt is None:
        return _rlimit_fallback(fault_log)
    try:
        good = _generate(mnt, SMALL, "v1")
        assert good.state == DagRunState.SUCCESS
        v1 = xcom(good, "generate")
        full = _generate(mnt, LARGE, "v2_full")
        fault_log.inject("tmpfs 256 KiB", "ENOSPC", 1)
        assert full.state == DagRunState.FAILED
        out = capfd.readouterr()
        assert "No space left on device" in out.out + out.err + caplog.text
        assert manifest_mismatches(v1) == []  # the previous generation is whole, nothing lost
        assert (mnt / "diskfull" / "README.md").read_text().startswith("# v1")
        assert _leftovers(mnt) == []
        subprocess.run(["mount", "-o", "remount,size=4m", str(mnt)], check=True)  # room again
        retried = _generate(mnt, LARGE, "v2_retry")
        assert retried.state == DagRunState.SUCCESS
        assert manifest_mismatches(xcom(retried, "generate")) == []
        assert _leftovers(mnt) == []
        fault_log.survived("failed: [Errno 28] No space left on device; the retry with room succeeded")
    finally:
        if subprocess.run(["umount", "-l", str(mnt)], check=False).returncode == 0:
            mnt.rmdir()


CHILD = """
import json, resource, signal, sys
from airflow_provider_hisham.generation.generator import ProjectGenerator
root, limit, structure = sys.argv[1], int(sys.argv[2]), json.load(sys.stdin)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    result = ProjectGenerator(root).generate("diskfull", structure=structure)
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
else:
    print(json.dumps({"summary": result.summary}))
"""


def _child(root: Path, structure: dict, limit: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(root), str(limit)], input=json.dumps(structure),
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rlimit_fallback(fault_log) -> None:
    """Without root: the same checks with EFBIG from RLIMIT_FSIZE (16 KiB per file)."""
    root = Path(tempfile.mkdtemp(prefix="hisham-efbig-"))
    v1 = _child(root, SMALL, 1 << 20)["summary"]
    failed = _child(root, LARGE, 16 << 10)
    fault_log.inject("RLIMIT_FSIZE 16 KiB", "EFBIG", 1)
    assert "File too large" in failed.get("error", ""), failed
    assert manifest_mismatches(v1) == [] and _leftovers(root) == []
    retried = _child(root, LARGE, 1 << 20)["summary"]
    assert manifest_mismatches(retried) == [] and _leftovers(root) == []
    fault_log.survived("failed: [Errno 27] File too large; the retry with room succeeded")
