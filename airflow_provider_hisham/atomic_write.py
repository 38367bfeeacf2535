"""Replacing one file whole or not at all: the one way this package writes a file in place.

The content goes to a temporary file in the same folder, which is renamed over the final name,
so a reader (or a retry after a killed task) sees the old file or the new one, never half of
one. Plain Python (no Airflow, nothing of the package), so any layer can use it cheaply; the
folder swap lives in ``generation/atomic.py``.

Two ways to name the temporary file:

* by default a fresh random ``.{name}.XXXXXXXX`` (``mkstemp``): writers never meet, the last
  rename wins;
* ``exclusive=True``: the one ``.{name}.partial``, locked while it is written. A retry after a
  killed write reuses it instead of leaving a second partial file beside the first, and a second
  writer of the same file fails at once with :class:`WriteInProgressError`.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import tempfile
from collections.abc import Callable
from typing import BinaryIO

#: Bytes, or a callback that writes the content to the (binary, seekable) temporary file.
Content = bytes | Callable[[BinaryIO], None]


class AtomicWriteError(OSError):
    """The file was not written; the previous one (if any) is unchanged."""


class SymlinkTargetError(AtomicWriteError):
    """The final name is a symbolic link: it is refused, neither followed nor replaced."""


class WriteInProgressError(AtomicWriteError):
    """Another process is writing the same file (``exclusive=True``)."""


def write_file_atomic(path: str | os.PathLike, content: Content, mode: int = 0o640, *, fsync: bool = False,
                      exclusive: bool = False) -> None:
    """Replace ``path`` by ``content`` atomically, with permissions ``mode``.

    The temporary file is private (0600) until it is complete; ``fsync`` flushes it to disk before
    the rename (for files worth more than the time: archives). On any failure the temporary file
    is removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    if os.path.islink(path):
        raise SymlinkTargetError(errno.ELOOP, f"{path} is a symbolic link; refusing to replace or follow it", path)
    directory, name = os.path.split(path)
    if exclusive:
        tmp = os.path.join(directory, f".{name}.partial")
        fd = _open_locked(tmp, path)
    else:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory or ".")
    try:
        if isinstance(content, bytes):
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view):]
        else:
            with os.fdopen(fd, "wb", closefd=False) as out:
                content(out)
        if fsync:
            os.fsync(fd)
        os.fchmod(fd, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    finally:
        os.close(fd)


def _open_locked(tmp: str, path: str) -> int:
    """The locked, emptied ``.{name}.partial``; a writer that holds it makes this fail at once."""
    for _ in range(3):
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WriteInProgressError(errno.EWOULDBLOCK, f"{path} is being written by another process", path) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.lstat(tmp))
        except FileNotFoundError:
            same = False
        if same and stat.S_ISREG(os.fstat(fd).st_mode):
            os.ftruncate(fd, 0)
            return fd
        # the previous writer renamed this very file into place between our open and our lock:
        # it is the finished file now, not ours to empty; open the name afresh
        os.close(fd)
    raise WriteInProgressError(errno.EWOULDBLOCK, f"{path} is being rewritten by other processes", path)
