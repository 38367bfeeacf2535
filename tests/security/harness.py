"""Run one hostile input in a child process with memory and time limits.

Every case of the hostile-input corpus goes through ``run_confined`` so that a regression (code
that starts to expand an alias bomb, render ``'a' * 10**9`` or loop forever) fails that one case
quickly instead of taking the test process, or CI, down with it.

The child is forked (it inherits the imports already made, so a case costs milliseconds), gets an
address-space limit of its current size plus ``memory_mb`` and a CPU-time limit, and reports back
what happened: the value returned, or the exception's class and message. The parent kills it when
``timeout`` passes.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import re
import resource
import signal
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_MEMORY_MB = 512
DEFAULT_TIMEOUT = 20.0


@dataclass(frozen=True)
class Outcome:
    """What a confined call did: ``returned`` (with ``value``), ``raised``, ``timeout`` or ``killed``."""

    kind: str
    value: Any = None
    exc_type: str | None = None
    exc_types: tuple[str, ...] = ()  # the class and its bases, qualified names
    message: str = ""
    traceback: str = ""

    def describe(self) -> str:
        if self.kind == "raised":
            return f"raised {self.exc_type}: {self.message}\n{self.traceback}"
        if self.kind == "returned":
            return f"returned {self.value!r}"[:2000]
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class Case:
    """One hostile input of the corpus: an id, the area it attacks and what it tries."""

    id: str
    area: str
    attack: str
    payload: Any = None
    extra: dict = field(default_factory=dict)

    def __str__(self) -> str:  # pytest ids
        return self.id


def _vm_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(conn, fn: Callable, args: tuple, kwargs: dict, memory_mb: int, cpu_seconds: int) -> None:
    try:
        limit = _vm_bytes() + memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        signal.signal(signal.SIGXCPU, signal.SIG_DFL)
        try:
            value = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - every outcome is reported to the parent
            names = tuple(f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__)
            result = ("raised", None, names, str(exc), traceback.format_exc(limit=8))
        else:
            try:
                pickle.dumps(value)
            except Exception:  # noqa: BLE001
                value = repr(value)
            result = ("returned", value, (), "", "")
        conn.send(result)
    except BaseException as exc:  # MemoryError while reporting, a broken pipe...
        try:
            conn.send(("raised", None, (f"{type(exc).__module__}.{type(exc).__qualname__}",), str(exc)[:2000], ""))
        except BaseException:  # noqa: BLE001
            pass
    finally:
        conn.close()
        os._exit(0)


def run_confined(fn: Callable, *args: Any, timeout: float = DEFAULT_TIMEOUT, memory_mb: int = DEFAULT_MEMORY_MB,
                 **kwargs: Any) -> Outcome:
    """Call ``fn(*args, **kwargs)`` in a forked child limited to ``memory_mb`` more memory and ``timeout`` s."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args, kwargs, memory_mb, max(1, int(timeout) + 1)), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            return Outcome("timeout", message=f"no answer within {timeout} s")
        try:
            kind, value, names, message, tb = parent.recv()
        except EOFError:
            proc.join(5)
            return Outcome("killed", message=f"child ended without answering (exit code {proc.exitcode})")
        return Outcome(kind, value, names[0] if names else None, tuple(names), message, tb)
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()


def assert_refused(outcome: Outcome, exc_type: type[BaseException] | str, match: str | None = None) -> None:
    """The case was refused with ``exc_type`` (or a subclass), and the message matches ``match``."""
    wanted = exc_type if isinstance(exc_type, str) else f"{exc_type.__module__}.{exc_type.__qualname__}"
    assert outcome.kind == "raised", f"expected a refusal ({wanted}), got {outcome.describe()}"
    assert wanted in outcome.exc_types, f"expected {wanted}, got {outcome.describe()}"
    assert not any(n.endswith(("MemoryError", "RecursionError")) for n in outcome.exc_types[:1]), outcome.describe()
    if match is not None:
        assert re.search(match, outcome.message), f"message {outcome.message!r} does not match {match!r}"


def files_under(root: Path) -> set[Path]:
    """Every path below ``root`` (for 'nothing was written outside the roots' checks)."""
    return {p for p in Path(root).rglob("*")} if Path(root).exists() else set()


def assert_no_secret(secrets: Iterable[str], *texts: str | bytes) -> None:
    """None of ``secrets`` appears in ``texts`` in any form we send: raw, stripped, base64, URL-encoded."""
    import base64
    from urllib.parse import quote

    forms: set[bytes] = set()
    for secret in secrets:
        for s in {secret, secret.strip()}:
            if not s:
                continue
            raw = s.encode()
            forms.update({raw, quote(s, safe="").encode(), base64.b64encode(raw),
                          base64.b64encode(b"x-access-token:" + raw), base64.b64encode(b"oauth2:" + raw)})
    for text in texts:
        blob = text.encode() if isinstance(text, str) else text
        for form in forms:
            assert form not in blob, f"a secret appears (as {form[:4]!r}...) in {blob[:200]!r}"
