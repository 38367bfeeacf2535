"""Output path validation: every path is relative, portable and confined to the project root."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable

from airflow_provider_hisham.generation.errors import PathCollisionError, UnsafePathError
from airflow_provider_hisham.generation.limits import Limits

# C0/C1 controls, Unicode line and paragraph separators, bidi and zero-width format characters
# (the code points git ignores when it compares a name with ".git" on HFS+), and lone surrogates
# (a name that is not valid UTF-8).
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
# A name git treats as its own repository folder: ".git" in any case, with the trailing dots and
# spaces Windows drops, or its NTFS 8.3 short form ("GIT~1"). ".gitignore", ".gitattributes" and
# ".gitmodules" stay allowed: they are ordinary project files (the export runs git with its own
# configuration, so none of them can make git run anything).
_GIT_NAME = re.compile(r"(?:\.git[. ]*(?::.*)?|git~\d+)", re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")
# A name every check passes (ASCII letters, digits and a few marks, not starting with "." or "-"):
# most names of a generated tree, checked with one match instead of each rule in turn.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=@,-]*")
_RESERVED = {".", ".."}
PROJECT_ID_RESERVE = 32


def is_git_name(segment: str) -> bool:
    """True for a name git would take for its own ``.git`` (in any case, or an NTFS alias of it)."""
    return _GIT_NAME.fullmatch(segment) is not None


def check_segment(segment: str, path: str, limits: Limits) -> None:
    """Refuse one path component that is empty, special, not portable or too long."""
    if segment in _RESERVED:
        raise UnsafePathError(path, f"contains a {segment!r} segment")
    if not segment:
        raise UnsafePathError(path, "contains an empty segment")
    if _CONTROL.search(segment):
        bad = _CONTROL.search(segment).group()
        raise UnsafePathError(path, f"contains NUL or control characters (or a line separator, bidi or invalid character) (U+{ord(bad):04X})")
    if segment[0] in ".gG" and is_git_name(segment):
        raise UnsafePathError(path, f"{segment!r} is git's own folder name; a generated tree never contains one")
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
    segments = tuple(path.split("/"))
    _check_size(path, len(segments), limits)
    for segment in segments:
        check_segment(segment, path, limits)
    return segments


def _check_size(path: str, depth: int, limits: Limits) -> None:
    if len(path.encode("utf-8", "surrogatepass")) > limits.max_path_bytes:
        raise UnsafePathError(path, f"is longer than {limits.max_path_bytes} bytes")
    if depth > limits.max_depth:
        raise UnsafePathError(path, f"is nested deeper than {limits.max_depth} folders")


class PathChecker:
    """:func:`check_relative_path` for the many paths of one tree, remembering the ones that passed.

    A path whose folder part already passed needs only its own length, depth and last name
    checked (the folder part holds every other property); a plain ASCII name (``_PLAIN_NAME``)
    within the limits passes them all at once. The errors are the same. Saves re-checking every
    folder name once per file of a large tree.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._passed: dict[str, int] = {}  # path -> its number of segments

    def check(self, path: str) -> str:
        limits = self.limits
        if not isinstance(path, str):
            check_relative_path(path, limits)  # raises
        parent, slash, name = path.rpartition("/")
        plain = len(name) <= limits.max_name_bytes and _PLAIN_NAME.fullmatch(name) is not None
        depth = self._passed.get(parent) if slash else 0 if plain else None
        if depth is None:
            depth = len(check_relative_path(path, limits))
        else:
            depth += 1
            if not (plain and depth <= limits.max_depth and len(path) <= limits.max_path_bytes and path.isascii()):
                _check_size(path, depth, limits)
                check_segment(name, path, limits)
        self._passed[path] = depth
        return path


def with_parents(paths: Iterable[str], into: set[str]) -> set[str]:
    """``into`` plus every folder above each of ``paths``. A walk up stops at a folder already in
    ``into``, so pass ``into``'s own members as ``paths`` first when they may lack their parents:
    ``with_parents(files, with_parents(dirs, set(dirs)))``."""
    for path in paths:
        parent = path.rpartition("/")[0]
        while parent and parent not in into:
            into.add(parent)
            parent = parent.rpartition("/")[0]
    return into


def check_tree(files: Iterable[str], dirs: Iterable[str]) -> None:
    """Refuse duplicates, case-insensitive collisions and a path that is both a file and a folder."""
    files = list(files)
    dirs = list(dirs)
    all_dirs = with_parents(files, with_parents(dirs, set(dirs)))
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
    if not isinstance(project_id, str):
        raise UnsafePathError(repr(project_id), f"project id must be a string, got {type(project_id).__name__}")
    if "/" in project_id:
        raise UnsafePathError(project_id, "project id must be a single folder name")
    check_segment(project_id, project_id, limits)
    if project_id.startswith("."):
        raise UnsafePathError(project_id, "project id must not start with '.'")
    if len(project_id.encode("utf-8", "surrogatepass")) > 255 - PROJECT_ID_RESERVE:
        # keeps the path of its state folder (STATE_DIR/{id}/...) portable
        raise UnsafePathError(project_id, f"project id is longer than {255 - PROJECT_ID_RESERVE} bytes")
    return project_id


def inside(root: str, candidate: str) -> bool:
    """True when the real path of ``candidate`` is ``root`` or below it."""
    root = os.path.realpath(root)
    real = os.path.realpath(candidate)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)
