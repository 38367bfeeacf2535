"""Merge the generated trees of parallel lanes into one project (the parallel pattern's combine).

Plain Python: the operator in ``operators/combine_projects.py`` only resolves paths and calls
:func:`merge_directories`. The result is built in a temporary sibling folder and swapped in,
so a retried task never leaves a half-merged project and re-running gives the same tree.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path

from airflow_provider_hisham.generation.atomic import swap_in
from airflow_provider_hisham.generation.errors import UnsafePathError
from airflow_provider_hisham.generation.limits import Limits
from airflow_provider_hisham.generation.paths import check_project_id

MANIFEST_NAME = ".hisham-combined.json"


class CombineError(ValueError):
    """Lanes that cannot be merged (a conflicting file, a missing or foreign folder)."""


def combined_project_id(project_id: object) -> str:
    """The combined project's folder name, by generation's one project-id rule."""
    try:
        return check_project_id(project_id, Limits())  # type: ignore[arg-type]  # it checks the type itself
    except UnsafePathError as exc:
        raise CombineError(f"project_id {str(project_id)[:200]!r}: {exc.reason}") from None


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def _files(folder: Path, skip: set[Path]) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and p.resolve() not in skip and ".git" not in p.relative_to(folder).parts
    )


def merge_directories(sources: dict[str, Path], target: Path, *, root: Path, skip: set[Path] = frozenset()) -> dict:
    """Copy every lane's files into ``target``; identical duplicates are fine, different ones fail.

    ``sources`` maps lane name -> folder; all must lie under ``root`` (the generated projects
    root), as must ``target``. Returns ``{total_files, total_bytes, manifest_path, files}``.
    """
    root = root.resolve()
    target = Path(target)
    if root not in target.resolve().parents:
        raise CombineError(f"combined project folder {target} is outside {root}")
    skip = {Path(p).resolve() for p in skip}
    chosen: dict[str, tuple[str, Path, str]] = {}  # relative path -> (lane, file, sha256)
    for lane, folder in sources.items():
        folder = Path(folder).resolve()
        if root not in folder.parents:
            raise CombineError(f"lane '{lane}': {folder} is not a generated project under {root}")
        if not folder.is_dir():
            raise CombineError(f"lane '{lane}': {folder} does not exist")
        for path in _files(folder, skip):
            rel = path.relative_to(folder).as_posix()
            if rel == MANIFEST_NAME:
                continue
            digest = _digest(path)
            if rel in chosen and chosen[rel][2] != digest:
                raise CombineError(f"lanes '{chosen[rel][0]}' and '{lane}' both produce {rel} with different content")
            chosen.setdefault(rel, (lane, path, digest))
    staging = target.with_name(f".{target.name}.combine-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    try:
        files, total = [], 0
        for rel, (lane, path, digest) in sorted(chosen.items()):
            dest = staging / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            size = dest.stat().st_size
            total += size
            files.append({"path": rel, "size": size, "sha256": digest, "lane": lane})
        manifest = {"sources": {lane: str(Path(f).resolve()) for lane, f in sources.items()}, "files": files}
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        old = swap_in(str(staging), str(target), str(target.parent), f".{target.name}.old-")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)  # the previous tree, removed only once the new one is in place
    return {"total_files": len(files), "total_bytes": total, "manifest_path": str(target / MANIFEST_NAME), "files": [f["path"] for f in files]}
