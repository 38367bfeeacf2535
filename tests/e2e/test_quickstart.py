"""The quickstart's Python core (scripts/quickstart.py) runs end to end and leaves nothing running."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import signal
import sys
import time
from pathlib import Path

import requests

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "quickstart.py"


def run_quickstart(tmp_path: Path, *args: str, env_extra: dict[str, str] | None = None,
                   ) -> tuple[subprocess.CompletedProcess, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(env_extra or {})
    env["PYTHONPATH"] = str(REPO_ROOT)
    home = tmp_path / "home"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--home", str(home), *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    return proc, proc.stdout + proc.stderr


def assert_all_stopped(output: str) -> None:
    urls = re.findall(r"http://127\.0\.0\.1:(\d+)", output)
    assert urls, output
    for port in set(urls):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", int(port))) != 0, f"port {port} still open after the quickstart"
    leftover = subprocess.run(["pgrep", "-f", "hisham-quickstart-test"], capture_output=True, text=True).stdout
    assert not leftover.strip(), leftover


def test_quickstart_core_runs_a_dag_through_the_rest_api_and_stops_everything(tmp_path):
    tmp_path = tmp_path / "hisham-quickstart-test"
    proc, output = run_quickstart(tmp_path, "--dag", "hisham_e2e_checks", "--bundle", "tests/dags",
                                  "--conf", '{"count": 2, "greeting": "quick"}')
    assert proc.returncode == 0, output[-4000:]
    assert "LOCAL STAND-IN" in output
    assert 'with conf {"count": 2, "greeting": "quick"}' in output
    assert re.search(r"flaky\s+up_for_retry", output) and re.search(r"flaky\s+success", output)
    assert "the run succeeded" in output and output.rstrip().endswith("[quickstart] done")
    assert_all_stopped(output)
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_quickstart_core_reports_a_failed_run_keeps_running_on_request_then_stops_everything(tmp_path):
    """``--keep-running`` leaves the UI up after the run (here a failed one) until SIGTERM/Ctrl-C."""
    tmp_path = tmp_path / "hisham-quickstart-test"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--home", str(tmp_path / "home"), "--dag", "hisham_e2e_checks",
         "--bundle", "tests/dags", "--conf", '{"fail": true}', "--keep-running"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "keeps running for you to explore" in line:
                break
        output = "".join(lines)
        ui = re.search(r"explore: (http://127\.0\.0\.1:\d+)", output)
        assert ui, output[-4000:]
        assert "task maybe_fail failed" in output and "step maybe_fail failed on purpose" in output
        assert requests.get(f"{ui.group(1)}/api/v2/monitor/health", timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    output += rest
    assert proc.returncode == 1, output[-4000:]
    assert output.rstrip().endswith("[quickstart] stopping on request"), output[-2000:]
    assert_all_stopped(output)
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_quickstart_refuses_a_malformed_conf_in_one_line_before_starting_anything(tmp_path):
    for conf in ("{not json", "[1, 2]"):
        for cmd in (["bash", "scripts/quickstart.sh", "--conf", conf],
                    [sys.executable, str(SCRIPT), "--home", str(tmp_path / "never"), "--conf", conf]):
            started = time.monotonic()
            proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                                  env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
            assert proc.returncode == 2, (cmd, proc.stdout, proc.stderr)
            message = [line for line in (proc.stdout + proc.stderr).splitlines() if "--conf" in line]
            assert message and ("JSON object" in message[-1] or "JSON" in message[-1]), proc.stderr
            assert time.monotonic() - started < 30 and not (tmp_path / "never").exists()


def test_quickstart_runs_the_sequential_example(tmp_path):
    """The README's quickstart: the sequential example, generated project, pushed repo, archive."""
    tmp_path = tmp_path / "hisham-quickstart-test"
    proc, output = run_quickstart(tmp_path)
    assert proc.returncode == 0, output[-4000:]
    assert "LOCAL STAND-IN" in output and "the run succeeded" in output
    assert "triggered hisham_story_to_repository through the REST API" in output
    output_dir = re.search(r"generate\.output_dir: (\S+)", output)
    assert output_dir and (Path(output_dir.group(1)) / "README.md").is_file(), output
    pushed = re.search(r"pushed repository: http://127\.0\.0\.1:\d+/\S+\.git at commit ([0-9a-f]{40})", output)
    assert pushed, output
    clone = tmp_path / "home" / "pushed-repository"
    head = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    assert head.stdout.strip() == pushed.group(1)
    assert (clone / "README.md").read_bytes() == (Path(output_dir.group(1)) / "README.md").read_bytes()
    archive = re.search(r"archive\.archive_path: (\S+\.zip)", output)
    assert archive and Path(archive.group(1)).is_file(), output
    assert_all_stopped(output)
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_quickstart_against_a_real_hishamos_asks_for_the_params_it_cannot_fill(tmp_path):
    """With HishamOS settings in the environment no stand-in starts, so nobody supplies the
    example's HishamOS project: the REST API's Params message and the fix are printed."""
    tmp_path = tmp_path / "hisham-quickstart-test"
    conn = '{"conn_type": "hishamos", "host": "http://127.0.0.1:9", "extra": {"auth_mode": "api_key", "api_key": "k"}}'
    proc, output = run_quickstart(tmp_path, env_extra={"AIRFLOW_CONN_HISHAMOS_DEFAULT": conn})
    assert proc.returncode == 2, output[-4000:]
    assert "HishamOS: the real service from AIRFLOW_CONN_HISHAMOS_DEFAULT" in output and "STAND-IN" not in output
    assert "Invalid input for param hishamos_project" in output
    assert "--conf" in output and "hishamos_project" in output.splitlines()[-1]
    assert_all_stopped(output)
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_quickstart_runs_the_agents_example(tmp_path):
    """``--dag agents``: requirements agent -> a story per requirement -> coding agent -> pushed files."""
    tmp_path = tmp_path / "hisham-quickstart-test"
    proc, output = run_quickstart(tmp_path, "--dag", "agents")
    assert proc.returncode == 0, output[-4000:]
    assert "triggered hishamos_agents_to_repository through the REST API" in output
    assert re.search(r"create_story\s+success", output), output[-4000:]
    output_dir = re.search(r"generate\.output_dir: (\S+)", output)
    assert output_dir, output[-4000:]
    generated = Path(output_dir.group(1))
    pushed = re.search(r"pushed repository: http://127\.0\.0\.1:\d+/\S+\.git at commit ([0-9a-f]{40})", output)
    assert pushed, output[-4000:]
    clone = tmp_path / "home" / "pushed-repository"
    files = sorted(str(p.relative_to(generated)) for p in generated.rglob("*") if p.is_file())
    assert any(f.startswith("src/") for f in files), files
    assert sorted(str(p.relative_to(clone)) for p in clone.rglob("*") if p.is_file() and ".git" not in p.parts) == files
    assert_all_stopped(output)
    shutil.rmtree(tmp_path, ignore_errors=True)
