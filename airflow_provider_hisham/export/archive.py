"""Deterministic ZIP and TAR.GZ archives of a folder (``.git`` excluded), written atomically.

Same folder content -> same archive bytes: entries sorted, timestamps fixed, owners dropped,
modes normalised to 0644/0755. The archive is written to a temporary file next to its final
path and renamed into place, so a killed or retried task never leaves a half-written or a second
archive.
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

from airflow_provider_hisham.export.errors import ExportError
from airflow_provider_hisham.export.git import check_source_dir

FORMATS = {"zip": ".zip", "tar.gz": ".tar.gz"}
# 1980-01-01 00:00:00 UTC, the earliest time a ZIP entry can hold; used for both formats.
FIXED_EPOCH = 315532800
EXCLUDED = {".git"}


def _entries(root: Path) -> Iterator[tuple[str, Path]]:
    """``(archive name, path)`` for every directory and file below ``root``, sorted, ``.git`` skipped."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED)
        rel = Path(dirpath).relative_to(root)
        if rel != Path("."):
            yield rel.as_posix() + "/", Path(dirpath)
        for name in sorted(filenames):
            yield (rel / name).as_posix(), Path(dirpath) / name


def _mode(path: Path) -> int:
    st = path.lstat()
    if stat.S_ISDIR(st.st_mode) or st.st_mode & stat.S_IXUSR:
        return 0o755
    return 0o644


def _write_zip(root: Path, fileobj) -> None:
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED) as zf:
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
                info.external_attr = (stat.S_IFREG | _mode(path)) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(path, "rb") as src, zf.open(info, "w") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)


def _write_tar_gz(root: Path, fileobj) -> None:
    with gzip.GzipFile(filename="", mode="wb", fileobj=fileobj, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, path in _entries(root):
                info = tar.gettarinfo(str(path), arcname=name.rstrip("/"))
                info.mtime = FIXED_EPOCH
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if info.isreg():
                    info.mode = _mode(path)
                    with open(path, "rb") as src:
                        tar.addfile(info, src)
                else:
                    if info.isdir():
                        info.mode = 0o755
                    tar.addfile(info)


def write_archive(source_dir: str | os.PathLike, archive_path: str | os.PathLike, fmt: str) -> Path:
    """Write ``source_dir`` as a ``zip`` or ``tar.gz`` archive at ``archive_path`` (replaced atomically)."""
    if fmt not in FORMATS:
        raise ExportError(f"archive format {fmt!r} is not one of {', '.join(FORMATS)}")
    root = check_source_dir(source_dir)
    target = Path(archive_path).resolve()
    if target.is_relative_to(root.resolve()):
        raise ExportError(f"archive path {str(target)!r} lies inside source_dir {str(root)!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            (_write_zip if fmt == "zip" else _write_tar_gz)(root, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
