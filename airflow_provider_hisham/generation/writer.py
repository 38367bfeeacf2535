"""Render planned files and write them with os-level calls, on up to two processes.

A forked worker takes the second half of a large plan (whole folders each side, so the two
processes seldom create files in the same folder and wait on its lock); compiled templates from
before the fork are shared for free, shapes compiled after it are split between the two and
exchanged (:mod:`.shape_exchange`), and results (size, sha256, type) come back through a pipe,
as plain tuples (pickling them costs a tenth of pickling dataclasses). It is forked only where
:func:`.linux.fork_refusal` allows (Linux, no other thread running); otherwise one process writes
everything.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
import os
import pickle
import signal
import stat
from collections.abc import Callable
from dataclasses import dataclass

from airflow_provider_hisham.generation.errors import GenerationError, LimitExceededError, RenderError
from airflow_provider_hisham.generation.limits import Limits
from airflow_provider_hisham.generation.linux import die_with_parent, fork_refusal
from airflow_provider_hisham.generation.paths import with_parents
from airflow_provider_hisham.generation.plan import Plan, PlannedFile
from airflow_provider_hisham.generation.render import _NEWLINES, Renderer, ShapePending
from airflow_provider_hisham.generation.safe_load import read_file_bounded
from airflow_provider_hisham.generation.shape_exchange import RESULT, ShapeExchange, send_frame, widen

log = logging.getLogger(__name__)
PARALLEL_MIN_FILES = 400
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_MODE, EXEC_MODE, DIR_MODE = 0o640, 0o750, 0o750


@dataclass(slots=True)
class FileRecord:
    path: str
    size: int
    sha256: str
    type: str  # "text" | "binary"
    executable: bool


def _detect_newline(raw: bytes) -> str | None:
    """The newline cookiecutter picks: the first kind Python's reader sees on the first line."""
    if b"\r" not in raw:
        return "\n" if b"\n" in raw else None
    reader = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8")
    reader.readline()
    seen = reader.newlines
    return seen[0] if isinstance(seen, tuple) else seen


class _Producer:
    def __init__(self, plan: Plan, renderer: Renderer, limits: Limits) -> None:
        self.plan, self.renderer, self.limits = plan, renderer, limits
        self.cookiecutter = plan.newline_mode == "cookiecutter"
        self.markers = tuple(m.encode() for m in renderer.markers)

    def content(self, f: PlannedFile) -> tuple[bytes, str, bool]:
        """(bytes to write, "text" | "binary", executable)."""
        data = f.data
        executable = f.executable
        if data is None:
            raw, mode = read_file_bounded(f.source, self.limits.max_file_bytes, "template file (read at most its limit, it may grow)")
            if executable is None:
                executable = mode & stat.S_IXUSR
        elif isinstance(data, str):
            raw = data.encode("utf-8", "surrogatepass")
        else:
            raw = data
        out, kind = self._text(f, raw)
        return out, kind, bool(executable)

    def _text(self, f: PlannedFile, raw: bytes) -> tuple[bytes, str]:
        if b"\0" in raw[:8192]:
            return raw, "binary"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw, "binary"
        if not f.render:
            return raw, "text"
        a, b, c = self.markers
        has_syntax = a in raw or b in raw or c in raw
        if not has_syntax and not (self.cookiecutter and (b"\r" in raw or self.plan.forced_newline)):
            return raw, "text"
        newline = self.plan.forced_newline or _detect_newline(raw)
        if has_syntax:
            out = self.renderer.render(text, self.plan.context, f.path, self.limits.max_file_bytes)
        else:
            out = _NEWLINES.sub("\n", text)
        if newline in ("\r\n", "\r"):
            out = out.replace("\n", newline)
        try:
            return out.encode("utf-8"), "text"
        except UnicodeEncodeError as err:
            raise RenderError(f.path, f"rendered text is not valid UTF-8: {err}") from None


Row = tuple[str, int, str, str, bool]  # a FileRecord's fields, in order


def _write_share(root: str, files: list[PlannedFile], producer: _Producer, limits: Limits, progress: Callable | None,
                 scale: int, exchange: ShapeExchange | None = None) -> list[Row]:
    """Write ``files``; with ``exchange``, a file whose shape the other process compiles waits
    (at most until this process's other files are done) for that shape to arrive."""
    rows: list[Row] = []
    total = 0
    waiting: dict[tuple, list[PlannedFile]] = {}

    def write(f: PlannedFile) -> None:
        nonlocal total
        try:
            content, kind, executable = producer.content(f)
        except ShapePending as pending:
            waiting.setdefault(pending.key, []).append(f)
            return
        size = len(content)
        if size > limits.max_file_bytes:
            raise LimitExceededError("max_file_bytes", size, limits.max_file_bytes, f.path)
        total += size
        if total > limits.max_project_bytes:
            raise LimitExceededError("max_project_bytes", total, limits.max_project_bytes, f.path)
        fd = os.open(os.path.join(root, f.path), _FLAGS, EXEC_MODE if executable else FILE_MODE)
        try:
            done = os.write(fd, content) if size else 0
            if done < size:  # a short write: go on from where it stopped
                view = memoryview(content)[done:]
                while view:
                    view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        rows.append((f.path, size, hashlib.sha256(content).hexdigest(), kind, executable))
        if progress is not None and len(rows) % 500 == 0:
            progress(min(len(rows) * scale, len(files) * scale))

    for n, f in enumerate(files, 1):
        write(f)
        if waiting and n % 32 == 0:
            exchange.drain()
            for key in [k for k in waiting if exchange.has(k)]:
                for later in waiting.pop(key):
                    write(later)
    if waiting:
        exchange.defer = False  # compile here whatever has not come
        for later in itertools.chain.from_iterable(waiting.values()):
            write(later)
    return rows


def plan_dirs(plan: Plan) -> list[str]:
    """Every folder of ``plan`` (declared, above a declared one or above a file), sorted: parents first."""
    return sorted(with_parents((f.path for f in plan.files), with_parents(plan.dirs, set(plan.dirs))))


def make_dirs(root: str, dirs: list[str]) -> None:
    """Create ``dirs`` (parents first) under ``root``."""
    for d in dirs:
        os.mkdir(os.path.join(root, d), DIR_MODE)


def write_plan(
    root: str,
    plan: Plan,
    renderer: Renderer,
    limits: Limits,
    *,
    dirs: list[str],
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[FileRecord]:
    """Create the folders ``dirs`` (:func:`plan_dirs`) below ``root`` and write all files of ``plan``."""
    producer = _Producer(plan, renderer, limits)
    files = plan.files
    if workers is None:
        workers = 2 if (os.cpu_count() or 1) >= 2 else 1
    if workers < 2 or len(files) < PARALLEL_MIN_FILES:
        make_dirs(root, dirs)
        return [FileRecord(*row) for row in _write_share(root, files, producer, limits, progress, 1)]
    refusal = fork_refusal()
    if refusal is not None:
        log.info("writing %d files on one process: %s", len(files), refusal)
        make_dirs(root, dirs)
        records = [FileRecord(*row) for row in _write_share(root, files, producer, limits, progress, 1)]
        if progress is not None:
            progress(len(files))  # as the two-process path ends
        return records
    half = (len(files) + 1) // 2
    mine, theirs = files[:half], files[half:]
    # Folders both halves need are made before the fork, the others by the side that needs them.
    needed = with_parents((f.path for f in theirs), set())
    shared = with_parents(itertools.chain((f.path for f in mine), plan.dirs), set()) & needed
    make_dirs(root, [d for d in dirs if d in shared])
    # read_fd/write_fd: the worker's shapes, then its result; shapes_in/shapes_out: the parent's shapes
    read_fd, write_fd = os.pipe()
    shapes_in, shapes_out = os.pipe()
    for fd in (write_fd, shapes_out):
        widen(fd)
    pid = os.fork()
    if pid == 0:  # worker: never returns
        status = 0
        try:
            os.close(read_fd)
            os.close(shapes_out)
            die_with_parent()
            try:
                renderer.shape_peer = ShapeExchange(1, write_fd, shapes_in)
                make_dirs(root, [d for d in dirs if d in needed and d not in shared])
                payload = pickle.dumps(("ok", _write_share(root, theirs, producer, limits, None, 1, renderer.shape_peer)))
            except GenerationError as err:
                payload = pickle.dumps(("error", err))
            except BaseException as err:  # noqa: BLE001 - reported to the parent
                payload = pickle.dumps(("error", GenerationError(f"worker failed: {type(err).__name__}: {err}")))
            if isinstance(renderer.shape_peer, ShapeExchange):
                renderer.shape_peer.flush(wait=True)  # a shape frame half sent, before the result
            os.set_blocking(write_fd, True)
            send_frame(write_fd, RESULT, payload)
        except BaseException:  # noqa: BLE001
            status = 1
        finally:
            os._exit(status)
    os.close(write_fd)
    os.close(shapes_in)
    exchange = renderer.shape_peer = ShapeExchange(0, shapes_out, read_fd)
    try:
        make_dirs(root, [d for d in dirs if d not in needed])
        own = _write_share(root, mine, producer, limits, progress, 2, exchange)
        os.close(shapes_out)
        shapes_out = -1
        result = exchange.finish()
        _, status = os.waitpid(pid, 0)
        pid = 0
    finally:
        renderer.shape_peer = None
        os.close(read_fd)
        if shapes_out >= 0:
            os.close(shapes_out)
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
    if result is None or status != 0:
        raise GenerationError(f"generation worker died (status {status})")
    kind, value = pickle.loads(result)
    if kind == "error":
        raise value
    records = [FileRecord(*row) for row in own + value]
    if sum(r.size for r in records) > limits.max_project_bytes:
        raise LimitExceededError("max_project_bytes", sum(r.size for r in records), limits.max_project_bytes)
    records.sort(key=lambda r: r.path)
    if progress is not None:
        progress(len(files))
    return records
