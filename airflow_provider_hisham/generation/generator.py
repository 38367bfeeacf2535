"""Project generation: plan from a template or an inline structure, write atomically, record it."""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_hisham.generation.atomic import AtomicProjectDir
from airflow_provider_hisham.generation.errors import GenerationError, TemplateNotFoundError
from airflow_provider_hisham.generation.limits import Limits
from airflow_provider_hisham.generation.paths import check_project_id, check_segment
from airflow_provider_hisham.generation.plan import Plan
from airflow_provider_hisham.generation.records import build_manifest, encode_manifest, summary
from airflow_provider_hisham.generation.render import Renderer
from airflow_provider_hisham.generation.structure import plan_structure
from airflow_provider_hisham.generation.template_source import is_cookiecutter, plan_cookiecutter, plan_native
from airflow_provider_hisham.generation.writer import plan_dirs, write_plan

@dataclass
class GenerationResult:
    output_dir: str
    manifest_path: str
    manifest: dict[str, Any]
    summary: dict[str, Any]
    duration: float
    warnings: list[str] = field(default_factory=list)


def shipped_templates_dir() -> str:
    """The templates shipped inside this package (package data, so also in an installed wheel)."""
    from importlib.resources import files

    return str(files("airflow_provider_hisham") / "templates")


def find_template(template: str, templates_dirs: Sequence[str]) -> str:
    """An existing folder path, or a template name looked up in ``templates_dirs`` in order."""
    if os.path.isabs(template) or os.sep in template or template.startswith("."):
        if os.path.isdir(template):
            return os.path.abspath(template)
        raise TemplateNotFoundError(f"template folder {template!r} does not exist")
    check_segment(template, template, Limits())
    for base in templates_dirs:
        candidate = os.path.join(base, template)
        if os.path.isdir(candidate):
            return candidate
    raise TemplateNotFoundError(f"template {template!r} not found in {list(templates_dirs)}")


def available_templates(templates_dirs: Sequence[str]) -> list[str]:
    names = set()
    for base in templates_dirs:
        if os.path.isdir(base):
            names.update(n for n in os.listdir(base) if os.path.isdir(os.path.join(base, n)) and not n.startswith((".", "_")))
    return sorted(names)


class ProjectGenerator:
    """Reusable generator: holds limits and the templates search path."""

    def __init__(self, output_root: str, *, limits: Limits | None = None, templates_dirs: Sequence[str] = (), workers: int | None = None) -> None:
        self.output_root = os.path.realpath(output_root)
        self.limits = limits or Limits()
        self.templates_dirs = list(templates_dirs)
        self.workers = workers

    def plan(
        self,
        *,
        template: str | None = None,
        structure: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        render_structure: bool = False,
    ) -> tuple[Plan, Renderer]:
        if (template is None) == (structure is None):
            raise GenerationError("give exactly one of 'template' or 'structure'")
        if structure is not None:
            renderer = Renderer(limits=self.limits)
            return plan_structure(structure, self.limits, render=render_structure, context=dict(context or {})), renderer
        path = find_template(str(template), self.templates_dirs)
        planner = plan_cookiecutter if is_cookiecutter(path) else plan_native
        return planner(path, dict(context or {}), self.limits, functools.partial(Renderer, limits=self.limits))

    def generate(
        self,
        project_id: str,
        *,
        template: str | None = None,
        structure: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        render_structure: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> GenerationResult:
        """Generate ``output_root/project_id`` atomically; a previous generation stays until success."""
        started = time.perf_counter()
        project_id = check_project_id(project_id, self.limits)
        plan, renderer = self.plan(template=template, structure=structure, context=context, render_structure=render_structure)
        total = len(plan.files)
        report = (lambda done: progress(done, total)) if progress else None
        target = AtomicProjectDir(self.output_root, project_id)
        with target as tmp:
            dirs = plan_dirs(plan)
            records = write_plan(tmp, plan, renderer, self.limits, dirs=dirs, workers=self.workers, progress=report)
            manifest = build_manifest(project_id, plan.template, records, dirs)
            encoded = encode_manifest(manifest)
            target.commit(encoded)
        manifest_path = target.manifest_path
        digest = hashlib.sha256(encoded).hexdigest()
        info = summary(manifest, output_dir=target.target, manifest_path=manifest_path, manifest_sha256=digest)
        if plan.warnings:
            info["warnings"] = plan.warnings[:10]
        return GenerationResult(target.target, manifest_path, manifest, info, time.perf_counter() - started, plan.warnings)


def generate_project(output_root: str, project_id: str, **kwargs: Any) -> GenerationResult:
    """One-shot helper around :class:`ProjectGenerator`."""
    init = {k: kwargs.pop(k) for k in ("limits", "templates_dirs", "workers") if k in kwargs}
    return ProjectGenerator(output_root, **init).generate(project_id, **kwargs)
