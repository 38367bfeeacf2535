"""HishamOS's own workflow definitions as DAGs: detection, validation, translation, semantics.

The semantics run under ``dag.test()`` with a stub agent step (tests/workflow/hishamos_stub.py)
that fails on demand; the shipped definitions run against the HishamOS stand-in's agents in
test_hishamos_shipped.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from airflow.utils.state import DagRunState, TaskInstanceState

from airflow_provider_hisham.workflow.errors import WorkflowConfigError
from airflow_provider_hisham.workflow.hishamos_definition import (
    SCHEMA_RESOURCE,
    HishamOSDefinitionError,
    check_conditions,
    compile_source,
    is_hishamos_definition,
    slugify,
)
from airflow_provider_hisham.workflow.source import parse_text
from tests.conftest import REPO_ROOT, TEST_DAGS, xcom
from tests.workflow.hishamos_stub import stub_registry

HERE = Path(__file__).parent
DEFINITIONS = HERE / "hishamos_definitions"
PACKAGE = REPO_ROOT / "airflow_provider_hisham" / "workflow"


def compile_text(text: str, name: str = "wf.yaml"):
    return compile_source(parse_text(text, name), stub_registry())


def definition(name: str, steps: list[dict], **top) -> dict:
    return {"name": name, "version": "1.0", "steps": steps, **top}


def agent(step_id: str, **fields) -> dict:
    return {"id": step_id, "agent": "Coding Agent", "max_retries": 0, **fields}


LOADER = (
    "# airflow dag\nfrom pathlib import Path\nfrom tests.workflow.hishamos_stub import stub_registry\n"
    "from airflow_provider_hisham.workflow import load_dags\n"
    "load_dags(Path(__file__).parent / 'workflows', globals(), registry=stub_registry(), cache_dir=False)\n"
)


def bag_of(folder_name: str, files: dict[str, str | dict]):
    """A DagBag of a loader over ``files`` (name -> YAML text or a definition dict)."""
    from airflow.dag_processing.dagbag import DagBag

    folder = TEST_DAGS / folder_name
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "workflows").mkdir(parents=True)
    for name, body in files.items():
        (folder / "workflows" / name).write_text(body if isinstance(body, str) else yaml.safe_dump(body, sort_keys=False))
    (folder / "loader.py").write_text(LOADER)
    return DagBag(dag_folder=str(folder), bundle_path=TEST_DAGS, bundle_name="generated")


def run(defn: dict, conf: dict | None = None):
    bag = bag_of(f"hd_{slugify(defn['name'])}", {"wf.yaml": defn})
    assert bag.import_errors == {}, bag.import_errors
    dag = bag.dags[slugify(defn["name"])]
    return dag.test(run_conf=conf or {})


def states(dag_run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


# --- the shipped definitions -------------------------------------------------------------------


def test_vendored_definitions_and_schema_equal_the_shared_ones(shared_dir):
    shared = shared_dir / "hishamos"
    assert (PACKAGE / SCHEMA_RESOURCE).read_text() == (shared / "workflow_schema.json").read_text()
    names = sorted(p.name for p in (shared / "workflows").glob("*.yaml"))
    assert names == sorted(p.name for p in DEFINITIONS.glob("*.yaml"))
    for name in names:
        assert (DEFINITIONS / name).read_text() == (shared / "workflows" / name).read_text(), name


@pytest.mark.parametrize("path", sorted(DEFINITIONS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_definition_compiles(path):
    source = parse_text(path.read_text(encoding="utf-8"), path.name)
    assert is_hishamos_definition(source.data)
    plan = compile_source(source, stub_registry())
    assert plan.dag["dag_id"] == slugify(source.data["name"])
    steps = {s["id"] for s in source.data["steps"]}
    assert steps <= set(plan.tasks)  # every step is a task of its own id
    text = path.read_text()
    assert set(plan.params) == {m for m in __import__("re").findall(r"\{\{input\.(\w+)", text)}
    assert all(p == {"type": "string", "title": name} for name, p in plan.params.items())
    agents = plan.tasks["resolve_agents"]
    assert set(agents.config["agents"]) == {s["agent"] for s in source.data["steps"]}


def test_bug_lifecycle_graph_follows_the_documented_policy():
    path = DEFINITIONS / "bug_lifecycle.yaml"
    plan = compile_source(parse_text(path.read_text(encoding="utf-8"), path.name), stub_registry())
    t = plan.tasks
    assert t["triage"].upstream == ["resolve_agents"]
    assert t["assign__condition"].upstream == ["triage"] and t["assign"].upstream == ["assign__condition"]
    # forward on_failure: a handler of the failing steps only
    assert (t["escalate"].upstream, t["escalate"].trigger_rule) == (["fix"], "one_failed")
    assert (t["notify_team"].upstream, t["notify_team"].trigger_rule) == (["triage", "rollback"], "one_failed")
    assert (t["rollback"].upstream, t["rollback"].trigger_rule) == (["deploy"], "one_failed")
    # review -> fix and qa -> fix (and escalate -> fix): one merged segment, reworked twice
    assert t["fix__rework_1"].upstream == ["fix", "code_review", "qa_test"] and t["fix__rework_1"].trigger_rule == "one_failed"
    assert t["code_review__rework_1"].upstream == ["fix__rework_1"]
    assert t["fix__rework_2"].upstream == ["fix__rework_1", "code_review__rework_1", "qa_test__rework_1"]
    assert "fix__rework_3" not in t
    assert t["qa_test__reworked"].upstream == ["qa_test", "qa_test__rework_1", "qa_test__rework_2"]
    assert t["deploy"].upstream == ["qa_test__reworked"]
    assert "steps.qa_test__reworked.output.qa_test" in t["deploy"].config["inputs"]["deployment_package"]
    # the rework's copies read their own attempt
    assert "steps.fix__rework_1.output.code" in t["code_review__rework_1"].config["inputs"]["code_changes"]
    assert t["workflow_failed"].trigger_rule == "one_failed"


def test_max_rework_is_configurable_and_bounded():
    text = (DEFINITIONS / "feature_development.yaml").read_text().replace('tags: ["feature", "development", "agile"]', 'tags: [feature]\n  max_rework: 4')
    plan = compile_text(text)
    assert "implement__rework_4" in plan.tasks and "implement__rework_5" not in plan.tasks
    with pytest.raises(HishamOSDefinitionError, match=r"metadata.max_rework.*maximum of 5"):
        compile_text(text.replace("max_rework: 4", "max_rework: 50"))


# --- detection, ids, params, references ---------------------------------------------------------


def test_format_detection_and_dag_id_override():
    assert is_hishamos_definition({"name": "x", "steps": []})
    assert not is_hishamos_definition({"dag_id": "x", "name": "x", "steps": []})
    plan = compile_source(parse_text(yaml.safe_dump(definition("My Flow!", [agent("a")], metadata={"airflow_dag_id": "custom.id"})), "x.yaml"), stub_registry())
    assert plan.dag["dag_id"] == "custom.id" and plan.dag["tags"] == ["hishamos"]
    assert slugify("Bug Lifecycle") == "bug_lifecycle"


def test_unrecognised_braces_stay_literal_text_and_never_reach_jinja():
    plan = compile_text(yaml.safe_dump(definition("Lit", [agent("a", inputs={
        "evil": "{{ ''.__class__.__mro__ }}", "mixed": "x {{input.who}} {% raw %}", "plain": "no braces"})])))
    inputs = plan.tasks["a"].config["inputs"]
    assert "__class__" in inputs["evil"] and "{{ '" in inputs["evil"] and "'.__" not in inputs["evil"]
    from jinja2.sandbox import SandboxedEnvironment

    rendered = SandboxedEnvironment().from_string(inputs["evil"]).render()
    assert rendered == "{{ ''.__class__.__mro__ }}"
    assert inputs["plain"] == "no braces" and set(plan.params) == {"who"}


def test_a_condition_that_is_code_is_refused_naming_the_field():
    with pytest.raises(HishamOSDefinitionError) as err:
        compile_text(yaml.safe_dump(definition("Bad", [agent("a"), agent("b", condition="{{steps.a.output.x}}.__class__ == 1")])))
    assert "steps[1].condition" in str(err.value) and "step 'b'" in str(err.value)


def test_schema_errors_name_file_line_step_and_field():
    text = "name: Broken\nversion: '1.0'\nsteps:\n  - id: ok\n    agent: A\n  - id: Bad-Id\n    agent: B\n  - id: c\n    agent: C\n    max_retries: 99\n"
    with pytest.raises(WorkflowConfigError) as err:
        compile_text(text, "broken.yaml")
    message = str(err.value)
    assert "broken.yaml:6: step 'Bad-Id': field 'steps[1].id'" in message
    assert "broken.yaml:10: step 'c': field 'steps[2].max_retries': 99 is greater than the maximum of 10" in message


def test_unknown_targets_and_cycles_are_errors_not_dropped_edges():
    with pytest.raises(HishamOSDefinitionError, match=r"field 'steps\[0\].on_success': on_success names unknown step 'nowhere'"):
        compile_text(yaml.safe_dump(definition("X", [agent("a", on_success="nowhere")])))
    with pytest.raises(HishamOSDefinitionError, match="closes a dependency cycle"):
        compile_text(yaml.safe_dump(definition("X", [agent("a", depends_on=["b"]), agent("b", on_success="a")])))


def test_provider_step_types_are_checked_against_their_own_schema():
    steps = [agent("plan"), {"id": "gen", "type": "file_generation", "config": {"project_id": "{{input.slug}}", "structure": {"a.txt": "{{steps.plan.output.text}}"}}}]
    plan = compile_text(yaml.safe_dump(definition("Mixed", steps)))
    assert plan.tasks["gen"].step_type == "file_generation" and plan.tasks["gen"].upstream == ["plan"]
    assert "steps.plan.output.text" in plan.tasks["gen"].config["structure"]["a.txt"]
    steps[1]["config"]["bogus"] = 1
    with pytest.raises(HishamOSDefinitionError, match=r"field 'steps\[1\].config': unknown field 'bogus'"):
        compile_text(yaml.safe_dump(definition("Mixed", steps)))


def test_a_step_after_a_reference_it_cannot_see_is_an_error():
    with pytest.raises(HishamOSDefinitionError, match=r"field 'steps\[0\].inputs.x': refers to step 'b', which does not run before"):
        compile_text(yaml.safe_dump(definition("Order", [agent("a", inputs={"x": "{{steps.b.output}}"}), agent("b")])))


def test_gate_skips_with_the_reason():
    from airflow.sdk.exceptions import AirflowSkipException

    check = {"field": "condition", "text": "{{steps.t.output.severity}} > 2", "skip_when": False,
             "expression": {"expression": "steps.t.output.severity > 2", "values": {"steps": {"t": {"output": {"severity": 1}}}}}}
    with pytest.raises(AirflowSkipException, match=r"step 'x' skipped: condition .* is false"):
        check_conditions("x", [check])
    check["expression"]["values"]["steps"]["t"]["output"] = {}
    with pytest.raises(AirflowSkipException, match="could not be evaluated"):
        check_conditions("x", [check])
    check["expression"]["values"]["steps"]["t"]["output"] = {"severity": 3}
    assert check_conditions("x", [check]) == {"step": "x", "run": True}
    check["expression"]["values"]["steps"]["t"]["output"] = {"severity": "3"}  # text, as HishamOS substitutes it
    assert check_conditions("x", [check]) == {"step": "x", "run": True}
    check["expression"]["expression"] = "steps.t.__class__"
    with pytest.raises(AirflowSkipException, match="could not be evaluated"):
        check_conditions("x", [check])


# --- semantics under dag.test() -----------------------------------------------------------------


def test_on_failure_handler_runs_only_when_its_step_failed_and_the_run_stays_failed():
    steps = [agent("a"), agent("b", on_failure="handle", inputs={"fail_tasks": "{{input.fail}}"}), agent("after"), agent("handle", inputs={"why": "{{steps.b.error}}"})]
    defn = definition("Handler Flow", steps, metadata={"params": {"fail": {"type": "array", "default": []}}})
    ok = run(defn)
    assert ok.state == DagRunState.SUCCESS, states(ok)
    assert states(ok)["handle"] == TaskInstanceState.SKIPPED and states(ok)["after"] == TaskInstanceState.SUCCESS
    failed = run(defn, {"fail": ["b"]})
    got = states(failed)
    assert failed.state == DagRunState.FAILED
    assert got["b"] == TaskInstanceState.FAILED and got["handle"] == TaskInstanceState.SUCCESS
    assert got["after"] == TaskInstanceState.UPSTREAM_FAILED and got["workflow_failed"] == TaskInstanceState.FAILED
    assert "step 'b' failed" in xcom(failed, "handle")["inputs"]["why"]


def test_rework_reruns_the_segment_until_it_passes_and_stays_bounded():
    steps = [
        agent("fix", inputs={"n": "{{input.n}}"}, answer=None),
        agent("review", on_failure="fix", inputs={"code": "{{steps.fix.output.text}}", "fail_tasks": "{{input.fail}}"}),
        agent("ship", inputs={"review": "{{steps.review.output.text}}", "fixed": "{{steps.fix.output.at}}"}),
    ]
    for step in steps:
        step.pop("answer", None)
    defn = definition("Rework Flow", steps, metadata={"params": {"fail": {"type": "array"}}})
    dr = run(defn, {"n": "1", "fail": ["review", "review__rework_1"]})
    got = states(dr)
    assert dr.state == DagRunState.SUCCESS, got
    assert got["review"] == got["review__rework_1"] == TaskInstanceState.FAILED
    assert got["fix__rework_2"] == got["review__rework_2"] == got["ship"] == TaskInstanceState.SUCCESS
    assert xcom(dr, "ship")["inputs"]["fixed"] == xcom(dr, "fix__rework_2")["at"]  # the attempt that passed
    exhausted = run(defn, {"n": "1", "fail": ["review", "review__rework_1", "review__rework_2"]})
    got = states(exhausted)
    assert exhausted.state == DagRunState.FAILED
    assert got["review__reworked"] == TaskInstanceState.UPSTREAM_FAILED and got["ship"] == TaskInstanceState.UPSTREAM_FAILED
    assert not any("rework_3" in task for task in got)


def test_condition_and_skip_if_skip_the_step():
    steps = [
        agent("triage", inputs={"answer": {"severity": "{{input.severity}}"}}),
        agent("escalate", condition="{{steps.triage.output.severity}} > 2"),
        agent("close", depends_on=["triage"], skip_if="{{input.keep_open}} == 'yes'"),
    ]
    defn = definition("Cond Flow", steps, metadata={"params": {"severity": {"type": "integer"}}})
    low = run(defn, {"severity": 1, "keep_open": "yes"})
    got = states(low)
    assert low.state == DagRunState.SUCCESS
    assert got["escalate__condition"] == got["escalate"] == got["close__condition"] == got["close"] == TaskInstanceState.SKIPPED
    high = run(defn, {"severity": 3, "keep_open": "no"})
    assert states(high)["escalate"] == states(high)["close"] == TaskInstanceState.SUCCESS


def test_branch_group_takes_the_first_true_branch_and_merge_after_joins():
    steps = [
        agent("triage", inputs={"answer": {"level": "{{input.level}}"}}),
        agent("critical", depends_on=["triage"], branch_group="sev", condition="{{steps.triage.output.level}} == 'high'"),
        agent("major", depends_on=["triage"], branch_group="sev", condition="{{steps.triage.output.level}} != 'low'"),
        agent("minor", depends_on=["triage"], branch_group="sev"),
        agent("report", merge_after="sev", inputs={"minor": "{{steps.minor.output.text}}"}),
    ]
    defn = definition("Branch Flow", steps)
    for level, taken in (("high", "critical"), ("mid", "major"), ("low", "minor")):
        dr = run(defn, {"level": level})
        got = states(dr)
        assert dr.state == DagRunState.SUCCESS, got
        assert [s for s in ("critical", "major", "minor") if got[s] == TaskInstanceState.SUCCESS] == [taken], (level, got)
        assert got["report"] == TaskInstanceState.SUCCESS
    assert xcom(dr, "report")["inputs"]["minor"] == "Coding Agent done"


def test_parallel_group_members_share_their_upstream():
    steps = [agent("start"), agent("a", parallel=True, parallel_group="g"), agent("b", parallel=True, parallel_group="g"), agent("end")]
    plan = compile_text(yaml.safe_dump(definition("Par", steps)))
    assert plan.tasks["a"].upstream == plan.tasks["b"].upstream == ["start"]
    assert sorted(plan.tasks["end"].upstream) == ["a", "b"]
    dr = run(definition("Par Flow", steps))
    assert dr.state == DagRunState.SUCCESS


def test_loop_maps_over_the_list():
    steps = [
        agent("plan", inputs={"answer": {"items": ["login", "logout", "reset"]}}),
        {"id": "each", "agent": "Coding Agent", "step_type": "loop", "max_retries": 0,
         "loop": {"type": "for", "over": "{{steps.plan.output.items}}", "variable": "feature", "max_iterations": 2,
                  "steps": [{"id": "build", "agent": "Coding Agent", "inputs": {"feature": "{{feature}}"}}]}},
        agent("done", inputs={"all": "{{steps.each.output}}"}),
    ]
    dr = run(definition("Loop Flow", steps))
    got = states(dr)
    assert dr.state == DagRunState.SUCCESS, got
    results = xcom(dr, "each")
    assert [r["inputs"]["feature"] for r in results] == ["login", "logout"]  # max_iterations bounds it
    assert [r["inputs"]["feature"] for r in xcom(dr, "done")["inputs"]["all"]] == ["login", "logout"]


def test_a_loop_body_may_be_a_provider_step_mapped_over_the_items():
    steps = [
        agent("plan", inputs={"answer": {"items": [{"title": "a"}, {"title": "b"}]}}),
        {"id": "each", "agent": "Coding Agent", "step_type": "loop",
         "loop": {"type": "for", "over": "{{steps.plan.output.items}}", "variable": "req",
                  "steps": [{"id": "file", "type": "api_call", "config": {"action": "create_story", "data": {"title": "{{req.title}}"}}}]}},
    ]
    plan = compile_text(yaml.safe_dump(definition("Loop Provider", steps)))
    task = plan.tasks["file"]
    assert task.step_type == "api_call" and task.options["expand_over"] == "each__items"
    assert "['title']" in task.config["data"]["title"] and "ti.map_index" in task.config["data"]["title"]
    bad = [steps[0], {**steps[1], "loop": {**steps[1]["loop"], "steps": [{"id": "file", "type": "api_call", "config": {"action": 3}}]}}]
    with pytest.raises(HishamOSDefinitionError, match=r"steps\[1\]\.loop\.steps\[0\]\.config\.action"):
        compile_text(yaml.safe_dump(definition("Loop Provider", bad)))


def test_a_while_loop_is_refused():
    steps = [{"id": "w", "agent": "A", "step_type": "loop", "loop": {"type": "while", "condition": "true"}}]
    with pytest.raises(HishamOSDefinitionError, match=r"field 'steps\[0\].loop.type': only 'for' loops"):
        compile_text(yaml.safe_dump(definition("While", steps)))


def test_sub_workflow_triggers_the_other_definition_and_waits():
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    child = definition("Child Flow", [agent("work", inputs={"topic": "{{input.topic}}"})])
    parent = definition("Parent Flow", [
        agent("prepare"),
        {"id": "call_child", "agent": "Coding Agent", "step_type": "sub_workflow", "timeout_seconds": 120,
         "sub_workflow": {"workflow_id": "child-flow", "input_mapping": {"topic": "{{steps.prepare.output.text}}"}}},
    ])
    bag = bag_of("hd_sub", {"child.yaml": child, "parent.yaml": parent})
    assert bag.import_errors == {}
    task = bag.dags["parent_flow"].get_task("call_child")
    assert isinstance(task, TriggerDagRunOperator)
    assert task.trigger_dag_id == "child_flow" and task.wait_for_completion and task.deferrable
    assert task.execution_timeout.total_seconds() == 120
    assert "ti.xcom_pull(task_ids='prepare')" in json.dumps(task.conf)


def test_params_become_dag_params_validated_on_trigger():
    bag = bag_of("hd_params", {"wf.yaml": definition("Param Flow", [agent("a", inputs={"who": "{{input.who}}"})])})
    dag = bag.dags["param_flow"]
    schema = dag.params.get_param("who").schema
    assert schema["type"] == "string"
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        dag.params.validate()  # no default: a trigger must pass it


def test_a_broken_definition_is_its_own_import_error_and_the_others_load():
    good = definition("Good Flow", [agent("a")])
    bag = bag_of("hd_errors", {
        "good.yaml": good,
        "bad_yaml.yaml": "name: x\nsteps: [\n",
        "bad_schema.yaml": "name: Bad\nversion: '1.0'\nsteps:\n  - id: a\n    agent: A\n    timeout_seconds: 0\n",
    })
    assert "good_flow" in bag.dags
    errors = {Path(k).name: v for k, v in bag.import_errors.items()}
    assert set(errors) == {"bad_yaml.yaml", "bad_schema.yaml"}
    assert "invalid YAML" in errors["bad_yaml.yaml"]
    assert "bad_schema.yaml:6: step 'a': field 'steps[0].timeout_seconds': 0 is less than the minimum of 1" in errors["bad_schema.yaml"]


def test_a_cached_plan_builds_the_same_dag(tmp_path):
    from airflow_provider_hisham.workflow import load_dags

    folder = tmp_path / "workflows"
    folder.mkdir()
    shutil.copy(DEFINITIONS / "bug_lifecycle.yaml", folder)
    cache = tmp_path / "cache"
    first = load_dags(folder, registry=stub_registry(), cache_dir=cache, report_errors=False)
    assert len(list(cache.glob("*.json"))) == 1
    again = load_dags(folder, registry=stub_registry(), cache_dir=cache, report_errors=False)
    dag, cached = first.dags["bug_lifecycle"], again.dags["bug_lifecycle"]
    assert sorted(dag.task_ids) == sorted(cached.task_ids) and "qa_test__rework_2" in cached.task_ids
    assert {t: sorted(dag.get_task(t).upstream_task_ids) for t in dag.task_ids} == {
        t: sorted(cached.get_task(t).upstream_task_ids) for t in cached.task_ids}
    assert cached.get_task("notify_team").trigger_rule == "one_failed"
