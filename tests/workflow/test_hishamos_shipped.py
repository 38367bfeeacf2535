"""HishamOS's shipped workflow definitions run under ``dag.test()`` against the HishamOS stand-in,
whose 16 agents are the real backend's and answer deterministically (some with JSON).

The definitions name agents the backend lacks ("QA Agent", "Code Review Agent", "Architect
Agent"): these tests pass a mapping, and one test shows what happens without it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from airflow.utils.state import DagRunState, TaskInstanceState

from tests.conftest import TEST_DAGS, xcom

DEFINITIONS = Path(__file__).parent / "hishamos_definitions"
MAPPING = {"QA Agent": "qa-testing-agent", "Code Review Agent": "code-reviewer", "Architect Agent": "coding-agent"}
LOADER = (
    "# airflow dag\nfrom pathlib import Path\nfrom airflow_provider_hisham.workflow import load_dags\n"
    "load_dags(Path(__file__).parent / 'workflows', globals(), cache_dir=False)\n"
)


def dags_of(name: str, definitions: dict[str, str]) -> dict:
    """The DAGs a folder ``TEST_DAGS/<name>`` of ``{file name: definition text}`` loads into."""
    from airflow.dag_processing.dagbag import DagBag

    folder = TEST_DAGS / name
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "workflows").mkdir(parents=True)
    for file_name, text in definitions.items():
        (folder / "workflows" / file_name).write_text(text)
    (folder / "loader.py").write_text(LOADER)
    bag = DagBag(dag_folder=str(folder), bundle_path=TEST_DAGS, bundle_name="generated")
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags


@pytest.fixture(scope="module")
def shipped_dags():
    return dags_of("hishamos_shipped", {p.name: p.read_text() for p in DEFINITIONS.glob("*.yaml")})


def conf_for(path: Path) -> dict[str, str]:
    """A value for every ``{{input.x}}`` of a definition."""
    return {name: f"{name} for the test" for name in re.findall(r"\{\{input\.(\w+)", path.read_text())}


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


@pytest.mark.parametrize("path", sorted(DEFINITIONS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_definition_runs_green_against_the_stand_in(path, shipped_dags, hishamos, hishamos_conn):
    import yaml

    hishamos_conn("password", agents=MAPPING)  # the mapping in the connection's extra
    data = yaml.safe_load(path.read_text())
    dag = shipped_dags[re.sub(r"[^a-z0-9]+", "_", data["name"].lower()).strip("_")]
    dr = dag.test(run_conf=conf_for(path))
    got = states(dr)
    assert dr.state == DagRunState.SUCCESS, got
    first = data["steps"][0]["id"]
    assert got["resolve_agents"] == got[first] == TaskInstanceState.SUCCESS
    result = xcom(dr, first)
    assert result["success"] is True and result["text"]
    ran = [t for t, s in got.items() if s == TaskInstanceState.SUCCESS and t in {s["id"] for s in data["steps"]}]
    assert len(hishamos.state.executions) == len(ran)  # one agent execution per step that ran
    # the first step's inputs reached the agent as its context, as HishamOS's engine sends them
    sent = hishamos.state.executions[0]["context"]
    for key, value in data["steps"][0].get("inputs", {}).items():
        name = re.fullmatch(r"\{\{input\.(\w+)\}\}", value)
        assert sent[key] == (f"{name.group(1)} for the test" if name else value)


def test_bug_lifecycle_reads_the_triage_json_in_its_condition(shipped_dags, hishamos, hishamos_conn):
    hishamos_conn("password", agents=MAPPING)
    dr = shipped_dags["bug_lifecycle"].test(run_conf=conf_for(DEFINITIONS / "bug_lifecycle.yaml"))
    got = states(dr)
    severity = xcom(dr, "triage")["severity"]
    assert isinstance(severity, int)
    expected = TaskInstanceState.SUCCESS if severity > 2 else TaskInstanceState.SKIPPED
    assert got["assign"] == expected and got["close"] == expected
    # no step failed: no handler, no rework ran
    assert {got[t] for t in ("escalate", "rollback", "notify_team", "fix__rework_1", "workflow_failed")} == {TaskInstanceState.SKIPPED}


def test_without_a_mapping_unresolved_agents_fail_the_first_task_and_no_agent_runs(hishamos, hishamos_conn):
    """The shipped definition with no retry delay: the tasks that still run after the resolver
    failed are retried HishamOS's 30 s apart by default, each wait spent on the clock."""
    import yaml

    hishamos_conn("password")
    data = yaml.safe_load((DEFINITIONS / "feature_development.yaml").read_text())
    data.setdefault("metadata", {})["retry_delay_seconds"] = 0
    dags = dags_of("hishamos_shipped_no_delay", {"feature_development.yaml": yaml.safe_dump(data, sort_keys=False)})
    dr = dags["feature_development"].test(run_conf=conf_for(DEFINITIONS / "feature_development.yaml"))
    got = states(dr)
    assert dr.state == DagRunState.FAILED
    assert got["resolve_agents"] == TaskInstanceState.FAILED
    assert got["create_story"] == TaskInstanceState.UPSTREAM_FAILED
    assert hishamos.state.executions == []  # not one agent ran, rework heads and handlers included
    from airflow_provider_hisham.operators.agent import resolve_agents
    from airflow_provider_hisham.agents import AgentNotFoundError

    with pytest.raises(AgentNotFoundError) as err:
        resolve_agents(["Business Analyst Agent", "Architect Agent", "QA Agent"])
    assert "Architect Agent" in str(err.value) and "QA Agent" in str(err.value) and "qa-testing-agent" in str(err.value)


def test_a_mapping_in_the_definition_is_used(hishamos, hishamos_conn):
    from airflow.dag_processing.dagbag import DagBag

    hishamos_conn("password")
    text = (DEFINITIONS / "user_story_generation.yaml").read_text().replace(
        'name: "User Story Generation"', 'name: "User Story Generation"\nmetadata:\n  agents: {"QA Agent": "QA Engineer"}')
    folder = TEST_DAGS / "hishamos_mapped"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "workflows").mkdir(parents=True)
    (folder / "workflows" / "stories.yaml").write_text(text)
    (folder / "loader.py").write_text(LOADER)
    bag = DagBag(dag_folder=str(folder), bundle_path=TEST_DAGS, bundle_name="generated")
    assert bag.import_errors == {}, bag.import_errors
    dr = bag.dags["user_story_generation"].test(run_conf={"feature": "login", "vision": "simple"})
    assert dr.state == DagRunState.SUCCESS, states(dr)
    assert xcom(dr, "add_acceptance_criteria")["agent"] == "qa-testing-agent"


def test_the_example_definition_runs_agents_files_the_story_generates_and_archives(hishamos, hishamos_conn, airflow_home):
    """dags/workflows/hishamos_feature_to_archive.yaml through the shipped loader."""
    import zipfile

    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import REPO_ROOT

    hishamos_conn("password")
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"), bundle_path=REPO_ROOT / "dags", bundle_name="dags-folder")
    assert bag.import_errors == {}, bag.import_errors
    dag = bag.dags["hishamos_feature_to_archive"]
    assert {"implement__rework_1", "review__rework_1", "review__reworked", "generate__condition"} <= set(dag.task_ids)
    dr = dag.test(run_conf={"hishamos_project": hishamos.state.demo_project_id, "project_slug": "csv-export"})
    got = states(dr)
    assert dr.state == DagRunState.SUCCESS, got
    story = xcom(dr, "create_story")
    assert hishamos.state.stories[story["id"]]["title"] == "Customers can export their order history as CSV"
    assert got["implement__rework_1"] == TaskInstanceState.SKIPPED  # the review passed
    generated = Path(xcom(dr, "generate")["output_dir"])
    assert generated == airflow_home / "generated-projects" / "csv-export"
    files = sorted(str(p.relative_to(generated)) for p in generated.rglob("*") if p.is_file())
    assert "README.md" in files and any(f.startswith("src/") for f in files)
    with zipfile.ZipFile(xcom(dr, "archive")["archive_path"]) as archive:
        assert sorted(n for n in archive.namelist() if not n.endswith("/")) == files
