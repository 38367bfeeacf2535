"""A Jinja sandbox that bounds the work of a render, not only its output.

Jinja's ``SandboxedEnvironment`` blocks attribute escapes but lets a template ask for any amount
of memory or time: ``'a' * 10**9``, ``9 ** (9 ** 9)``, ``x ~ x`` repeated, ``lipsum(n=2000000)``
or loops nested over ``range``. :class:`BoundedEnvironment` refuses, *before* computing it, any
string, list or number that would exceed the render budget (operators through Jinja's documented
``intercepted_binops`` / ``call_binop``, ``~`` through the code generator, amplifying filters and
``str`` methods by an estimate from their arguments, and every printed value), caps ``range`` and
``lipsum``, and checks a deadline on every call, every loop iteration and the output stream.
Each refusal is a :class:`BudgetExceeded`, which the renderer turns into an error naming the file.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from jinja2.runtime import Namespace
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

from airflow_provider_hisham.generation.jinja_seams import BoundedCodeGenerator, BoundedNamespace, check_seams

MAX_RANGE = 100_000  # items one range() may give (Jinja's own sandbox limit)
MAX_LIPSUM_PARAGRAPHS = 100
MAX_LIPSUM_WORDS = 1_000
MAX_INT_BITS = 16_384  # about 4,900 decimal digits: Python's own int/str limit is 4,300
TICK_EVERY = 256  # calls / loop iterations between two looks at the clock
_PRINTF_WIDTH = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_NUMBER = re.compile(r"\d+")


class BudgetExceeded(Exception):
    """A render asked for more than its budget; ``limit`` names which one."""

    def __init__(self, limit: str, value: float, maximum: float, what: str) -> None:
        self.limit, self.value, self.maximum, self.what = limit, value, maximum, what
        super().__init__(f"{what}: {limit} exceeded ({value:.0f} > {maximum:.0f})")


def estimate_size(value: Any, cap: int) -> int:
    """Characters ``str(value)`` would take, roughly; stops counting once past ``cap``.

    Shared references count each time (a list of one big string repeated is as big as printed).
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, (bytes, bytearray)):
            total += 4 * len(item)
        elif isinstance(item, (bool, float, type(None))):
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            for k, v in item.items():
                stack.append(k)
                stack.append(v)
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            stack.extend(item)
        elif isinstance(item, Namespace):
            total += 16
        else:
            total += 16
        if total > cap:
            return total
    return total


class BoundedEnvironment(SandboxedEnvironment):
    """Sandboxed environment with a size cap (``max_bytes``) and a time budget (``deadline``)."""

    code_generator_class = BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *args: Any, max_bytes: int, max_seconds: float, **kwargs: Any) -> None:
        super().__init__(*args, finalize=self._finalize, **kwargs)
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.started = time.monotonic()
        self.deadline = self.started + max_seconds
        self._ticks = 0
        self.globals["range"] = self.bounded_range
        self.globals["lipsum"] = self.bounded_lipsum
        self.globals["namespace"] = self._namespace
        for name, check in _FILTER_CHECKS.items():
            if name in self.filters:
                self.filters[name] = self._checked_filter(self.filters[name], name, check)
        check_seams(BoundedEnvironment, BudgetExceeded)  # once per process: the bounds above still apply

    # --- budget ---------------------------------------------------------------------------

    def tick(self) -> None:
        self._ticks += 1
        if self._ticks % TICK_EVERY == 0:
            self.check_time()

    def check_time(self) -> None:
        now = time.monotonic()
        if now > self.deadline:
            raise BudgetExceeded("max_render_seconds", now - self.started, self.max_seconds, "rendering takes too long")

    def check_size(self, value: Any, what: str) -> None:
        if isinstance(value, (str, list, tuple, dict, set, frozenset)) or (isinstance(value, int) and not isinstance(value, bool)):
            if isinstance(value, int):
                if value.bit_length() > MAX_INT_BITS:
                    raise BudgetExceeded("max_int_bits", value.bit_length(), MAX_INT_BITS, what)
                return
            size = len(value) if isinstance(value, str) else estimate_size(value, self.max_bytes)
            if size > self.max_bytes:
                raise BudgetExceeded("max_file_bytes", size, self.max_bytes, what)

    def _refuse_over(self, size: float, what: str) -> None:
        if size > self.max_bytes:
            raise BudgetExceeded("max_file_bytes", size, self.max_bytes, what)

    def _check_ints(self, args: Iterable[Any], what: str) -> None:
        for a in args:
            if isinstance(a, int) and not isinstance(a, bool) and abs(a) > self.max_bytes:
                raise BudgetExceeded("max_file_bytes", abs(a), self.max_bytes, f"{what}: argument")

    # --- hooks Jinja calls ------------------------------------------------------------------

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.tick()
        cap = self.max_bytes
        what = f"'{operator}' result"
        if operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
                bits = right * math.log2(abs(left))
                if bits > MAX_INT_BITS:
                    raise BudgetExceeded("max_int_bits", bits, MAX_INT_BITS, what)
        elif operator == "*":
            seq, n = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(seq, int) and isinstance(n, int):
                if seq.bit_length() + n.bit_length() > MAX_INT_BITS:
                    raise BudgetExceeded("max_int_bits", seq.bit_length() + n.bit_length(), MAX_INT_BITS, what)
            elif isinstance(n, int) and isinstance(seq, (str, list, tuple)) and n > 0:
                self._refuse_over(estimate_size(seq, cap) * n if seq else 0, what)
        elif operator == "+":
            if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
                self._refuse_over(estimate_size(left, cap) + estimate_size(right, cap), what)
        elif operator == "%" and isinstance(left, str):
            self._check_printf(left, right, what)
        result = self.binop_table[operator](left, right)
        return result

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's signature
        __self.tick()
        __self._check_ints(args, "call")
        __self._check_ints(kwargs.values(), "call")
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str) and name in _STR_METHOD_CHECKS:
            _STR_METHOD_CHECKS[name](__self, owner, args, f"str.{name}()")
        elif isinstance(owner, list) and name in ("extend", "__iadd__") and args:
            __self._refuse_over(estimate_size(owner, __self.max_bytes) + estimate_size(args[0], __self.max_bytes), "list.extend()")
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            self._check_format(fmt, args, kwargs, "str.format()")
            return wrapped(*args, **kwargs)

        return checked

    def bounded_concat(self, parts: tuple) -> str:
        self._refuse_over(sum(len(p) if isinstance(p, str) else estimate_size(p, self.max_bytes) for p in parts), "'~' result")
        return "".join([p if isinstance(p, str) else str(p) for p in parts])

    def bounded_loop(self, iterable: Any):
        """The iterable of a ``{% for %}``, with a look at the clock every few iterations."""
        for n, item in enumerate(iterable):
            if n % TICK_EVERY == 0:
                self.check_time()
            yield item

    def bounded_range(self, *args: int) -> range:
        rng = range(*args)
        if len(rng) > MAX_RANGE:
            raise BudgetExceeded("max_range", len(rng), MAX_RANGE, "range()")
        return rng

    def bounded_lipsum(self, n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
        if n > MAX_LIPSUM_PARAGRAPHS:
            raise BudgetExceeded("max_lipsum_paragraphs", n, MAX_LIPSUM_PARAGRAPHS, "lipsum()")
        if max > MAX_LIPSUM_WORDS or min > MAX_LIPSUM_WORDS:
            raise BudgetExceeded("max_lipsum_words", max, MAX_LIPSUM_WORDS, "lipsum()")
        return generate_lorem_ipsum(n=n, html=html, min=min, max=max)

    def _namespace(self, *args: Any, **kwargs: Any) -> BoundedNamespace:
        for value in (*args, *kwargs.values()):
            self.check_size(value, "namespace()")
        ns = BoundedNamespace(*args, **kwargs)
        object.__setattr__(ns, "_hisham_env", self)  # not a template-visible attribute
        return ns

    def _finalize(self, value: Any) -> Any:
        """Every ``{{ value }}`` before it is turned into text: containers must print small."""
        if not isinstance(value, (str, int, float, bool, type(None))):
            self._refuse_over(estimate_size(value, self.max_bytes), "printed value")
        return value

    # --- formatting -----------------------------------------------------------------------

    def _check_printf(self, fmt: str, args: Any, what: str) -> None:
        values = args if isinstance(args, tuple) else (args,)
        total = len(fmt) + sum(estimate_size(v, self.max_bytes) for v in values)
        for width, precision in _PRINTF_WIDTH.findall(fmt):
            for spec in (width, precision):
                if spec == "*":
                    self._check_ints(values, what)
                elif spec:
                    total += int(spec)
        self._refuse_over(total, what)

    def _check_format(self, fmt: str, args: tuple, kwargs: dict, what: str) -> None:
        total = len(fmt) + sum(estimate_size(v, self.max_bytes) for v in (*args, *kwargs.values()))
        total += sum(int(n) for n in _FORMAT_NUMBER.findall(fmt) if len(n) < 20) if "{" in fmt else 0
        if any(len(n) >= 20 for n in _FORMAT_NUMBER.findall(fmt)):
            total = self.max_bytes + 1
        self._check_ints(args, what)
        self._refuse_over(total, what)

    def _checked_filter(self, fn: Callable, name: str, check: Callable) -> Callable:
        def checked(*args: Any, **kwargs: Any) -> Any:
            self.tick()
            values = [a for a in args if not _is_context(a)]
            check(self, values, kwargs, f"filter {name!r}")
            return fn(*args, **kwargs)

        for attr in ("jinja_pass_arg",):  # keep @pass_context / @pass_environment markers
            if hasattr(fn, attr):
                setattr(checked, attr, getattr(fn, attr))
        return checked


def _is_context(value: Any) -> bool:
    from jinja2.environment import Environment
    from jinja2.nodes import EvalContext
    from jinja2.runtime import Context

    return isinstance(value, (Context, Environment, EvalContext))


# --- estimates for the operations that can return much more than they are given -----------------


def _generic(env: BoundedEnvironment, values: list, kwargs: dict, what: str) -> None:
    env._check_ints((*values, *kwargs.values()), what)
    env._refuse_over(sum(estimate_size(v, env.max_bytes) for v in (*values, *kwargs.values())), what)


def _join(env: BoundedEnvironment, values: list, kwargs: dict, what: str) -> None:
    if not values:
        return
    items = values[0]
    sep = values[1] if len(values) > 1 else kwargs.get("d", "")
    size = estimate_size(items, env.max_bytes)
    count = len(items) if hasattr(items, "__len__") else 0
    env._refuse_over(size + len(str(sep)) * count, what)


def _replace(env: BoundedEnvironment, values: list, kwargs: dict, what: str) -> None:
    if len(values) >= 3 and isinstance(values[0], str):
        s, old, new = str(values[0]), str(values[1]), str(values[2])
        count = s.count(old) if old else len(s) + 1
        env._refuse_over(len(s) + count * len(new), what)


def _indent(env: BoundedEnvironment, values: list, kwargs: dict, what: str) -> None:
    if not values:
        return
    s = str(values[0]) if isinstance(values[0], str) else ""
    width = values[1] if len(values) > 1 else kwargs.get("width", 4)
    env._check_ints([width] if isinstance(width, int) else [], what)
    per_line = width if isinstance(width, int) else len(str(width))
    env._refuse_over(len(s) + (s.count("\n") + 1) * per_line, what)


def _slice(env: BoundedEnvironment, values: list, kwargs: dict, what: str) -> None:
    n = values[1] if len(values) > 1 else kwargs.get("slices", 1)
    if isinstance(n, int) and n > MAX_RANGE:
        raise BudgetExceeded("max_range", n, MAX_RANGE, what)


def _format(env: BoundedEnvironment, values: list, kwargs: dict, what: str) -> None:
    """``fmt|format(*args)`` is ``fmt % args``."""
    if values and isinstance(values[0], str):
        env._check_printf(values[0], tuple(values[1:]) or tuple(kwargs.values()), what)


_FILTER_CHECKS: dict[str, Callable] = {
    "join": _join,
    "format": _format,
    "replace": _replace,
    "indent": _indent,
    "slice": _slice,
    **{name: _generic for name in ("center", "wordwrap", "tojson", "pprint", "string", "list", "xmlattr",
                                   "urlize", "truncate", "jsonify", "batch", "filesizeformat")},
}


def _str_join(env: BoundedEnvironment, s: str, args: tuple, what: str) -> None:
    if args:
        _join(env, [args[0], s], {}, what)


def _str_replace(env: BoundedEnvironment, s: str, args: tuple, what: str) -> None:
    if len(args) >= 2:
        _replace(env, [s, args[0], args[1]], {}, what)


def _str_width(env: BoundedEnvironment, s: str, args: tuple, what: str) -> None:
    env._check_ints(args, what)


def _str_expandtabs(env: BoundedEnvironment, s: str, args: tuple, what: str) -> None:
    tab = args[0] if args and isinstance(args[0], int) else 8
    env._refuse_over(len(s) + s.count("\t") * max(tab, 0), what)


_STR_METHOD_CHECKS: dict[str, Callable] = {
    "join": _str_join,
    "replace": _str_replace,
    "center": _str_width,
    "ljust": _str_width,
    "rjust": _str_width,
    "zfill": _str_width,
    "expandtabs": _str_expandtabs,
}
