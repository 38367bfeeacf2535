"""Deterministic ZIP and TAR.GZ archives of a folder, confined to an archive root and written atomically.

Same folder content -> same archive bytes: entries sorted, timestamps fixed, owners dropped,
modes normalised to 0644/0755. The folder is checked first (``tree.scan_tree``: no ``.git``, no
FIFO/device/socket, no link leading out), each file is opened without following links or
blocking and must still be a regular file of the size seen, and files past 2 GiB get ZIP64
records. The archive's name and folder come from DAG-run conf: both must stay inside the archive
root. It is written to a temporary file next to its final path and renamed into place, so a
killed or retried task never leaves a half-written or a second archive.
"""

from __future__ import annotations

import functools
import gzip
import os
import stat
import tarfile
import zipfile
from pathlib import Path
from typing import BinaryIO, Iterator

from airflow_provider_hisham.atomic_write import WriteInProgressError, write_file_atomic
from airflow_provider_hisham.export.errors import ArchivePathError, ExportError, UnsafeTreeError
from airflow_provider_hisham.export.targets import ARCHIVE_TARGETS
from airflow_provider_hisham.export.tree import scan_tree
from airflow_provider_hisham.generation.errors import UnsafePathError
from airflow_provider_hisham.generation.limits import Limits
from airflow_provider_hisham.generation.paths import check_not_symlink, check_project_id, inside

#: format -> file suffix
FORMATS = {fmt: f".{fmt}" for fmt in ARCHIVE_TARGETS}
# 1980-01-01 00:00:00 UTC, the earliest time a ZIP entry can hold; used for both formats.
FIXED_EPOCH = 315532800
_CHUNK = 1 << 20


def archive_target(archive_root: str | os.PathLike, archive_dir: str | None, name: str, fmt: str) -> Path:
    """The archive's path: ``name`` is one folder-name-like segment (generation's path rules), and
    ``archive_dir`` (relative to ``archive_root``, or absolute) must lie inside ``archive_root``."""
    if fmt not in FORMATS:
        raise ExportError(f"archive format {fmt!r} is not one of {', '.join(FORMATS)}")
    try:
        check_project_id(name, Limits())
    except UnsafePathError as exc:
        raise ArchivePathError("repository_name", f"cannot name an archive: {exc.reason} ({name[:100]!r})") from None
    root = Path(archive_root)
    folder = root if not archive_dir else root / archive_dir  # an absolute archive_dir replaces root here
    if not inside(str(root), str(folder)):
        raise ArchivePathError("archive_dir", f"{str(archive_dir)[:200]!r} is outside the archive root {str(root)!r}")
    target = Path(os.path.realpath(folder)) / f"{name}{FORMATS[fmt]}"
    try:
        check_not_symlink(str(target))
    except UnsafePathError as exc:
        raise ArchivePathError("repository_name", exc.reason) from None
    return target


def _entries(root: Path) -> Iterator[tuple[str, Path]]:
    """``(archive name, path)`` for every directory and file below ``root``, sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = Path(dirpath).relative_to(root)
        if rel != Path("."):
            yield rel.as_posix() + "/", Path(dirpath)
        for name in sorted(filenames):
            yield (rel / name).as_posix(), Path(dirpath) / name


def _mode(st: os.stat_result) -> int:
    return 0o755 if st.st_mode & stat.S_IXUSR else 0o644


def _open_regular(root: Path, name: str, path: Path) -> tuple[BinaryIO, os.stat_result]:
    """Open ``path`` without following a link or blocking on a FIFO; it must still be a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UnsafeTreeError(str(root), name, "changed into a special file while it was archived")
    return os.fdopen(fd, "rb"), st


def _copy(root: Path, name: str, src: BinaryIO, size: int, dst) -> None:
    """Copy exactly ``size`` bytes (what stat said): a file that grows or shrinks meanwhile is refused."""
    left = size
    while left:
        chunk = src.read(min(_CHUNK, left))
        if not chunk:
            raise UnsafeTreeError(str(root), name, "shrank while it was archived")
        dst.write(chunk)
        left -= len(chunk)
    if src.read(1):
        raise UnsafeTreeError(str(root), name, "grew while it was archived")


def _write_zip(root: Path, fileobj) -> None:
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for name, path in _entries(root):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3  # unix, so external_attr carries the mode
            if path.is_symlink():
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, os.readlink(path))
            elif name.endswith("/"):
                info.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
                zf.writestr(info, b"")
            else:
                src, st = _open_regular(root, name, path)
                with src:
                    info.external_attr = (stat.S_IFREG | _mode(st)) << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.file_size = st.st_size  # lets zipfile choose ZIP64 records for files past 2 GiB
                    with zf.open(info, "w") as dst:
                        _copy(root, name, src, st.st_size, dst)


def _write_tar_gz(root: Path, fileobj) -> None:
    with gzip.GzipFile(filename="", mode="wb", fileobj=fileobj, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, path in _entries(root):
                info = tarfile.TarInfo(name.rstrip("/"))
                info.mtime = FIXED_EPOCH
                if path.is_symlink():
                    info.type, info.linkname, info.mode = tarfile.SYMTYPE, os.readlink(path), 0o777
                    tar.addfile(info)
                elif name.endswith("/"):
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                else:
                    src, st = _open_regular(root, name, path)
                    with src:
                        info.size, info.mode = st.st_size, _mode(st)
                        tar.addfile(info, _Exact(root, name, src, st.st_size))


class _Exact:
    """File object for ``tarfile.addfile`` that yields exactly the stat'ed size (see ``_copy``)."""

    def __init__(self, root: Path, name: str, src: BinaryIO, size: int) -> None:
        self.root, self.name, self.src, self.left = root, name, src, size

    def read(self, n: int = -1) -> bytes:
        want = self.left if n is None or n < 0 else min(n, self.left)
        chunk = self.src.read(want)
        if len(chunk) < want:
            raise UnsafeTreeError(str(self.root), self.name, "shrank while it was archived")
        self.left -= len(chunk)
        if not self.left and want and self.src.read(1):
            raise UnsafeTreeError(str(self.root), self.name, "grew while it was archived")
        return chunk


def write_archive(source_dir: str | os.PathLike, archive_path: str | os.PathLike, fmt: str) -> Path:
    """Write ``source_dir`` as a ``zip`` or ``tar.gz`` archive at ``archive_path`` (replaced atomically)."""
    if fmt not in FORMATS:
        raise ExportError(f"archive format {fmt!r} is not one of {', '.join(FORMATS)}")
    scan_tree(source_dir)
    root = Path(os.path.realpath(source_dir))
    target = Path(archive_path).resolve()
    if target.is_relative_to(root):
        raise ExportError(f"archive path {str(target)!r} lies inside source_dir {str(root)!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    # One temporary name per archive (archive names never start with '.', so it cannot be another
    # archive's or its temporary file): a retry after a killed write reuses it instead of leaving a
    # second, partial archive beside the first; a lock keeps two writers of one archive apart.
    try:
        write_file_atomic(target, functools.partial(_write_zip if fmt == "zip" else _write_tar_gz, root),
                          mode=0o644, fsync=True, exclusive=True)
    except WriteInProgressError:
        raise ExportError(f"archive {str(target)!r} is being written by another task; retry later") from None
    return target
