"""Atomic replacement of a generated project folder together with its manifest.

The tree is built in a temporary folder on the same file system, then swapped in with one
``renameat2(RENAME_EXCHANGE)`` (or two renames where that is missing). Everything that is not
the tree itself (lock, temporary trees, manifest) lives in ``{root}/.hisham/{project_id}/``: a
project id never starts with ``.``, so no project's name can reach another project's state, and
leftovers are found inside one project's own state folder, never by a name prefix.

Tree and manifest change together: the new manifest is written in full (``manifest.<inode>.next``,
naming the new tree's inode) before the swap, and renamed over ``manifest.json`` right after it;
if that rename fails the swap is undone. A crash between the two renames is repaired under the
lock by the next generation: the pending manifest is kept only if its inode is the live tree's.

:func:`swap_in` / :func:`swap_back` are the package's one folder swap (the combine step uses them
too); single files are replaced with ``atomic_write.write_file_atomic``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile

from airflow_provider_hisham.atomic_write import write_file_atomic
from airflow_provider_hisham.generation.errors import GenerationError
from airflow_provider_hisham.generation.linux import exchange as _exchange
from airflow_provider_hisham.generation.paths import check_not_symlink

STATE_DIR = ".hisham"
MANIFEST_NAME = "manifest.json"


def state_dir(root: str, project_id: str) -> str:
    """``{root}/.hisham/{project_id}``: the lock, temporary trees and manifest of one project."""
    return os.path.join(root, STATE_DIR, project_id)


def _remove(path: str) -> None:
    if os.path.islink(path) or not os.path.isdir(path):
        os.unlink(path)
    else:
        shutil.rmtree(path, ignore_errors=True)


class AtomicProjectDir:
    """``with AtomicProjectDir(root, project_id) as tmp: ...build in tmp...; commit(manifest_bytes)``."""

    def __init__(self, root: str, project_id: str) -> None:
        self.root = root
        self.project_id = project_id
        self.target = os.path.join(root, project_id)
        self.state = state_dir(root, project_id)
        self.manifest_path = os.path.join(self.state, MANIFEST_NAME)
        self.tmp: str | None = None
        self._lock_fd: int | None = None
        self.committed = False

    def __enter__(self) -> str:
        os.makedirs(self.root, mode=0o750, exist_ok=True)
        for folder in (os.path.join(self.root, STATE_DIR), self.state):
            check_not_symlink(folder)
            try:
                os.mkdir(folder, 0o750)
            except FileExistsError:
                check_not_symlink(folder)
                if not os.path.isdir(folder):
                    raise GenerationError(f"{folder} exists and is not a folder") from None
        lock_path = os.path.join(self.state, "lock")
        check_not_symlink(lock_path)
        self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            self.recover()
            check_not_symlink(self.target)
            check_not_symlink(self.manifest_path)
            if os.path.exists(self.target) and not os.path.isdir(self.target):
                raise GenerationError(f"{self.target} exists and is not a folder")
            self.tmp = tempfile.mkdtemp(prefix="tmp-", dir=self.state)
        except BaseException:
            self._unlock()
            raise
        return self.tmp

    def recover(self) -> None:
        """Repair what a killed run left: put back a tree left aside, finish or drop a manifest."""
        names = sorted(os.listdir(self.state))
        for name in names:
            if name.startswith("old-"):
                path = os.path.join(self.state, name)
                if not os.path.lexists(self.target):
                    os.rename(path, self.target)  # a crash between the two fallback renames
                else:
                    _remove(path)
        live = os.lstat(self.target).st_ino if os.path.isdir(self.target) else None
        for name in names:
            path = os.path.join(self.state, name)
            if name.startswith(("tmp-", ".manifest.")):  # a tree or a manifest write cut short
                _remove(path)
            elif name.startswith("manifest.") and name.endswith(".next"):
                if live is not None and name == f"manifest.{live}.next":
                    os.replace(path, self.manifest_path)  # the swap happened: finish it
                else:
                    _remove(path)

    def commit(self, manifest: bytes) -> None:
        """Swap the new tree in and its manifest over the old one; on failure neither changes."""
        assert self.tmp is not None
        os.chmod(self.tmp, 0o750)
        pending = os.path.join(self.state, f"manifest.{os.lstat(self.tmp).st_ino}.next")
        try:
            write_file_atomic(pending, manifest)
        except BaseException:
            if os.path.lexists(pending):
                os.unlink(pending)
            raise
        swapped = False
        try:
            old = swap_in(self.tmp, self.target, self.state, "old-")
            swapped = True
            os.replace(pending, self.manifest_path)
        except BaseException:
            if swapped:
                swap_back(self.tmp, self.target, old)
            if os.path.lexists(pending):
                os.unlink(pending)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.tmp = None
        self.committed = True

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self.tmp is not None:
                shutil.rmtree(self.tmp, ignore_errors=True)
                self.tmp = None
        finally:
            self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def swap_in(new: str, target: str, aside: str, prefix: str) -> str | None:
    """Put the folder ``new`` at ``target``; return where the previous tree now is (None if there
    was none): ``new`` itself after an exchange, else a fresh ``{aside}/{prefix}XXXXXXXX``.

    Readers see the old tree or the new one; with the two-rename fallback there is a moment with
    neither, and a crash in it leaves the old tree at the returned name (where
    ``AtomicProjectDir.recover`` puts it back).
    """
    if not os.path.lexists(target):
        os.rename(new, target)
        return None
    if _exchange(new, target):
        return new  # now holds the previous tree
    old = tempfile.mkdtemp(prefix=prefix, dir=aside)
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    return old


def swap_back(new: str, target: str, old: str | None) -> None:
    """Undo :func:`swap_in` (``old`` is what it returned): the new tree back at ``new``, the
    previous one (if any) at ``target``."""
    if old is None:
        os.rename(target, new)
    elif old == new and _exchange(new, target):
        pass
    else:
        os.rename(target, new)
        os.rename(old, target)
