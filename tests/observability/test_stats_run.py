"""Stats metrics of a real run reach a StatsD server: every step, API calls by endpoint, retries,
re-authentications, files, bytes generated and pushed, agent usage."""

from __future__ import annotations

import time

from tests.observability.runs import StatsdListener, git_bare, run_in_child, workflow

STORIES = "/api/v1/projects/stories/"


def test_a_real_run_sends_its_metrics_to_statsd(hishamos, hishamos_conn, tmp_path):
    conn_id = hishamos_conn("password", conn_id="hishamos_observed_stats")
    # one throttled list (retried), one expired token on the create (re-authenticated and replayed)
    hishamos.inject("status", status=503, method="GET", path=STORIES)
    hishamos.inject("status", status=401, method="POST", path=STORIES)
    with StatsdListener() as statsd:
        env = {"AIRFLOW__METRICS__STATSD_ON": "True", "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
               "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port), "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
               "AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": "True"}
        run = run_in_child(workflow("observed_stats", conn_id, git_bare(tmp_path)),
                           {"project": hishamos.state.demo_project_id, "title": "Observed story"}, env)
        assert run["state"] == "success", run["tasks"]
        # the throttled list's one retry waited RetryPolicy's first backoff (recorded in the child, not slept)
        [wait] = run["retry_waits"]
        assert 0.25 <= wait <= 0.5, run["retry_waits"]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any("repo_creation.successes" in ln for ln in statsd.lines):
            time.sleep(0.1)
    metrics = statsd.metrics()

    def find(name, **tags):
        return [(t, v, k) for n, t, v, k in metrics if n == f"airflow.{name}" and tags.items() <= t.items()]

    for step, task in (("api_call", "story"), ("file_generation", "generate"), ("agent", "review"),
                       ("repo_creation", "push")):
        assert find(f"hisham.{step}.successes", dag_id="observed_stats", task_id=task), step
        [(_, took, kind)] = find(f"hisham.{step}.duration", task_id=task)
        assert kind == "ms" and took > 0
        assert not find(f"hisham.{step}.failures")
    created = find("hisham.api.calls", method="POST", endpoint=STORIES, status="201")
    assert len(created) == 1 and created[0][2] == "c"
    assert find("hisham.api.calls", method="POST", endpoint=STORIES, status="401")
    # ids in paths are grouped: the GeneratedProject record's PATCH is one series
    assert find("hisham.api.calls", method="PATCH", endpoint="/api/v1/projects/generated-projects/_id_/",
                status="200")
    assert find("hisham.api.duration", method="POST", endpoint=STORIES)[0][2] == "ms"
    assert find("hisham.api.retries", method="GET", endpoint=STORIES, reason="HTTP_503")
    assert find("hisham.api.reauthentications", mode="password")
    [(_, files, _)] = find("hisham.file_generation.files")
    [(_, generated, _)] = find("hisham.file_generation.bytes")
    assert files >= 5 and generated > 1000
    [(_, pushed, _)] = find("hisham.repo_creation.bytes_pushed", task_id="push")
    assert pushed >= generated  # the objects of the commit: every file plus trees and the commit
    assert find("hisham.agent.tokens", agent="qa-testing-agent")[0][1] > 0
    assert find("hisham.agent.cost", agent="qa-testing-agent")[0][2] == "g"
