"""Audit records of a real run: every API call, file batch, push, archive and record registered,
each naming the user and the task instance; no credential, even one a run's conf carries."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import run_dag
from tests.observability.runs import HEADER

DAG = HEADER.replace("DAG_ID", "observed_audit") + """
    story = HishamOSApiCallOperator(
        task_id="story", hishamos_conn_id="CONN_ID", action="create_story",
        data={"project": "{{ dag_run.conf['project'] }}", "title": "{{ dag_run.conf['token'] }}",
              "description": "{{ dag_run.conf['token'] }}", "acceptance_criteria": "ok"})
    generate = HishamOSFileGenerationOperator(
        task_id="generate", project_id="{{ dag_run.conf['token'] }}", structure={"README.md": "# audited\\n"},
        hishamos_conn_id="CONN_ID", hishamos_project_id="{{ dag_run.conf['project'] }}")
    archive = HishamOSRepoCreationOperator(task_id="archive", source_dir="{{ ti.xcom_pull('generate')['output_dir'] }}",
                                   target="zip", archive_root="ARCHIVES", repository_name="audited",
                                   hishamos_conn_id="CONN_ID",
                                   generated_project_id="{{ ti.xcom_pull('generate')['generated_project_id'] }}")
    push = HishamOSRepoCreationOperator(task_id="push", source_dir="{{ ti.xcom_pull('generate')['output_dir'] }}",
                                target="git", git_url="GIT_URL", allow_local_remote=True)
    story >> generate >> [archive, push]
"""


def test_a_real_run_writes_one_json_line_per_action_and_no_secret(hishamos, hishamos_conn, audit_lines, tmp_path):
    conn_id = hishamos_conn("password", conn_id="hishamos_observed_audit")
    password = hishamos.state.user.password  # the connection's secret, also handed in through the run's conf
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    source = DAG.replace("CONN_ID", conn_id).replace("ARCHIVES", str(tmp_path)).replace("GIT_URL", str(bare))
    run = run_dag(source, conf={"project": hishamos.state.demo_project_id, "token": password})
    assert str(run.state) == "success"

    records = [json.loads(line) for line in audit_lines]
    assert records and all("\n" not in line for line in audit_lines)
    text = "\n".join(audit_lines)
    assert password not in text and hishamos.state.jwt_secret not in text
    assert "eyJ" not in text  # no access or refresh token
    by_event: dict[str, list[dict]] = {}
    for rec in records:
        assert set(rec) >= {"audit", "ts", "event", "who", "what", "target", "result", "duration_ms"}
        assert rec["who"]["dag_id"] == "observed_audit" and rec["who"]["run_id"] == run.run_id
        by_event.setdefault(rec["event"], []).append(rec)

    calls = by_event["api_call"]
    assert len(calls) == len(hishamos.state.requests)  # one record per request HishamOS received
    create = next(r for r in calls if r["what"] == "POST /api/v1/projects/stories/")
    assert create["result"] == "ok" and create["details"]["status"] == 201 and create["duration_ms"] > 0
    assert create["who"]["user"] == hishamos.state.user.email and create["who"]["task_id"] == "story"
    assert any(r["what"] == "PATCH /api/v1/projects/generated-projects/{id}/" for r in calls)

    [batch] = by_event["file_batch"]
    assert batch["details"]["files"] == 1 and batch["target"].endswith("/***")  # the folder named by the secret
    registered = {r["what"]: r for r in by_event["record_registered"]}
    assert set(registered) == {"GeneratedProject", "RepositoryExport"}
    [archive] = by_event["archive"]
    assert archive["target"] == str(tmp_path / "audited.zip") and archive["who"]["task_id"] == "archive"
    [push] = by_event["push"]
    assert push["target"] == str(bare) and push["details"]["bytes"] > 0 and push["result"] == "ok"
    steps = {r["who"]["task_id"]: r for r in by_event["step"]}
    assert {t: s["result"] for t, s in steps.items()} == {t: "ok" for t in ("story", "generate", "archive", "push")}
