"""Reliability report: faults survived, hostile inputs refused, secrets found, load held.

    python -m scripts.report            # runs the security corpus, reads the other figures
    python -m scripts.report --no-run   # reuses artifacts/security-junit.xml from the last run

Figures come from the runs' own result files under ``artifacts/`` (gitignored):
``faults.json`` (tests/faults and tests/e2e/test_faults_kill.py), ``load.json``
(tests/e2e/test_load.py), the security corpus's JUnit XML (tests/security, run here), and the
kept logs (``artifacts/logs/``), scanned for every test credential the runs registered. Exits 1
when a fault was not survived, a hostile input was not refused, or a secret was found.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "artifacts"
SCAN_SECRETS = ARTIFACTS / ".scan" / "secrets.json"
SECURITY_JUNIT = ARTIFACTS / "security-junit.xml"
CORPUS_GLOB = "test_*_corpus.py"


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def fault_rows(data: dict[str, Any] | None) -> tuple[list[list[str]], bool]:
    """One row per fault kind: faults injected (served by the stand-ins), survived, runs."""
    if not data or not data.get("cases"):
        return [["(no results: run pytest tests/faults tests/e2e/test_faults_kill.py)", "-", "-", "-"]], False
    injected: dict[str, int] = defaultdict(int)
    survived: dict[str, int] = defaultdict(int)
    runs: dict[str, int] = defaultdict(int)
    for case in data["cases"].values():
        for fault in case["faults"]:
            label = f"{fault['target']}: {fault['kind']}"
            injected[label] += fault["served"]
            survived[label] += fault["served"] if case["survived"] else 0
            runs[label] += 1
    rows = [[label, str(injected[label]), str(survived[label]), str(runs[label])] for label in sorted(injected)]
    total_in, total_ok = sum(injected.values()), sum(survived.values())
    rows.append(["TOTAL", str(total_in), str(total_ok), str(len(data["cases"]))])
    return rows, total_in == total_ok


def run_security_corpus() -> None:
    """Run the hostile-input corpus (tests/security/*_corpus.py) and keep its JUnit XML."""
    ARTIFACTS.mkdir(exist_ok=True)
    files = sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "tests" / "security").glob(CORPUS_GLOB))
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={SECURITY_JUNIT}",
                    *files], cwd=REPO_ROOT, stdout=subprocess.DEVNULL, check=False)


def security_rows() -> tuple[list[list[str]], bool]:
    """Per corpus file: hostile inputs tried (parametrized cases run) and refused (cases passed)."""
    try:
        root = ET.parse(SECURITY_JUNIT).getroot()
    except (OSError, ET.ParseError):
        return [["(no results: run without --no-run)", "-", "-"]], False
    tried: dict[str, int] = defaultdict(int)
    refused: dict[str, int] = defaultdict(int)
    for case in root.iter("testcase"):
        name, module = case.get("name", ""), case.get("classname", "").rsplit(".", 1)[-1]
        if "[" not in name or not module.endswith("_corpus"):
            continue  # a fixed check, not one hostile input
        if case.find("skipped") is not None:
            continue
        tried[module] += 1
        if case.find("failure") is None and case.find("error") is None:
            refused[module] += 1
    rows = [[module, str(tried[module]), str(refused[module])] for module in sorted(tried)]
    rows.append(["TOTAL", str(sum(tried.values())), str(sum(refused.values()))])
    return rows, bool(tried) and tried == refused


def secret_rows() -> tuple[list[list[str]], bool]:
    """Every registered test credential (plain and URL-encoded) searched in every kept file."""
    secrets = _load(SCAN_SECRETS) or []
    needles = {s.encode() for s in secrets} | {quote(s, safe="").encode() for s in secrets}
    files = [p for p in ARTIFACTS.rglob("*") if p.is_file() and ".scan" not in p.parts and not p.name.startswith(".")]
    found: list[str] = []
    size = 0
    for path in files:
        data = path.read_bytes()
        size += len(data)
        found += [str(path.relative_to(ARTIFACTS)) for needle in needles if needle in data]
    rows = [["credentials searched", str(len(secrets))], ["files scanned", str(len(files))],
            ["bytes scanned", str(size)], ["secrets found", str(len(found))]]
    rows += [["  in", f] for f in sorted(set(found))]
    return rows, bool(secrets) and bool(files) and not found


def load_rows(data: dict[str, Any] | None) -> tuple[list[list[str]], bool]:
    if not data or not data.get("executors"):
        return [["(no results: run pytest tests/e2e/test_load.py)"] + ["-"] * 7], False
    rows = []
    for executor, figures in sorted(data["executors"].items()):
        for scenario in ("concurrent_runs", "mapped_tasks"):
            f = figures[scenario]
            size = f.get("runs") or f.get("mapped")
            rows.append([f"{executor} {scenario.replace('_', ' ')}", f"{size} held", str(f["task_instances"]),
                         f"{f['throughput_tasks_per_second']}/s", f"{f['task_seconds_p50']} s",
                         f"{f['task_seconds_p95']} s", f"{f['peak_memory_mb']} MB", f"{f['wall_seconds']} s"])
    return rows, True


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([f"\n{title}", line(header), sep, *map(line, rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-run", action="store_true", help="reuse the last security corpus results")
    args = parser.parse_args(argv)
    if not args.no_run:
        run_security_corpus()
    faults = _load(ARTIFACTS / "faults.json")
    load = _load(ARTIFACTS / "load.json")
    sections = [
        ("Faults injected / survived" + (f" (updated {faults['updated']})" if faults else ""),
         ["fault", "injected", "survived", "runs"], fault_rows(faults)),
        ("Hostile inputs tried / refused (tests/security corpus)", ["corpus", "tried", "refused"], security_rows()),
        ("Secrets in the runs' logs and artifacts (must be 0)", ["check", "value"], secret_rows()),
        ("Load held" + (f" (updated {load['updated']})" if load else ""),
         ["scenario", "result", "tasks", "throughput", "p50", "p95", "peak memory", "wall"], load_rows(load)),
    ]
    ok = True
    for title, header, (rows, good) in sections:
        print(table(title, header, rows))
        ok &= good
    print(f"\n{'ALL HELD' if ok else 'NOT ALL HELD'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
