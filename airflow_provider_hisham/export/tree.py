"""The folder to export, checked before git or an archive writer touches it.

Agents write the folder, so it is hostile: a ``.git`` in it (folder or ``gitdir:`` file, at any
depth, in any spelling a case-insensitive, NTFS or HFS+ file system or git itself treats as
``.git``) would hand git a config, hooks or another repository; a FIFO or a device hangs or
floods a reader; a link leading outside the folder exports the worker's files. All are refused,
with the path, in the same walk that finds the newest modification time (the commit's date).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from airflow_provider_hisham.export.errors import SourceDirError, UnsafeTreeError
from airflow_provider_hisham.generation.paths import inside

# Code points HFS+ ignores in names (git's is_hfs_dotgit): ".g\u200cit" is ".git" there.
_HFS_IGNORED = dict.fromkeys(map(ord, "\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                                      "\u206a\u206b\u206c\u206d\u206e\u206f\ufeff"))
_KINDS = {stat.S_IFIFO: "FIFO (named pipe)", stat.S_IFCHR: "character device", stat.S_IFBLK: "block device",
          stat.S_IFSOCK: "socket"}


def is_git_name(name: str) -> bool:
    """True for a name that git, NTFS (``.GIT.``, ``git~1``, ``.git::$INDEX_ALLOCATION``) or HFS+ reads as ``.git``."""
    folded = name.translate(_HFS_IGNORED).split(":", 1)[0].rstrip(" .").casefold()
    return folded in (".git", "git~1")


def check_source_dir(source_dir: str | os.PathLike) -> Path:
    """The folder as a path; refuses a missing, non-folder or empty one."""
    path = Path(source_dir)
    if not path.exists():
        raise SourceDirError(f"source_dir {str(path)!r} does not exist")
    if not path.is_dir():
        raise SourceDirError(f"source_dir {str(path)!r} is not a folder")
    with os.scandir(path) as entries:
        if next(entries, None) is None:
            raise SourceDirError(f"source_dir {str(path)!r} is empty: nothing to export")
    return path


def _check_link(root: str, shown_root: str, rel: str, path: str) -> None:
    target = os.readlink(path)
    if os.path.isabs(target):
        raise UnsafeTreeError(shown_root, rel, f"is a symbolic link to an absolute path ({target!r}); only links "
                                               "to files inside the folder can be exported")
    if not inside(root, path):
        raise UnsafeTreeError(shown_root, rel, f"is a symbolic link leading outside the folder ({target!r})")


def scan_tree(source_dir: str | os.PathLike) -> float:
    """Refuse what export must not read (module docstring); return the newest file/link mtime."""
    shown = str(source_dir)
    root = os.path.realpath(check_source_dir(source_dir))
    newest = 0.0
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(os.path.join(root, rel_dir) if rel_dir else root) as entries:
            for entry in entries:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if is_git_name(entry.name):
                    raise UnsafeTreeError(shown, rel, "is named like git's own folder ('.git' in some spelling); "
                                                      "an exported tree may not contain one")
                st = entry.stat(follow_symlinks=False)
                kind = stat.S_IFMT(st.st_mode)
                if kind == stat.S_IFDIR:
                    stack.append(rel)
                    continue
                if kind == stat.S_IFLNK:
                    _check_link(root, shown, rel, entry.path)
                elif kind != stat.S_IFREG:
                    raise UnsafeTreeError(shown, rel, f"is a {_KINDS.get(kind, 'special file')}; only files, folders "
                                                      "and links inside the folder can be exported")
                newest = max(newest, st.st_mtime)
    return newest
