"""The Linux-only system calls generation relies on, each behind the check that makes it safe.

Python has no public API for these, so they live here and nowhere else:

* ``renameat2(RENAME_EXCHANGE)`` through libc (glibc >= 2.28, Linux >= 3.15, and a file system
  that supports it): swaps two folders in one step. Elsewhere :func:`exchange` says False and
  the caller uses two renames.
* ``os.fork()`` for a second writer process: only on Linux and only while the process has no
  other thread. Forking a process with threads copies locks other threads may hold (logging,
  an HTTP pool, a tracing exporter in an Airflow task) and the child can deadlock on them;
  Python 3.12 warns about it. :func:`fork_refusal` says why the caller must stay on one process.
* ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` in that child, so it never outlives a killed task.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import signal
import sys
import threading

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_PR_SET_PDEATHSIG = 1
_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def exchange(a: str, b: str) -> bool:
    """Atomically swap two paths; False when this system cannot (not Linux, old libc or kernel,
    a file system without ``RENAME_EXCHANGE``). Other failures raise ``OSError``."""
    if sys.platform != "linux":
        return False
    fn = getattr(_c(), "renameat2", None)
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), b)


def fork_refusal() -> str | None:
    """Why a worker process must not be forked now, or None when it may."""
    if sys.platform != "linux" or not hasattr(os, "fork"):
        return f"forking a writer is only done on Linux (this is {sys.platform})"
    others = threading.active_count() - 1
    if others:
        return f"{others} other thread(s) are running, and a forked child could deadlock on their locks"
    return None


def die_with_parent() -> None:
    """In a forked child: be killed when the parent dies (best effort, Linux only)."""
    if sys.platform != "linux":
        return
    try:
        _c().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        pass
