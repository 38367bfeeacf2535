"""Airflow's UI in a real browser (Debian's headless chromium driven by npm playwright-core).

Logs in through the simple auth manager's form (admin password as in docker-compose.yaml),
then checks that the provider's connection forms show their custom fields and that a DAG's
trigger form shows its Params. Screenshots are kept in artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, skip_or_fail
from tests.e2e.conftest import start_stack

SCRIPT = Path(__file__).parent / "browser" / "ui_steps.mjs"
PLAYWRIGHT = REPO_ROOT / "tests" / "node" / "node_modules" / "playwright-core"
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PASSWORD = "browser-test-password"


def browser_available() -> None:
    """skip_or_fail unless node, npm playwright-core and chromium are installed."""
    for need, what in ((shutil.which("node"), "node"), (PLAYWRIGHT.is_dir() or None, "npm playwright-core (npm ci in tests/node)"),
                       (Path(CHROMIUM).exists() or None, f"chromium at {CHROMIUM}")):
        if not need:
            skip_or_fail(f"{what} is missing")


@pytest.fixture(scope="module")
def ui_stack():
    browser_available()
    stack, home = start_stack("LocalExecutor", admin_password=PASSWORD)
    try:
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(home, ignore_errors=True)


def run_ui(stack, scenarios: list[dict], password: str = PASSWORD) -> dict[str, dict]:
    """Run the scenarios (steps of browser/ui_steps.mjs) logged in as admin; results by name."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    payload = {"baseUrl": stack.api_url, "username": "admin", "password": password,
               "screenshotDir": str(SCREENSHOTS), "scenarios": scenarios}
    proc = subprocess.run(
        ["node", str(SCRIPT)], input=json.dumps(payload), capture_output=True, text=True, timeout=300,
        env={**os.environ, "PLAYWRIGHT_CORE": str(PLAYWRIGHT), "CHROMIUM": CHROMIUM},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {r["name"]: r for r in json.loads(proc.stdout)}
    for result in results.values():
        assert result["ok"], result["error"]
        for shot in result["screenshots"]:
            assert Path(shot).stat().st_size > 10_000, f"{shot} looks empty"
    return results


def connection_form(name: str, conn_type: str, standard: list[str], extra: list[str]) -> dict:
    return {
        "name": name,
        "steps": [
            {"goto": "/connections"},
            {"clickRole": ["button", "Add Connection"]},
            {"chooseOption": ["Connection Type", conn_type]},
            *({"waitText": label} for label in standard),
            # Hidden or relabelled standard fields must not show under their default labels.
            {"waitLabel": "Login", "timeout": 500},
            {"waitLabel": "Port", "timeout": 500},
            {"screenshot": f"{name}-standard-fields.png"},
            {"click": "Extra Fields"},
            *({"waitText": label} for label in extra),
            {"sleep": 600},
            {"screenshot": f"{name}-extra-fields.png"},
        ],
    }


def test_connection_forms_and_trigger_form_show_the_providers_fields(ui_stack):
    ui_stack.wait_for_dags("hisham_e2e_checks")
    hishamos_standard = ["HishamOS URL", "Email (auth mode password)", "Password (auth mode password)"]
    hishamos_extra = ["Auth mode", "JWT secret (auth mode jwt_secret)", "API key (auth mode api_key)",
                      "Default user id (auth mode jwt_secret)", "Request timeout (seconds)"]
    gitlab_standard = ["GitLab URL", "Access token"]
    gitlab_extra = ["Token type", "Default namespace (group path)", "Verify TLS certificates"]
    param_labels = ["greeting", "count", "fail"]
    param_texts = ["How many copies, 1-5", "Text echoed into the XCom", "Make the 'maybe_fail' step fail"]
    results = run_ui(ui_stack, [
        connection_form("hishamos-connection", "HishamOS", hishamos_standard, hishamos_extra),
        connection_form("gitlab-connection", "GitLab", gitlab_standard, gitlab_extra),
        {"name": "trigger-form", "steps": [
            {"goto": "/dags/hisham_e2e_checks"},
            {"clickRole": ["button", "Trigger"]},
            {"waitText": "Run Parameters"},
            *({"waitLabel": label} for label in param_labels),
            *({"waitText": text} for text in param_texts),
            {"sleep": 600},
            {"screenshot": "trigger-form-params.png"},
        ]},
    ])
    for name, expected in (("hishamos-connection", hishamos_standard + hishamos_extra),
                           ("gitlab-connection", gitlab_standard + gitlab_extra),
                           ("trigger-form", param_labels + param_texts)):
        missing = [text for text in expected if not results[name]["texts"].get(text)]
        assert not missing, f"{name}: not shown: {missing}"
    for name in ("hishamos-connection", "gitlab-connection"):
        assert results[name]["texts"]["Login"] is False and results[name]["texts"]["Port"] is False, name


def test_the_approval_page_shows_what_is_about_to_be_published(ui_stack):
    """The review step of the approval example, waiting in the UI's Required Actions."""
    from urllib.parse import quote

    from tests.e2e.rest import Rest
    from tests.e2e.test_approval import DAG_ID, TASK, answer, wait_for_question

    ui_stack.wait_for_dags(DAG_ID)
    rest = Rest(ui_stack.client())
    run_id = rest.trigger(DAG_ID, {"project_slug": "browser-gate", "target": "zip"})
    question = wait_for_question(rest, ui_stack, run_id)
    texts = ["About to publish", question.subject, "Approve", "Reject"]
    page = f"/dags/{DAG_ID}/runs/{quote(run_id, safe='')}/tasks/{TASK}/required_actions"
    shown = run_ui(ui_stack, [{"name": "approval-page", "steps": [
        {"goto": page},
        *({"waitText": text, "contains": True} for text in texts),
        {"sleep": 600},
        {"screenshot": "approval-page.png", "fullPage": True},
        {"goto": "/required_actions"},
        {"waitText": question.subject, "contains": True},
        {"sleep": 400},
        {"screenshot": "required-actions-list.png"},
    ]}])["approval-page"]
    missing = [text for text in texts if not shown["texts"].get(text)]
    assert not missing, f"not shown on the approval page: {missing}"
    answer(rest, run_id, "Reject", "seen in the browser test")  # leave no run waiting
    assert rest.wait(DAG_ID, run_id, timeout=120).states()["publish"] == "skipped"
