"""DagBag parse time: HishamOS definitions vs the same workflows in the provider's own format.

N workflows of 10-20 agent steps (a head, a parallel group of 4 joined by the next step, then
a chain) are written twice into a temp folder, each loaded by one ``load_dags`` DAG file:

* hishamos: HishamOS's definition format (``name`` / ``steps`` / ``agent``, ``on_success``,
  ``parallel_group``, ``{{input.x}}`` and ``{{steps.<id>.output.text}}``);
* own: the provider's format (``dag_id``, a ``parallel`` block with its combine step,
  ``{{ params.x }}``, ``{{ steps.<id>.output.text }}``).

Both build HishamOSAgentOperator tasks (the HishamOS DAGs also get their ``resolve_agents``
task). "cold" is a fresh process parsing with an empty plan cache (every file validated and
compiled); "cached" a fresh process with the cache the cold run left (the dag processor's
re-parse of an unchanged folder). Variants are measured in interleaved rounds (the order
alternates); medians and the spread (min-max) are reported. Uses bench_dag_parse's
``measure`` (a fresh ``python`` per sample timing ``DagBag(folder)``).

    python bench/bench_hishamos_parse.py [--workflows 50] [--rounds 5] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_dag_parse import measure  # noqa: E402
from bench.rounds import DEFAULT_ROUNDS, median, order, ratio_spread, spread  # noqa: E402

LOADER = "from pathlib import Path\nfrom airflow_provider_hisham.workflow import load_dags\n\nload_dags(Path(__file__).parent / 'workflows', globals())\n"
AGENTS = ("Coding Agent", "Business Analyst Agent", "DevOps Agent", "Project Manager Agent")
FAN = 4


def steps_of(n: int) -> int:
    return 10 + n % 11  # 10..20


def _hishamos(n: int) -> dict:
    count = steps_of(n)
    steps = [{"id": "s0", "name": "Start", "agent": AGENTS[0], "inputs": {"feature": "{{input.feature}}"}, "max_retries": 1}]
    steps.append({"id": "s1", "agent": AGENTS[1], "inputs": {"analysis": "{{steps.s0.output.text}}"}})
    steps += [{"id": f"p{i}", "agent": AGENTS[i % 4], "parallel": True, "parallel_group": "lanes",
               "inputs": {"part": f"lane {i}", "story": "{{steps.s1.output.text}}"}} for i in range(FAN)]
    previous = "p0"
    for i in range(count - 2 - FAN):
        steps.append({"id": f"c{i}", "agent": AGENTS[i % 4], "inputs": {"before": "{{steps.%s.output.text}}" % previous}, "timeout_seconds": 600})
        previous = f"c{i}"
    return {"name": f"Bench Workflow {n:03d}", "version": "1.0", "description": "bench", "metadata": {"tags": ["bench"]}, "steps": steps}


def _own(n: int) -> dict:
    count = steps_of(n)

    def agent(step_id: str, name: str, inputs: dict, **extra) -> dict:
        return {"id": step_id, "type": "agent", "config": {"agent": name, "inputs": inputs}, **extra}

    lanes = [agent(f"p{i}", AGENTS[i % 4], {"part": f"lane {i}", "story": "{{ steps.s1.output.text }}"}) for i in range(FAN)]
    steps = [
        agent("s0", AGENTS[0], {"feature": "{{ params.feature }}"}, retries=1, doc="Start"),
        agent("s1", AGENTS[1], {"analysis": "{{ steps.s0.output.text }}"}),
        {"parallel": {"id": "lanes", "steps": lanes,
                      "combine": agent("c0", AGENTS[0], {"before": "{{ steps.p0.output.text }}"}, execution_timeout_seconds=600)}},
    ]
    for i in range(1, count - 2 - FAN):
        steps.append(agent(f"c{i}", AGENTS[i % 4], {"before": "{{ steps.c%d.output.text }}" % (i - 1)}, execution_timeout_seconds=600))
    return {"dag_id": f"bench_workflow_{n:03d}", "description": "bench", "tags": ["bench"],
            "params": {"feature": {"type": "string"}}, "steps": steps}


def write(folder: Path, count: int, kind: str) -> None:
    (folder / "workflows").mkdir(parents=True)
    (folder / "loader.py").write_text(LOADER)
    make = _hishamos if kind == "hishamos" else _own
    for n in range(count):
        (folder / "workflows" / f"wf_{n:03d}.json").write_text(json.dumps(make(n), indent=1))


def run(workflows: int, rounds: int, runs: int) -> dict[str, dict]:
    with tempfile.TemporaryDirectory(prefix="hisham-bench-hdefs-") as tmp:
        root = Path(tmp)
        folders = {kind: root / kind for kind in ("hishamos", "own")}
        homes = {kind: root / f"home-{kind}" for kind in folders}
        for kind, folder in folders.items():
            write(folder, workflows, kind)
            homes[kind].mkdir()
        samples: dict[str, list[dict]] = {f"{k} {m}": [] for m in ("cold", "cached") for k in folders}
        for number in range(rounds):
            kinds = order(list(folders), number)
            for kind in kinds:
                shutil.rmtree(homes[kind] / "cache", ignore_errors=True)
                samples[f"{kind} cold"].append(measure(folders[kind], runs, homes[kind]))
            for kind in kinds:
                samples[f"{kind} cached"].append(measure(folders[kind], runs, homes[kind]))
    results = {}
    for name, got in samples.items():
        firsts = [g["first"] for g in got]
        results[name] = {"median": median(firsts), "min": min(firsts), "max": max(firsts), "rounds": firsts,
                         "sizes": sorted({tuple(s) for g in got for s in g["sizes"]})}
    return results


def report(results: dict[str, dict], workflows: int, rounds: int) -> str:
    lines = [f"DagBag parse of {workflows} workflows x 10-20 agent steps, first parse of a fresh process, "
             f"{rounds} interleaved rounds"]
    for name, r in results.items():
        dags, tasks, errors = r["sizes"][0]
        lines.append(f"  {name:16s} {spread(r['rounds'])}   ({dags} DAGs, {tasks} tasks, {errors} import errors)")
    for mode in ("cold", "cached"):
        ours, own = results[f"hishamos {mode}"]["rounds"], results[f"own {mode}"]["rounds"]
        lines.append(f"  {mode:6s}: HishamOS format / own format = {ratio_spread(ours, own)} (target <= 1.2x)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="interleaved rounds (fresh processes per variant)")
    parser.add_argument("--runs", type=int, default=2, help="parses per process (only the first is reported)")
    args = parser.parse_args(argv)
    results = run(args.workflows, args.rounds, args.runs)
    print(report(results, args.workflows, args.rounds))
    return results


if __name__ == "__main__":
    main()
