"""DagBag parse time: config-built DAGs vs the same DAGs hand-written in Python vs dag-factory.

N workflows of 20 steps each (a 3-step head, a 14-way fan-out, a join, a branch choosing
between a publish step and the branch's join) are written three ways into a temp folder:

* ours: ``load_dags`` over N YAML configs from one DAG file (the shipped loader);
* hand: N Python DAG files written the way a person would;
* dag-factory 1.1: ``load_yaml_dags`` over N YAML configs from one DAG file.

Every DAG uses EmptyOperator and BranchPythonOperator, so only the factories differ. Each
measurement is a fresh ``python`` process that imports Airflow and the standard operators
first (as the dag processor has them) and then times ``DagBag(folder)``: "first" is the
first parse in that process (the factory's own imports included, as in a dag-processor
child), "again" the median of further parses in the same process. Each figure is the median of
``--rounds`` interleaved rounds with its spread; comparisons are ratios of medians.

    python bench/bench_dag_parse.py [--workflows 50] [--runs 4] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.rounds import DEFAULT_ROUNDS, alternating_rounds, median, ratio_spread, spread  # noqa: E402
EMPTY = "airflow.providers.standard.operators.empty.EmptyOperator"
BRANCH = "airflow.providers.standard.operators.python.BranchPythonOperator"
FAN = 14


def choose_publish(**context):
    """dag-factory's branch callable (importable by dotted path)."""
    return ["publish"] if context["params"].get("publish") else ["done"]


def _ours(folder: Path, count: int) -> None:
    (folder / "workflows").mkdir(parents=True)
    (folder / "hisham_workflows.py").write_text(
        textwrap.dedent(
            f"""\
            from pathlib import Path
            from airflow_provider_hisham.workflow import load_dags, register_step_type

            register_step_type("noop", "{EMPTY}", {{"type": "object", "additionalProperties": False}}, replace=True)
            load_dags(Path(__file__).parent / "workflows", globals())
            """
        )
    )
    for n in range(count):
        lanes = "\n".join(f"          - {{id: f{i}, type: noop}}" for i in range(FAN))
        (folder / "workflows" / f"wf_{n:03d}.yaml").write_text(
            f"""\
dag_id: ours_{n:03d}
tags: [bench]
params:
  publish: {{type: boolean, default: true}}
steps:
  - {{id: h1, type: noop}}
  - {{id: h2, type: noop}}
  - {{id: h3, type: noop}}
  - parallel:
      id: fan
      steps:
{lanes}
      combine: {{id: join, type: noop}}
  - conditional:
      id: branch
      branches:
        - when: params.publish
          steps: [{{id: publish, type: noop}}]
      join: {{id: done, type: noop}}
"""
        )


def _hand(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for n in range(count):
        (folder / f"hand_{n:03d}.py").write_text(
            textwrap.dedent(
                f"""\
                import pendulum
                from airflow.sdk import DAG, Param
                from airflow.providers.standard.operators.empty import EmptyOperator
                from airflow.providers.standard.operators.python import BranchPythonOperator


                def choose(**context):
                    return ["publish"] if context["params"]["publish"] else ["done"]


                with DAG(
                    "hand_{n:03d}",
                    schedule=None,
                    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
                    catchup=False,
                    tags=["bench"],
                    params={{"publish": Param(True, type="boolean")}},
                ):
                    h1 = EmptyOperator(task_id="h1")
                    h2 = EmptyOperator(task_id="h2")
                    h3 = EmptyOperator(task_id="h3")
                    fan = [EmptyOperator(task_id=f"f{{i}}") for i in range({FAN})]
                    join = EmptyOperator(task_id="join")
                    branch = BranchPythonOperator(task_id="branch", python_callable=choose)
                    publish = EmptyOperator(task_id="publish")
                    done = EmptyOperator(task_id="done", trigger_rule="none_failed_min_one_success")
                    h1 >> h2 >> h3 >> fan >> join >> branch >> [publish, done]
                    publish >> done
                """
            )
        )


def _dagfactory(folder: Path, count: int) -> None:
    (folder / "configs").mkdir(parents=True)
    (folder / "dagfactory_dags.py").write_text(
        textwrap.dedent(
            """\
            from pathlib import Path
            from dagfactory import load_yaml_dags  # airflow dag

            load_yaml_dags(globals_dict=globals(), dags_folder=str(Path(__file__).parent / "configs"))
            """
        )
    )
    for n in range(count):
        tasks = [{"task_id": "h1", "operator": EMPTY}, {"task_id": "h2", "operator": EMPTY, "dependencies": ["h1"]}]
        tasks.append({"task_id": "h3", "operator": EMPTY, "dependencies": ["h2"]})
        tasks += [{"task_id": f"f{i}", "operator": EMPTY, "dependencies": ["h3"]} for i in range(FAN)]
        tasks.append({"task_id": "join", "operator": EMPTY, "dependencies": [f"f{i}" for i in range(FAN)]})
        tasks.append(
            {"task_id": "branch", "operator": BRANCH, "python_callable": "bench.bench_dag_parse.choose_publish", "dependencies": ["join"]}
        )
        tasks.append({"task_id": "publish", "operator": EMPTY, "dependencies": ["branch"]})
        tasks.append(
            {"task_id": "done", "operator": EMPTY, "trigger_rule": "none_failed_min_one_success", "dependencies": ["branch", "publish"]}
        )
        config = {
            f"df_{n:03d}": {
                "default_args": {"start_date": "2025-01-01", "owner": "airflow"},
                "schedule": None,
                "catchup": False,
                "tags": ["bench"],
                "params": {"publish": True},
                "tasks": tasks,
            }
        }
        (folder / "configs" / f"df_{n:03d}.yml").write_text(json.dumps(config, indent=1))  # JSON is YAML


MEASURE = """
import json, statistics, sys, time
import airflow.sdk
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import BranchPythonOperator
folder, runs = sys.argv[1], int(sys.argv[2])
times, sizes = [], set()
for _ in range(runs):
    start = time.perf_counter()
    bag = DagBag(dag_folder=folder, safe_mode=False)
    times.append(time.perf_counter() - start)
    sizes.add((len(bag.dags), sum(len(d.tasks) for d in bag.dags.values()), len(bag.import_errors)))
print(json.dumps({"first": times[0], "again": statistics.median(times[1:]) if runs > 1 else times[0], "sizes": sorted(sizes)}))
"""


def measure(folder: Path, runs: int, home: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    env.pop("AIRFLOW__HISHAM__WORKFLOW_PLAN_CACHE_DIR", None)
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(folder), str(runs)], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(workflows: int, runs: int, rounds: int = DEFAULT_ROUNDS) -> dict[str, dict]:
    """Build the three folders and measure each once a round, in alternating order; medians win.

    "ours (cold)" empties the plan cache before its process: every config is validated.
    "ours" then starts a new process with the cache the cold run left, as the dag processor
    does on every re-parse of an unchanged folder (so the two always run back to back).
    """
    with tempfile.TemporaryDirectory(prefix="hisham-bench-") as tmp:
        root = Path(tmp)
        home = root / "airflow-home"
        home.mkdir()
        folders = {"ours": root / "ours", "hand": root / "hand", "dag-factory": root / "dagfactory"}
        _ours(folders["ours"], workflows)
        _hand(folders["hand"], workflows)
        _dagfactory(folders["dag-factory"], workflows)

        def ours(_: int) -> dict[str, dict]:
            shutil.rmtree(home / "cache", ignore_errors=True)
            return {"ours (cold)": measure(folders["ours"], runs, home), "ours": measure(folders["ours"], runs, home)}

        sides = {"ours": ours, **{name: (lambda _, f=folder, n=name: {n: measure(f, runs, home)})
                                  for name, folder in folders.items() if name != "ours"}}
        samples: dict[str, list[dict]] = {name: [] for name in ("ours (cold)", *folders)}
        for got in alternating_rounds(sides, rounds):
            for measured in got.values():
                for name, sample in measured.items():
                    samples[name].append(sample)
    results = {}
    for name, got in samples.items():
        sizes = {tuple(s) for g in got for s in g["sizes"]}
        per_round = {key: [g[key] for g in got] for key in ("first", "again")}
        results[name] = {key: median(values) for key, values in per_round.items()}
        results[name].update(sizes=sorted(sizes), rounds=per_round)
    return results


def report(results: dict[str, dict], workflows: int) -> str:
    rounds = len(results["hand"]["rounds"]["first"])
    lines = [f"DagBag parse of {workflows} workflows x 20 steps, {rounds} interleaved rounds (order alternating)"]
    for name, r in results.items():
        dags, tasks, errors = r["sizes"][0]
        lines.append(f"  {name:12s} ({dags} DAGs, {tasks} tasks, {errors} import errors)")
        for key in ("first", "again"):
            lines.append(f"    {key:5s} {spread(r['rounds'][key])}")
    hand, df = results["hand"]["rounds"], results["dag-factory"]["rounds"]
    for name in ("ours", "ours (cold)"):
        ours = results[name]["rounds"]
        for key in ("first", "again") if name == "ours" else ("first",):
            lines.append(
                f"  {name + ' ' + key:17s}: ours / hand-written = {ratio_spread(ours[key], hand[key])} (target <= 1.2x);"
                f" dag-factory / ours = {ratio_spread(df[key], ours[key])} (target >= 2.5x)"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=50)
    parser.add_argument("--runs", type=int, default=4, help="parses per process (first + again)")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="interleaved rounds (fresh processes per variant)")
    args = parser.parse_args(argv)
    results = run(args.workflows, args.runs, args.rounds)
    print(report(results, args.workflows))
    return results


if __name__ == "__main__":
    main()
