"""Compiled template shapes passed between the two writer processes of one generation.

Both processes of a two-process write (:func:`.writer.write_plan`) meet the same shapes in their
halves of a large template, and compiling one costs 1.5-4 ms (Jinja's parser and code generator,
then Python's compiler): with 10 shapes among 10,000 files, each process spent a sixth of its
time compiling what the other had compiled too. Here each shape is compiled by one of the two,
chosen by a checksum of its key, and sent to the other as a marshalled code object, the form
Jinja's own bytecode cache keeps. A text whose shape is the other's is put aside
(:class:`.render.ShapePending`) and rendered once the shape has arrived, or compiled here after
this process's other files: neither process ever waits for the other, so neither can stall it.

Frames on a pipe: a type byte, an 8-byte length, the payload. Neither side ever blocks on a
shape: a frame a full pipe took only part of is finished by later calls, and offers meanwhile are
dropped (the other process compiles those itself); the parent abandons what is unsent when its
files are done. Only the forked writer's result, the last frame on its pipe, is written blocking,
once it has finished its last shape frame, while the parent reads that pipe to its end. Both ends are this package's own processes, as
for the result the forked writer already sends back pickled.
"""

from __future__ import annotations

import fcntl
import hashlib
import marshal
import os
import pickle
import struct
from types import CodeType

SHAPE, RESULT = b"S", b"R"
_HEADER = struct.Struct("<cQ")
_PIPE_BYTES = 1 << 20  # what an unprivileged process may ask for (fs.pipe-max-size)
# Shapes received and not yet used are held at most to this many bytes; more are dropped (this
# process compiles those itself), so a template of thousands of big shapes cannot fill memory.
MAX_HELD_BYTES = 32 << 20
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def widen(fd: int) -> None:
    """Ask for a 1 MiB pipe buffer (Linux), so offered shapes seldom find it full."""
    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_BYTES)
    except OSError:
        pass


def frame(kind: bytes, payload: bytes) -> bytes:
    return _HEADER.pack(kind, len(payload)) + payload


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view):]


def send_frame(fd: int, kind: bytes, payload: bytes) -> None:
    """Write one whole frame to a blocking ``fd``."""
    _write_all(fd, memoryview(frame(kind, payload)))


class ShapeExchange:
    """One process's end: offers the shapes it owns, takes the ones the other sent.

    ``side`` is 0 in the parent, 1 in the forked writer; ``out_fd`` is non-blocking, ``in_fd`` is
    read without blocking until :meth:`finish`.
    """

    def __init__(self, side: int, out_fd: int | None, in_fd: int | None) -> None:
        self.side = side
        self.out_fd, self.in_fd = out_fd, in_fd
        self.defer = True  # cleared once this process's own files are done: compile what is left
        self._shapes: dict[tuple, bytes] = {}
        self._held = 0  # bytes in _shapes
        self._buffer = bytearray()
        self._unsent = memoryview(b"")
        self.results: list[bytes] = []
        if out_fd is not None:
            os.set_blocking(out_fd, False)
        if in_fd is not None:
            os.set_blocking(in_fd, False)

    def mine(self, key: tuple) -> bool:
        """Whose shape ``key`` is: by a checksum of it, so the split is the same in every run."""
        # a CRC's low bit is a linear function of the text: keys differing in one digit split badly
        return hashlib.blake2b(repr(key).encode("utf-8", "surrogatepass"), digest_size=1).digest()[0] & 1 == self.side

    def offer(self, key: tuple, code: CodeType) -> None:
        """Send ``key``'s code if the pipe takes it now. Never waits: what a full pipe did not take
        of a frame is sent by later calls (a further offer meanwhile is dropped)."""
        if self.out_fd is None or not self.mine(key) or not self.flush():
            return
        self._unsent = self._write(memoryview(frame(SHAPE, pickle.dumps((key, marshal.dumps(code))))))

    def flush(self, *, wait: bool = False) -> bool:
        """Send what is left of a frame; True when nothing is left. ``wait`` blocks until then
        (only the forked writer, before its result, while the parent reads to the end)."""
        if self._unsent and wait:
            os.set_blocking(self.out_fd, True)
            _write_all(self.out_fd, self._unsent)
            self._unsent = memoryview(b"")
        elif self._unsent:
            self._unsent = self._write(self._unsent)
        return not self._unsent

    def _write(self, view: memoryview) -> memoryview:
        try:
            return view[os.write(self.out_fd, view):]
        except BlockingIOError:
            return view
        except BrokenPipeError:  # the other process has ended: nothing more to send
            self.out_fd = None
            return memoryview(b"")

    def take(self, key: tuple) -> CodeType | None:
        """The code of ``key`` if the other process has sent it."""
        data = self._shapes.pop(key, None)
        if data is None and self.in_fd is not None:
            self.drain()
            data = self._shapes.pop(key, None)
        if data is None:
            return None
        self._held -= len(data)
        return marshal.loads(data)

    def has(self, key: tuple) -> bool:
        return key in self._shapes

    def drain(self) -> None:
        """Read what has arrived, without waiting (and send on what a full pipe left unsent)."""
        if self._unsent:
            self.flush()
        while True:
            try:
                chunk = os.read(self.in_fd, 1 << 20)
            except BlockingIOError:
                break
            if not chunk:  # the other end is closed: nothing more will come
                break
            self._buffer += chunk
        self._parse()

    def finish(self) -> bytes | None:
        """Read to the end of the pipe (waiting now) and return the result frame, if one came."""
        if self.in_fd is not None:
            os.set_blocking(self.in_fd, True)
            while True:
                chunk = os.read(self.in_fd, 1 << 20)
                if not chunk:
                    break
                self._buffer += chunk
            self._parse()
        return self.results[-1] if self.results else None

    def _parse(self) -> None:
        buffer = self._buffer
        start = 0
        while len(buffer) - start >= _HEADER.size:
            kind, size = _HEADER.unpack_from(buffer, start)
            end = start + _HEADER.size + size
            if len(buffer) < end:
                break
            payload = bytes(buffer[start + _HEADER.size:end])
            if kind == SHAPE:
                key, code = pickle.loads(payload)
                if key not in self._shapes and self._held + len(code) <= MAX_HELD_BYTES:
                    self._shapes[key] = code
                    self._held += len(code)
            else:
                self.results.append(payload)
            start = end
        del buffer[:start]
