"""Output path validation: every path is relative, portable and confined to the project root."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable

from airflow_provider_hisham.generation.errors import PathCollisionError, UnsafePathError
from airflow_provider_hisham.generation.limits import Limits

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")
_RESERVED = {".", ".."}


def check_segment(segment: str, path: str, limits: Limits) -> None:
    """Refuse one path component that is empty, special, not portable or too long."""
    if segment in _RESERVED:
        raise UnsafePathError(path, f"contains a {segment!r} segment")
    if not segment:
        raise UnsafePathError(path, "contains an empty segment")
    if _CONTROL.search(segment):
        raise UnsafePathError(path, "contains NUL or control characters")
    if "\\" in segment:
        raise UnsafePathError(path, "contains a backslash")
    if ":" in segment and _DRIVE.match(segment):
        raise UnsafePathError(path, "starts with a drive letter")
    if len(segment.encode("utf-8", "surrogatepass")) > limits.max_name_bytes:
        raise UnsafePathError(path, f"a name is longer than {limits.max_name_bytes} bytes")


def check_relative_path(path: str, limits: Limits) -> tuple[str, ...]:
    """Validate a ``/``-separated relative output path; return its segments."""
    if not isinstance(path, str):
        raise UnsafePathError(repr(path), "is not a string")
    if not path:
        raise UnsafePathError(path, "is empty")
    if path.startswith("/"):
        raise UnsafePathError(path, "is absolute")
    if _DRIVE.match(path) or path.startswith("\\"):
        raise UnsafePathError(path, "is absolute (drive letter or UNC)")
    if len(path.encode("utf-8", "surrogatepass")) > limits.max_path_bytes:
        raise UnsafePathError(path, f"is longer than {limits.max_path_bytes} bytes")
    segments = tuple(path.split("/"))
    if len(segments) > limits.max_depth:
        raise UnsafePathError(path, f"is nested deeper than {limits.max_depth} folders")
    for segment in segments:
        check_segment(segment, path, limits)
    return segments


def check_tree(files: Iterable[str], dirs: Iterable[str]) -> None:
    """Refuse duplicates, case-insensitive collisions and a path that is both a file and a folder."""
    files = list(files)
    all_dirs = set(dirs)
    for f in files:
        parts = f.split("/")
        all_dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
    owners: dict[str, str] = {}
    for d in sorted(all_dirs):
        other = owners.setdefault(d.casefold(), d)
        if other != d:
            raise PathCollisionError(d, other, "differs only in case from")
    for f in files:
        key = f.casefold()
        other = owners.get(key)
        if other is not None:
            if other in all_dirs:
                raise PathCollisionError(f, other, "is a file but collides with the folder")
            raise PathCollisionError(f, other, "collides (same name ignoring case) with")
        owners[key] = f


def check_not_symlink(path: str) -> None:
    """Refuse an existing target entry that is a symbolic link (it could lead outside the root)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePathError(path, f"is a symbolic link (to {os.readlink(path)!r}); refusing to replace or follow it")


def check_project_id(project_id: str, limits: Limits) -> str:
    """A project id becomes one folder name under the output root."""
    project_id = str(project_id)
    if "/" in project_id:
        raise UnsafePathError(project_id, "project id must be a single folder name")
    check_segment(project_id, project_id, limits)
    if project_id.startswith("."):
        raise UnsafePathError(project_id, "project id must not start with '.'")
    return project_id


def inside(root: str, candidate: str) -> bool:
    """True when the real path of ``candidate`` is ``root`` or below it."""
    root = os.path.realpath(root)
    real = os.path.realpath(candidate)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)
