"""A disk cache of validated workflow plans, so re-parsing an unchanged config is cheap.

Airflow's dag processor re-imports the loader file every ``min_file_process_interval``; YAML
composition, JSON Schema validation and expression checks cost several times more than
building the DAG. Plans are stored as JSON under a key made of the config's bytes, its name
and this package's version; an entry is used only if every step type it names still maps to
the same operator and config schema. Only valid plans are cached, so errors are always fresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import lru_cache
from pathlib import Path

from airflow_provider_hisham.atomic_write import write_file_atomic
from airflow_provider_hisham.workflow.plan import TaskPlan, WorkflowPlan
from airflow_provider_hisham.workflow.registry import StepType, StepTypeRegistry
from airflow_provider_hisham.workflow.source import ConfigSource

log = logging.getLogger(__name__)
FORMAT = 2  # 2: the config's text instead of its line map


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """The validator's own code and schema: a changed validator never trusts old plans."""
    from airflow_provider_hisham import __version__

    digest = hashlib.sha256(f"{FORMAT}:{__version__}".encode())
    here = Path(__file__).parent
    for name in ("plan.py", "expressions.py", "sandbox.py", "regex_guard.py", "source.py", "registry.py",
                 "schema/workflow.schema.json", "hishamos_definition.py", "schema/hishamos_workflow.schema.json"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


def _type_digest(step_type: StepType) -> str:
    blob = json.dumps(
        [step_type.operator, step_type.config_schema, bool(step_type.to_kwargs), step_type.templated_as], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class PlanCache:
    """Plans in ``directory`` (created on first write; failures to write are only logged)."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    @staticmethod
    def key(text: bytes, name: str) -> str:
        digest = hashlib.sha256(_code_digest().encode() + b"\0" + name.encode() + b"\0")
        digest.update(text)
        return digest.hexdigest()

    def load(self, key: str, registry: StepTypeRegistry) -> WorkflowPlan | None:
        try:
            data = json.loads((self.directory / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        try:
            for name, digest in data["types"].items():
                if _type_digest(registry.get(name)) != digest:
                    return None
        except Exception:  # an unknown type now, or a broken plugin: validate afresh
            return None
        return _plan_from_json(data)

    def store(self, key: str, plan: WorkflowPlan, registry: StepTypeRegistry) -> None:
        types = {t.step_type for t in plan.tasks.values() if t.step_type}
        data = _plan_to_json(plan)
        data["types"] = {name: _type_digest(registry.get(name)) for name in sorted(types)}
        text = json.dumps(data)  # one shot: the C encoder (json.dump streams through the pure-Python one)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_file_atomic(self.directory / f"{key}.json", text.encode("utf-8"), mode=0o600)
        except OSError as exc:
            log.debug("workflow plan cache not written to %s: %s", self.directory, exc)


def _plan_to_json(plan: WorkflowPlan) -> dict:
    return {
        "name": plan.source.name,
        # lines are only for errors: the text they are read again from is smaller and cheaper
        "text": plan.source.text,
        "fmt": plan.source.fmt,
        "dag": plan.dag,
        "params": plan.params,
        "lanes": plan.lanes,
        "tasks": [
            {
                "task_id": t.task_id,
                "path": list(t.path),
                "kind": t.kind,
                "step_type": t.step_type,
                "config": t.config,
                "options": t.options,
                "upstream": t.upstream,
                "trigger_rule": t.trigger_rule,
                "branches": [[when, heads] for when, heads in t.branches],
                "otherwise": t.otherwise,
                "join": t.join,
            }
            for t in plan.tasks.values()
        ],
    }


def _plan_from_json(data: dict) -> WorkflowPlan:
    source = ConfigSource(data["name"], None, None if data["text"] is not None else {}, data["text"], data["fmt"])
    tasks = {}
    for t in data["tasks"]:
        t["path"] = tuple(t["path"])
        t["branches"] = [(when, heads) for when, heads in t["branches"]]
        tasks[t["task_id"]] = TaskPlan(**t)
    return WorkflowPlan(source, data["dag"], data["params"], tasks, data["lanes"])
