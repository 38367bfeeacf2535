"""The stand-in's 16 agents: the real backend's names and slugs, with deterministic answers.

Names and slugs are the seeded agents of the real backend (``../shared/hishamos/README.md``).
Each answer is a pure function of the agent, the prompt and the context, so a test can predict
it; some agents answer JSON the way LLM agents do in practice:

* ``business-analyst``: the whole text is a JSON object with a ``requirements`` list (one per
  line or ``;``-separated clause of the prompt, at most 5) and ``acceptance_criteria``;
* ``bug-triage-agent``: prose around a fenced ```` ```json ```` block ``{"severity": 1..5, ...}``;
* ``coding-agent``: fenced code blocks whose info string names a path (```` ```python src/app.py ````);
* reviewers, QA, DevOps, release, scrum and project agents answer JSON objects with the keys
  HishamOS's shipped workflow definitions read (``approved``, ``passed``, ``deployment_id``...).

Token counts are words in and out; cost is 0.00002 per token; execution time 40 ms + 1 ms a token.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

#: (name, slug) of the 16 agents the real backend seeds.
AGENTS: tuple[tuple[str, str], ...] = (
    ("Business Analyst Agent", "business-analyst"),
    ("Senior Software Engineer", "coding-agent"),
    ("Code Review Expert", "code-reviewer"),
    ("Agile Project Manager", "project-manager"),
    ("Technical Writer", "documentation-agent"),
    ("QA Engineer", "qa-testing-agent"),
    ("DevOps Engineer", "devops-agent"),
    ("Scrum Master", "scrum-master"),
    ("Product Owner", "product-owner"),
    ("Bug Triage Specialist", "bug-triage-agent"),
    ("Legal Counsel", "legal-agent"),
    ("HR Manager", "hr-agent"),
    ("Financial Analyst", "finance-agent"),
    ("UX/UI Designer", "ux-designer"),
    ("Research Analyst", "research-agent"),
    ("Release Manager", "release-manager"),
)
SLUGS = dict(AGENTS)

COST_PER_TOKEN = 0.00002
#: Path regex of every agent's execute call (for ``HishamOSServer.inject(..., path=EXECUTE_PATH)``).
EXECUTE_PATH = r"/api/v1/agents/[0-9a-f-]{36}/execute/"
#: The real backend's answer to some execute calls (a Django async bug), with HTTP 500.
ASYNC_CONTEXT_ERROR = "You cannot call this from an async context - use a thread or sync_to_async."


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:8]


def _clauses(prompt: str, limit: int = 5) -> list[str]:
    parts = [p.strip(" -*.\t") for p in re.split(r"[\n;]+", prompt)]
    return [p for p in parts if p][:limit] or [prompt.strip()]


def _severity(text: str) -> int:
    low = text.lower()
    if any(w in low for w in ("outage", "security", "data loss", "critical")):
        return 5
    if any(w in low for w in ("crash", "error", "fail", "broken", "500")):
        return 4
    return 2


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2)


def _module_name(prompt: str) -> str:
    words = re.findall(r"[a-z]+", prompt.lower())
    return "_".join(words[:2]) or "app"


def answer(slug: str, name: str, prompt: str, context: Any) -> str:
    """The text the agent ``slug`` answers to ``prompt`` (``context`` only feeds digests)."""
    tag = _digest(slug, prompt, json.dumps(context, sort_keys=True, default=str))
    if slug == "business-analyst":
        reqs = [{"title": c[:80], "description": f"As a user I want {c[0].lower() + c[1:]}.",
                 "acceptance_criteria": f"Given the feature, when I use it, then {c[0].lower() + c[1:]} works.",
                 "priority": "high" if i == 0 else "medium"} for i, c in enumerate(_clauses(prompt))]
        return _json({"summary": f"{len(reqs)} requirement(s) from the request", "requirements": reqs,
                      "acceptance_criteria": "; ".join(r["acceptance_criteria"] for r in reqs)})
    if slug == "bug-triage-agent":
        sev = _severity(prompt)
        report = {"severity": sev, "priority": "high" if sev >= 4 else "medium", "component": "backend",
                  "summary": prompt.strip()[:120], "test_cases": [f"reproduce: {prompt.strip()[:60]}",
                                                                   "regression test for the fix"]}
        return f"Triage of the report ({tag}):\n\n```json\n{_json(report)}\n```\n\nAssign it to the owning team."
    if slug == "coding-agent":
        mod = _module_name(prompt)
        return (f"Here is an implementation ({tag}).\n\n"
                f"```python src/{mod}.py\n\"\"\"{prompt.strip()[:100]}\"\"\"\n\n\ndef run() -> str:\n"
                f"    return {mod!r}\n```\n\n"
                f"```python tests/test_{mod}.py\nfrom src.{mod} import run\n\n\ndef test_run():\n"
                f"    assert run() == {mod!r}\n```\n\n"
                f"```markdown README.md\n# {mod}\n\nGenerated for: {prompt.strip()[:100]}\n```\n")
    if slug == "code-reviewer":
        return _json({"approved": True, "issues_count": 0, "comments": [f"Reviewed ({tag}): looks good."],
                      "passed": True})
    if slug == "qa-testing-agent":
        return _json({"passed": True, "tests_run": 12, "failures": 0,
                      "test_cases": [f"{c[:60]} works" for c in _clauses(prompt, 3)], "report": f"qa-{tag}"})
    if slug == "devops-agent":
        return _json({"success": True, "status": "deployed", "deployment_id": f"deploy-{tag}",
                      "environment": "staging", "severity": _severity(prompt)})
    if slug == "release-manager":
        return _json({"version": "1.1.0", "previous_version": "1.0.0", "features": _clauses(prompt, 3),
                      "test_plan": f"Regression suite plus smoke tests ({tag})."})
    if slug == "scrum-master":
        return _json({"velocity": 21, "sprint_goal": prompt.strip()[:80], "capacity": 40})
    if slug == "project-manager":
        return _json({"developer": "alice", "stories": [{"title": c[:80], "points": 3} for c in _clauses(prompt, 3)],
                      "plan": f"plan-{tag}"})
    return f"[{name}] {prompt.strip()}"


def usage(prompt: str, output: str) -> tuple[int, float, float]:
    """(tokens, cost, execution time in ms) of one run: a pure function of its text."""
    tokens = len(prompt.split()) + len(output.split())
    return tokens, round(tokens * COST_PER_TOKEN, 6), float(40 + tokens)
