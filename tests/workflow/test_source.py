"""workflow/source.py reads YAML with libyaml's composer when PyYAML has it, else PyYAML's own:
both must give the same values, lines and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from airflow_provider_hisham.workflow import source
from airflow_provider_hisham.workflow.errors import WorkflowConfigError

REPO = Path(__file__).resolve().parents[2]
FILES = sorted((REPO / "dags" / "workflows").glob("*.yaml")) + sorted((Path(__file__).parent / "hishamos_definitions").glob("*.yaml"))
BROKEN = {
    "syntax": "dag_id: t\nsteps: [\n",
    "duplicate_key": "dag_id: t\ndag_id: u\nsteps: []\n",
    "unsafe_tag": "dag_id: !!python/object:os.system t\n",
    "too_deep": "a: " + "[" * 70 + "]" * 70 + "\n",
    "empty": "",
}


def _outcome(text: str) -> tuple:
    try:
        parsed = source.parse_text(text, "wf.yaml")
    except WorkflowConfigError as exc:
        # a syntax error is worded by the composer (libyaml's or PyYAML's); where it is, is ours
        return ("refused", [(i.file, i.line, i.field, i.message.startswith("invalid YAML:") or i.message)
                            for i in exc.issues])
    return (parsed.data, {path: parsed.line_of(path) for path in parsed.lines})


def test_libyaml_is_the_composer_here():
    assert source._Loader is yaml.CSafeLoader  # else the next test compares the fallback with itself


@pytest.mark.parametrize("text", [p.read_text(encoding="utf-8") for p in FILES] + list(BROKEN.values()),
                         ids=[p.stem for p in FILES] + list(BROKEN))
def test_the_pure_python_composer_reads_configs_alike(text, monkeypatch):
    fast = _outcome(text)
    monkeypatch.setattr(source, "_Loader", yaml.SafeLoader)
    assert _outcome(text) == fast
