"""Atomic replacement of a generated project folder.

The tree is built in a temporary folder beside the target (same file system), then swapped in
with one ``renameat2(RENAME_EXCHANGE)`` (or two renames where that is missing). A lock file
serialises generations of one project; leftovers of killed runs are removed under that lock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import os
import shutil
import tempfile

from airflow_provider_hisham.generation.errors import GenerationError
from airflow_provider_hisham.generation.paths import check_not_symlink

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_libc = None


def _exchange(a: str, b: str) -> bool:
    """Atomically swap two paths; False when the kernel or libc cannot."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fn = getattr(_libc, "renameat2", None)
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), b)


class AtomicProjectDir:
    """``with AtomicProjectDir(root, project_id) as tmp: ...build in tmp...; commit()``."""

    def __init__(self, root: str, project_id: str) -> None:
        self.root = root
        self.project_id = project_id
        self.target = os.path.join(root, project_id)
        self.tmp: str | None = None
        self._lock_fd: int | None = None
        self.committed = False

    @property
    def _prefixes(self) -> tuple[str, str]:
        return f".{self.project_id}.tmp-", f".{self.project_id}.old-"

    def __enter__(self) -> str:
        os.makedirs(self.root, mode=0o750, exist_ok=True)
        lock_path = os.path.join(self.root, f".{self.project_id}.lock")
        check_not_symlink(lock_path)
        self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            self.recover()
            check_not_symlink(self.target)
            if os.path.exists(self.target) and not os.path.isdir(self.target):
                raise GenerationError(f"{self.target} exists and is not a folder")
            self.tmp = tempfile.mkdtemp(prefix=self._prefixes[0], dir=self.root)
        except BaseException:
            self._unlock()
            raise
        return self.tmp

    def recover(self) -> None:
        """Remove leftovers of killed runs; put back a previous tree a crash left aside."""
        tmp_prefix, old_prefix = self._prefixes
        leftovers = sorted(n for n in os.listdir(self.root) if n.startswith((tmp_prefix, old_prefix)))
        for name in leftovers:
            path = os.path.join(self.root, name)
            if name.startswith(old_prefix) and not os.path.lexists(self.target):
                os.rename(path, self.target)  # a crash between the two fallback renames
                continue
            if os.path.islink(path) or not os.path.isdir(path):
                os.unlink(path)
            else:
                shutil.rmtree(path, ignore_errors=True)

    def commit(self) -> None:
        assert self.tmp is not None
        os.chmod(self.tmp, 0o750)
        if not os.path.lexists(self.target):
            os.rename(self.tmp, self.target)
        elif _exchange(self.tmp, self.target):
            shutil.rmtree(self.tmp, ignore_errors=True)  # now holds the previous generation
        else:
            old = tempfile.mkdtemp(prefix=self._prefixes[1], dir=self.root)
            os.rmdir(old)
            os.rename(self.target, old)
            os.rename(self.tmp, self.target)
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


def write_file_atomic(path: str, data: bytes, mode: int = 0o640) -> None:
    """Write a small file (the manifest) via a temp file and rename."""
    check_not_symlink(path)
    directory, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
