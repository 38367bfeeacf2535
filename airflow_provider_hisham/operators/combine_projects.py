"""The ``combine_projects`` step: one project out of the trees that parallel lanes generated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_hisham.dry_run import is_dry_run, report
from airflow_provider_hisham.operators.observed import Observed, observed
from airflow_provider_hisham.workflow.combine import CombineError, combined_project_id, merge_directories


def generated_projects_root() -> Path:
    """``[hisham] generated_projects_root``, else ``$AIRFLOW_HOME/generated-projects``."""
    from airflow_provider_hisham.config import generated_projects_root as configured

    return Path(configured())


class HishamOSCombineProjectsOperator(Observed, BaseOperator):
    """Merge lanes' generated projects into ``generated-projects/{project_id}/``.

    ``sources`` is what a parallel block hands its combine step (``{{ steps.<block>.output }}``:
    lane -> the lane's result), or a list of such results; each result's ``output_dir`` (or the
    value itself when it is a path) is merged. Returns the same summary keys as
    HishamOSFileGenerationOperator, so ``repo_creation`` can follow it.
    """

    hisham_step = "combine"

    template_fields = ("project_id", "sources", "output_root")

    def __init__(self, *, project_id: str, sources: Any, output_root: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.project_id = project_id
        self.sources = sources
        self.output_root = output_root

    @observed
    def execute(self, context) -> dict:
        combined_project_id(self.project_id)
        root = Path(self.output_root) if self.output_root else generated_projects_root()
        folders, manifests = self._folders()
        target = root / self.project_id
        if is_dry_run(context):
            return self._dry_run(folders, target)
        summary = merge_directories(folders, target, root=root, skip=manifests)
        self.log.info("Combined %d lanes into %s: %d files", len(folders), target, summary["total_files"])
        return {"project_id": self.project_id, "output_dir": str(target), "generated_project_id": None, **summary}

    def _dry_run(self, folders: dict[str, Path], target: Path) -> dict[str, Any]:
        """The lanes and the folder they would be merged into; nothing is merged (a dry-run lane's
        folder does not exist). Totals are the lanes' own, before duplicates are merged."""
        lanes = self.sources if isinstance(self.sources, Mapping) else dict(enumerate(self.sources))
        results = [r for r in lanes.values() if isinstance(r, Mapping)]
        self.log.info("Dry run: would combine %d lanes into %s", len(folders), target)
        return report(self.hisham_step, "combine", project_id=self.project_id, output_dir=str(target),
                      lanes={lane: str(folder) for lane, folder in folders.items()}, generated_project_id=None,
                      total_files=sum(int(r.get("total_files") or 0) for r in results),
                      total_bytes=sum(int(r.get("total_bytes") or 0) for r in results),
                      files=sorted({f for r in results for f in (r.get("files") or []) if isinstance(f, str)}))

    def _folders(self) -> tuple[dict[str, Path], set[Path]]:
        items: Any = self.sources
        if isinstance(items, Sequence) and not isinstance(items, str):
            items = {str(i): v for i, v in enumerate(items)}
        if not isinstance(items, Mapping) or not items:
            raise CombineError(f"sources must be lane -> result (a parallel block's output), got {type(items).__name__}")
        folders, manifests = {}, set()
        for lane, result in items.items():
            if isinstance(result, Mapping):
                if not result.get("output_dir"):
                    raise CombineError(f"lane '{lane}' has no output_dir in its result")
                folders[lane] = Path(result["output_dir"])
                if result.get("manifest_path"):
                    manifests.add(Path(result["manifest_path"]))
            elif isinstance(result, str):
                folders[lane] = Path(result)
            else:
                raise CombineError(f"lane '{lane}' result is {type(result).__name__}, not a generation summary")
        return folders, manifests
