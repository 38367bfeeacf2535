"""HishamOSFileGenerationOperator: the ``file_generation`` step of HishamOS workflows, run in Airflow.

A thin operator: configuration, logging, metrics and the optional HishamOS record live here;
rendering, safety and atomic writes are in :mod:`airflow_provider_hisham.generation`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_hisham import config
from airflow_provider_hisham.generation import GenerationError, Limits, ProjectGenerator, shipped_templates_dir
from airflow_provider_hisham.generation.safe_load import load_json
from airflow_provider_hisham.operators.observed import Observed, observed

if TYPE_CHECKING:
    from airflow.sdk import Context

try:
    from airflow.sdk.observability.stats import Stats
except ImportError:  # pragma: no cover - Airflow < 3.2
    from airflow.stats import Stats  # type: ignore[no-redef]

PACKAGE_TEMPLATES = Path(shipped_templates_dir())
#: ``[hisham] generated_projects_root`` (kept here for importers; the reader is in ``config``).
output_root_from_config = config.generated_projects_root


def limits_from_config() -> Limits:
    """``[hisham] max_file_bytes`` / ``max_files`` / ``max_project_bytes``."""
    try:
        return Limits(**{name: config.get_int(name) for name in ("max_file_bytes", "max_files", "max_project_bytes")})
    except config.HishamConfigError as exc:
        raise GenerationError(str(exc)) from None


def templates_dirs_from_config(extra: str | None = None) -> list[str]:
    """Where template names are looked up, first match wins.

    The operator's ``templates_dir``, ``[hisham] templates_dir`` (``AIRFLOW__HISHAM__TEMPLATES_DIR``,
    ``os.pathsep``-separated), ``$AIRFLOW_HOME/include/templates``, then the templates shipped as
    this package's data (``airflow_provider_hisham/templates``).
    """
    from airflow.configuration import AIRFLOW_HOME

    candidates: list[str] = []
    if extra:
        candidates.append(extra)
    candidates.extend(config.templates_dirs())
    candidates += [os.path.join(AIRFLOW_HOME, "include", "templates"), str(PACKAGE_TEMPLATES)]
    seen: list[str] = []
    for c in candidates:
        c = os.path.abspath(os.path.expanduser(c))
        if c not in seen and os.path.isdir(c):
            seen.append(c)
    return seen


class HishamOSFileGenerationOperator(Observed, BaseOperator):
    """Generate ``{output_root}/{project_id}/`` from a template or an inline structure.

    :param project_id: folder name of the generated project (templated).
    :param template: a template name (looked up in the templates folders) or a folder path
        (native ``template.yaml`` template or a Cookiecutter template).
    :param structure: inline mapping ``{"src/main.py": "...", "tests/": {}}``; exclusive with template.
    :param structure_from: an agent step's output (its result dict, e.g. ``agent_task.output``, or its
        text) holding a JSON object ``{path: content}`` or fenced blocks naming paths
        (```` ```python src/app.py ````); untrusted, never rendered (see ``agents.files``).
    :param source_step: the step that produced ``structure_from``, named in refusals.
    :param context: template variables (templated; strings like ``"true"`` are coerced by type).
    :param output_root: defaults to ``[hisham] generated_projects_root``.
    :param hishamos_conn_id: when set, register a GeneratedProject record in HishamOS: created
        ``generating`` before any file is written, ``completed`` after (or ``failed`` with the error
        on the last try); one per task instance, found again by a retry (see
        :mod:`airflow_provider_hisham.records`).
    :param hishamos_project_id: the HishamOS project (UUID) the record belongs to.
    :param strict_hishamos_records: fail (without retrying) when the organization's HishamOS tier
        refuses the record; default ``[hisham] strict_hishamos_records`` (False: warn and go on).
    :param render_structure: render string contents of ``structure`` with ``context``.
    :param templates_dir: an extra folder searched first for template names.
    :param workers: processes used for large trees (default: 2 when there are 2+ CPUs).
    :param max_file_bytes, max_files, max_project_bytes: override the ``[hisham]`` limits.
    """

    hisham_step = "file_generation"

    template_fields: Sequence[str] = ("project_id", "template", "context", "structure", "structure_from", "output_root", "hishamos_project_id")
    template_fields_renderers = {"context": "json", "structure": "json"}
    ui_color = "#d9f2e6"

    def __init__(
        self,
        *,
        project_id: str,
        template: str | None = None,
        structure: Mapping[str, Any] | None = None,
        structure_from: Any = None,
        source_step: str | None = None,
        context: Mapping[str, Any] | None = None,
        output_root: str | None = None,
        hishamos_conn_id: str | None = None,
        hishamos_project_id: str | None = None,
        hishamos_user_id: str | None = None,
        strict_hishamos_records: bool | None = None,
        render_structure: bool = False,
        templates_dir: str | None = None,
        workers: int | None = None,
        max_file_bytes: int | None = None,
        max_files: int | None = None,
        max_project_bytes: int | None = None,
        progress_every: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.project_id = project_id
        self.template = template
        self.structure = structure
        self.structure_from = structure_from
        self.source_step = source_step
        self.context = context
        self.output_root = output_root
        self.hishamos_conn_id = hishamos_conn_id
        self.hishamos_project_id = hishamos_project_id
        self.hishamos_user_id = hishamos_user_id
        self.strict_hishamos_records = strict_hishamos_records
        self.render_structure = render_structure
        self.templates_dir = templates_dir
        self.workers = workers
        self.limit_overrides = {
            k: v for k, v in (("max_file_bytes", max_file_bytes), ("max_files", max_files), ("max_project_bytes", max_project_bytes)) if v is not None
        }
        self.progress_every = progress_every

    def _limits(self) -> Limits:
        base = limits_from_config()
        if not self.limit_overrides:
            return base
        return Limits(**{**base.__dict__, **self.limit_overrides})

    def _structure_from_agent(self) -> dict[str, Any]:
        from airflow_provider_hisham.agents.files import structure_from_output

        if self.render_structure:
            raise GenerationError("render_structure cannot be used with structure_from: agent output is never rendered")
        return structure_from_output(self.structure_from, source=str(self.source_step or "structure_from"), limits=self._limits())

    @observed
    def execute(self, context: Context) -> dict[str, Any]:
        if [self.template, self.structure, self.structure_from].count(None) != 2:
            raise GenerationError("HishamOSFileGenerationOperator needs exactly one of 'template', 'structure' or 'structure_from'")
        if self.hishamos_conn_id and not self.hishamos_project_id:
            raise GenerationError("hishamos_project_id is required when hishamos_conn_id is set")
        if not isinstance(self.project_id, str) or self.project_id.strip() in ("", "None"):
            raise GenerationError(f"project_id must be a folder name, got {self.project_id!r} (an unset value?)")
        structure = self.structure
        if isinstance(structure, str):  # a templated JSON string, e.g. from XCom
            structure = load_json(structure, "structure", GenerationError)
        if self.structure_from is not None:
            structure = self._structure_from_agent()
        variables = self.context
        if isinstance(variables, str):
            variables = load_json(variables, "context", GenerationError) if variables.strip() else None
        root = self.output_root or output_root_from_config()
        from airflow_provider_hisham.dry_run import is_dry_run

        if is_dry_run(context):
            return self._dry_run(root, structure, variables)
        generator = ProjectGenerator(root, limits=self._limits(), templates_dirs=templates_dirs_from_config(self.templates_dir), workers=self.workers)
        tags = {"template": str(self.template or "structure")}
        last = [0]

        def progress(done: int, total: int) -> None:
            if done - last[0] >= self.progress_every or done == total:
                last[0] = done
                self.log.info("Generated %d of %d files (%.0f%%)", done, total, 100.0 * done / max(total, 1))

        self.log.info("Generating project %r from %s into %s", self.project_id, self.template or "an inline structure", root)
        record = None
        if self.hishamos_conn_id:
            from airflow_provider_hisham.generation.paths import check_project_id

            project_dir = os.path.join(generator.output_root, check_project_id(str(self.project_id), generator.limits))
            record = self._record(context, project_dir)
        try:
            result = generator.generate(
                self.project_id,
                template=self.template,
                structure=structure,
                context=variables,
                render_structure=self.render_structure,
                progress=progress,
            )
        except Exception as exc:
            if record is not None:
                from airflow_provider_hisham.records import is_last_try

                record.failed(exc, last_try=is_last_try(context["ti"], self.retries))
            raise
        Stats.incr("hisham.file_generation.files", result.summary["total_files"], tags=tags)
        Stats.incr("hisham.file_generation.bytes", result.summary["total_bytes"], tags=tags)
        for warning in result.warnings:
            self.log.warning("%s", warning)
        summary = dict(result.summary)
        summary["generated_project_id"] = record.id if record is not None else None
        from airflow_provider_hisham.storage.objectstorage import publish_generated  # after the local commit

        try:
            summary.update(publish_generated(summary, context, hishamos_project_id=self.hishamos_project_id))
        except Exception as exc:
            if record is not None:
                from airflow_provider_hisham.records import is_last_try

                record.failed(exc, last_try=is_last_try(context["ti"], self.retries))
            raise
        if record is not None:
            self._not_retried(record.succeeded)
        self.log.info(
            "Generated %d files (%d bytes) in %.2f s: %s (manifest %s, sha256 %s)",
            summary["total_files"], summary["total_bytes"], result.duration, summary["output_dir"], summary["manifest_path"], summary["sha256"],
        )
        return summary

    def _dry_run(self, root: str, structure: Any, variables: Any) -> dict[str, Any]:
        """Generate into a temporary folder outside ``root`` and remove it: the files, sizes and
        manifest digest a real run would produce, and no folder, storage copy or HishamOS record.
        ``output_dir`` is where a real run would write (it is not created)."""
        import shutil
        import tempfile

        from airflow_provider_hisham.dry_run import report
        from airflow_provider_hisham.publishing.summary import DEFAULT_LIST_LIMIT

        scratch = tempfile.mkdtemp(prefix="hisham-dry-run-")
        try:
            generator = ProjectGenerator(scratch, limits=self._limits(), workers=self.workers,
                                         templates_dirs=templates_dirs_from_config(self.templates_dir))
            result = generator.generate(self.project_id, template=self.template, structure=structure,
                                        context=variables, render_structure=self.render_structure)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        summary = {**result.summary, "output_dir": os.path.join(os.path.abspath(root), result.summary["project_id"]),
                   "manifest_path": None, "generated_project_id": None}
        paths = [f["path"] for f in result.manifest["files"]]
        self.log.info("Dry run: would generate %d files (%d bytes) into %s (manifest sha256 %s)",
                      summary["total_files"], summary["total_bytes"], summary["output_dir"], summary["sha256"])
        return report(self.hisham_step, "generate", **summary, files=paths[:DEFAULT_LIST_LIMIT],
                      files_complete=len(paths) <= DEFAULT_LIST_LIMIT)

    def _record(self, context: Context, output_dir: str):
        """Find (a retry) or create this task instance's GeneratedProject, ``generating``."""
        from airflow_provider_hisham.api.idempotency import marker
        from airflow_provider_hisham.hooks.hishamos import HishamOSHook
        from airflow_provider_hisham.records import GenerationRecord, strict_records

        ti = context["ti"]
        hook = HishamOSHook(hishamos_conn_id=self.hishamos_conn_id, user_id=self.hishamos_user_id)
        record = GenerationRecord(hook, str(self.hishamos_project_id), output_dir,
                                  marker(ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1),
                                         salt="generated_project"),
                                  strict=strict_records(self.strict_hishamos_records),
                                  try_number=getattr(ti, "try_number", None), logger=self.log)
        self._not_retried(record.begin)
        return record

    @staticmethod
    def _not_retried(action):
        """Errors no retry can fix (a tier refusal in strict mode) fail the task at once."""
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_provider_hisham.api.errors import NOT_RETRYABLE

        try:
            return action()
        except NOT_RETRYABLE as exc:
            raise AirflowFailException(str(exc)) from None
