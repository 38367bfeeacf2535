"""The example DAGs of dags/ (sequential, parallel, conditional, agents) in a CeleryExecutor deployment.

Each is triggered through the REST API with a conf validated by its Params, against the local
HishamOS stand-in and the local git smart-HTTP server running in this test process, so the test
can check what really happened: the generated files on disk, the commit in the git server, the
archive, the HishamOS records, and, in the browser, the Repository extra link.
"""

from __future__ import annotations

import secrets
import subprocess
import tarfile
import zipfile
from itertools import combinations
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.e2e.conftest import running_stack
from tests.e2e.examples import PATTERNS, collect_results, conf_for, find_example, local_git_settings
from tests.e2e.rest import Rest, RunResult, overlap_seconds

EXAMPLES = PATTERNS
PASSWORD = "examples-test-password"


@pytest.fixture(scope="module")
def services():
    from tests.servers.git_http import GitHttpServer, missing_tools
    from tests.servers.hishamos import HishamOSServer

    if missing_tools():
        skip_or_fail(f"the local git server needs {missing_tools()}")
    token = secrets.token_urlsafe(24)
    with HishamOSServer() as hishamos, GitHttpServer(token) as git:
        for name in EXAMPLES:
            git.create_bare(f"example-{name}")
        yield {"hishamos": hishamos, "git": git, "token": token}


@pytest.fixture(scope="module")
def example_stack(services):
    hishamos = services["hishamos"]
    env = {"AIRFLOW_CONN_HISHAMOS_DEFAULT": hishamos.connection_json("password")}
    env.update(local_git_settings(services["git"].repo_url("unused"), services["token"], "unused")[0])
    with running_stack("CeleryExecutor", admin_password=PASSWORD, extra_env=env) as stack:
        yield stack


@pytest.fixture(scope="module")
def example_runs(example_stack, services) -> dict[str, tuple[RunResult, dict, Rest]]:
    """The examples triggered over REST in three waves, each waiting for the one before: the
    sequential and conditional examples at once, then the parallel example alone, then the agents
    example. The parallel example's three steps are eligible together, but they only start together
    on free worker slots: a full CI run, with the other examples' tasks on the same 4 slots, once
    ran them one after the other (1.24 s apart)."""
    rest = Rest(example_stack.client())
    dags = [d for d in rest_dags(example_stack) if d["bundle_name"] == "dags-folder"]
    by_example = {name: find_example(dags, name) for name in EXAMPLES}
    missing = [name for name, found in by_example.items() if len(found) != 1]
    assert not missing, f"expected one example DAG tagged with each pattern, got {by_example}"
    hishamos, git = services["hishamos"], services["git"]
    results = {}
    waves = ([n for n in EXAMPLES if n not in ("parallel", "agents")], ["parallel"], ["agents"])
    assert sorted(sum(waves, [])) == sorted(EXAMPLES)
    for wave in waves:
        triggered = {}
        for name in wave:
            (dag,) = by_example[name]
            details = example_stack_details(example_stack, dag["dag_id"])
            _, git_params = local_git_settings(git.repo_url(f"example-{name}"), services["token"], f"example-{name}")
            overrides = {**git_params, "archive_dir": str(example_stack.home / "archives" / name),
                         "hishamos_project": hishamos.state.demo_project_id, "user_id": hishamos.state.user.id}
            conf = conf_for(details.get("params") or {}, overrides)
            triggered[name] = (dag["dag_id"], rest.trigger(dag["dag_id"], conf), conf)
        for name, (dag_id, run_id, conf) in triggered.items():
            result = rest.wait(dag_id, run_id, timeout=300)
            results[name] = (result, conf, rest)
    return results


def rest_dags(stack) -> list[dict]:
    import time

    import requests

    headers = {"Authorization": f"Bearer {stack.token()}"}
    for _ in range(60):
        dags = requests.get(f"{stack.api_url}/api/v2/dags", params={"limit": 100}, headers=headers, timeout=10).json()["dags"]
        if all(find_example(dags, name) for name in EXAMPLES):
            return dags
        stack.check_alive()
        time.sleep(1)
    return dags


def example_stack_details(stack, dag_id: str) -> dict:
    import requests

    headers = {"Authorization": f"Bearer {stack.token()}"}
    return requests.get(f"{stack.api_url}/api/v2/dags/{dag_id}/details", headers=headers, timeout=10).json()


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_green_and_produces_a_project_a_commit_or_archive_and_records(name, example_runs, services, tmp_path):
    result, conf, rest = example_runs[name]
    details = {task: rest.errors(result, task) for task, state in result.states().items() if state == "failed"}
    assert result.state == "success", f"{name}: {result.states()} {details}"
    assert set(result.states().values()) <= {"success", "skipped"}
    found = collect_results(rest, result)
    output_dirs = [Path(v) for k, v in found.items() if k.endswith(".output_dir")]
    assert output_dirs, f"{name}: no generated project in {found}"
    for out in output_dirs:
        files = [p for p in out.rglob("*") if p.is_file() and ".git" not in p.parts]
        assert files, f"{out} is empty"
    hishamos, git = services["hishamos"], services["git"]
    shas = [v for k, v in found.items() if k.endswith(".commit_sha")]
    archives = [Path(v) for k, v in found.items() if k.endswith(".archive_path")]
    assert shas or archives, f"{name}: neither a commit nor an archive: {found}"
    for sha in shas:
        assert git.head(f"example-{name}") == sha, f"{name}: the git server does not have {sha}"
        clone = tmp_path / "clone"
        subprocess.run(["git", "clone", "-q", str(git.root / f"example-{name}.git"), str(clone)], check=True)
        assert [p for p in clone.rglob("*") if p.is_file() and ".git" not in p.parts]
    for archive in archives:
        assert archive.is_file(), archive
        if archive.suffix == ".zip":
            assert zipfile.ZipFile(archive).namelist()
        else:
            assert tarfile.open(archive).getnames()
    for key, value in found.items():
        if key.endswith(".generated_project_id"):
            assert value in hishamos.state.generated_projects, f"{name}: HishamOS has no record {value}"
    if name == "sequential":
        assert hishamos.state.stories, "the sequential example creates stories in HishamOS"
    if name == "conditional":
        assert "skipped" in result.states().values(), "one branch of the conditional example must be skipped"


def test_agents_example_files_a_story_per_requirement_and_pushes_the_coding_agents_files(example_runs, services, tmp_path):
    """Requirements agent -> one story per requirement (mapped api_call) -> coding agent -> files -> commit."""
    result, conf, rest = example_runs["agents"]
    assert result.state == "success", result.states()
    tis = rest.task_instances.get_mapped_task_instances(result.dag_id, result.run_id, "create_story").task_instances
    requirements = rest.xcom(result, "requirements")["requirements"]
    assert len(requirements) == 3 and sorted(ti.map_index for ti in tis) == [0, 1, 2]
    assert {str(getattr(ti.state, "value", ti.state)) for ti in tis} == {"success"}
    hishamos, git = services["hishamos"], services["git"]
    stories = [hishamos.state.stories[s["id"]] for s in rest.xcom(result, "stories")]
    assert [s["title"] for s in stories] == [r["title"] for r in requirements]
    assert {s["project"] for s in stories} == {conf["hishamos_project"]}
    generated = Path(rest.xcom(result, "generate")["output_dir"])
    files = sorted(str(p.relative_to(generated)) for p in generated.rglob("*") if p.is_file())
    assert "README.md" in files and any(f.startswith("src/") and f.endswith(".py") for f in files), files
    sha = rest.xcom(result, "publish")["commit_sha"]
    assert git.head("example-agents") == sha
    clone = tmp_path / "agents-clone"
    subprocess.run(["git", "clone", "-q", str(git.root / "example-agents.git"), str(clone)], check=True)
    assert sorted(str(p.relative_to(clone)) for p in clone.rglob("*") if p.is_file() and ".git" not in p.parts) == files


def test_parallel_example_steps_overlap_in_time(example_runs):
    result, _, _ = example_runs["parallel"]
    tis = [ti for ti in result.tasks.values() if ti.start_date and ti.end_date]
    best = max(overlap_seconds(a, b) for a, b in combinations(tis, 2))
    assert best > 0, "no two steps of the parallel example ran at the same time"


def test_a_retried_export_does_not_duplicate_the_repository_or_records(example_runs, services):
    """Clearing the repo_creation task of a finished run runs it again: same commit, no new records."""
    result, _, rest = example_runs["sequential"]
    repo_tasks = [t for t in result.tasks if t in ("export", "archive")]
    assert len(repo_tasks) == 2, result.tasks.keys()
    hishamos, git = services["hishamos"], services["git"]
    head_before, exports_before = git.head("example-sequential"), len(hishamos.state.repository_exports)
    archive = Path(collect_results(rest, result)["archive.archive_path"])
    archive_before = archive.read_bytes()
    import airflow_client.client as ac

    rest.task_instances.post_clear_task_instances(
        result.dag_id, ac.ClearTaskInstancesBody(dry_run=False, dag_run_id=result.run_id,
                                                 task_ids=[ac.ClearTaskInstancesBodyTaskIdsInner(t) for t in repo_tasks],
                                                 only_failed=False, reset_dag_runs=True),
    )
    again = rest.wait(result.dag_id, result.run_id, timeout=300)
    assert again.state == "success"
    for task in repo_tasks:  # they really ran again
        assert again.tasks[task].try_number > result.tasks[task].try_number, task
    assert git.head("example-sequential") == head_before
    assert len(hishamos.state.repository_exports) == exports_before
    assert archive.read_bytes() == archive_before


def test_repository_extra_link_appears_on_the_finished_repo_creation_task(example_runs, example_stack):
    from tests.e2e.test_browser import browser_available, run_ui

    browser_available()
    result, _, rest = example_runs["sequential"]
    found = collect_results(rest, result)
    url_keys = [k for k, v in found.items() if k.endswith(".url") and str(v).startswith("http")]
    assert url_keys, found
    task_id = url_keys[0].split(".")[0]
    links = rest.task_instances.get_extra_links(result.dag_id, result.run_id, task_id)
    assert links.extra_links.get("Repository") == found[url_keys[0]]
    page = f"/dags/{result.dag_id}/runs/{result.run_id}/tasks/{task_id}/details"  # the Extra Links panel
    shown = run_ui(example_stack, [{"name": "repository-extra-link", "steps": [
        {"goto": page}, {"linkHref": "Repository"}, {"sleep": 500}, {"screenshot": "repository-extra-link.png"},
    ]}], password=PASSWORD)
    assert shown["repository-extra-link"]["texts"]["Repository"] == found[url_keys[0]]
