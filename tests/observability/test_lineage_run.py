"""OpenLineage of a real run, through the OpenLineage provider's listener and file transport:
story -> generated project -> repository."""

from __future__ import annotations

import json
import socket

from tests.observability.runs import git_bare, run_in_child, workflow


def _events(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_real_run_reports_story_to_project_to_repository(hishamos, hishamos_conn, tmp_path):
    conn_id = hishamos_conn("jwt_secret", conn_id="hishamos_observed_lineage")
    events_file = tmp_path / "openlineage.jsonl"
    bare = git_bare(tmp_path)
    env = {"AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events_file),
                                                          "append": True}),
           "AIRFLOW__OPENLINEAGE__NAMESPACE": "hisham-test"}
    run = run_in_child(workflow("observed_lineage", conn_id, bare), {"project": hishamos.state.demo_project_id,
                                                                     "title": "Lineage story"}, env)
    assert run["state"] == "success", run["tasks"]
    story_id = next(iter(s for s, v in hishamos.state.stories.items() if v["title"] == "Lineage story"))
    project = hishamos.state.demo_project_id
    ns = f"hishamos://127.0.0.1:{hishamos.port}"
    files = f"file://{socket.gethostname()}"

    complete = {}
    for event in _events(events_file):
        task = event["job"]["name"].split(".")[-1]
        if event["eventType"] == "COMPLETE" and event["job"]["name"].startswith("observed_lineage."):
            complete[task] = ({(d["namespace"], d["name"]) for d in event.get("inputs", [])},
                              {(d["namespace"], d["name"]) for d in event.get("outputs", [])})
    assert set(complete) >= {"story", "generate", "review", "push"}, complete.keys()
    story = (ns, f"stories/{story_id}")
    assert complete["story"] == ({(ns, f"projects/{project}")}, {story})
    gen_in, gen_out = complete["generate"]
    assert {story, ("hisham-template", "python-package"), (ns, f"projects/{project}")} == gen_in
    folder = next(d for d in gen_out if d[0] == files)
    assert folder[1].endswith("/observed-observed_lineage")
    assert any(d[0] == ns and d[1].startswith("generated-projects/") for d in gen_out)
    push_in, push_out = complete["push"]
    assert folder in push_in  # the generated project is what the export read...
    assert push_out == {(files, bare)}  # ...and the repository what it made
    assert (ns, "agents/qa-testing-agent") in complete["review"][0] and story in complete["review"][0]
