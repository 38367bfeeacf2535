"""The Jinja environment in which workflow config values render at run time: sandboxed and native.

Config strings are hostile. Airflow's own native environment is not sandboxed (``cycler.__init__.
__globals__.os`` reaches the worker's ``os``), so workflow DAGs render in this one instead: Jinja's
immutable sandbox (no attribute or item starting with ``_``, no mutation of lists and dicts) with
the native code generator (``{{ steps.x.output }}`` keeps its type), no globals (no ``range``,
``lipsum``, ``cycler``, ``joiner``, ``namespace``, ``dict``), and bounds on the work an
expression can ask for: ``*``, ``**`` and ``%`` on sizes, width arguments of filters and string
methods, and a time budget per rendered value. This module imports no Airflow; see
:mod:`.airflow_env` for how Airflow is made to use it.
"""

from __future__ import annotations

import operator
import re
import time
from typing import Any

from jinja2 import StrictUndefined, Undefined, nativetypes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_SIZE = 100_000  # characters or items one operation (*, a filter, a str method) may produce
MAX_WIDTH = 10_000  # width/count arguments of filters and string methods
MAX_POWER_BITS = 4_096  # bits of an integer power
RENDER_SECONDS = 5.0  # CPU budget of one rendered value (checked at every call and operator)

# Airflow's own template filters (airflow.sdk.definitions._internal.templater.FILTERS), accepted
# besides Jinja's built-ins; the run-time environment has the real ones.
AIRFLOW_FILTERS = ("ds", "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz")
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_FORMAT_WIDTH = re.compile(r"%[-+ #0]*(\*|\d{5,})|%[-+ #0]*\d*\.(\*|\d{5,})|:[^{}]*?(\d{5,})")


class TemplateLimitError(SecurityError):
    """A config expression asked for more work than a workflow template may do."""


class _BudgetContext(Context):
    """A render's context, carrying its deadline (each rendered value gets a fresh one)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = time.monotonic() + RENDER_SECONDS


def _check_size(size: int, what: str) -> None:
    if size > MAX_SIZE:
        raise TemplateLimitError(f"{what} would make {size} items; a workflow template may make at most {MAX_SIZE}")


def check_width(value: Any, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_WIDTH:
        raise TemplateLimitError(f"{what}: {value} is over the limit of {MAX_WIDTH}")


def _check_format(text: Any) -> None:
    if isinstance(text, str) and _FORMAT_WIDTH.search(text):
        raise TemplateLimitError(f"format widths over {MAX_WIDTH - 1} or '*' are not allowed in workflow templates")


def _len(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 1


def _check_replace(text: str, old: Any, new: Any) -> None:
    count = (len(text) + 1) if old == "" else text.count(old) if isinstance(old, str) else 0
    _check_size(len(text) + count * _len(new), "replace")


def _mul(left: Any, right: Any) -> Any:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple)) and isinstance(count, int):
            _check_size(len(seq) * max(count, 0), "'*'")
    return operator.mul(left, right)


def _pow(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and right > 0:
        if abs(left) > 1 and max(abs(left).bit_length() - 1, 1) * right > MAX_POWER_BITS:
            raise TemplateLimitError(f"'**': the result would have over {MAX_POWER_BITS} bits")
    return operator.pow(left, right)


def _mod(left: Any, right: Any) -> Any:
    _check_format(left)
    return operator.mod(left, right)


BOUNDED_BINOPS = {"*": _mul, "**": _pow, "%": _mod}


def _bounded_filter(name: str, function: Any) -> Any:
    """A filter whose width/count arguments are bounded (``center(10**9)``, ``indent(...)``)."""

    first = 2 if hasattr(function, "jinja_pass_arg") else 1  # after the environment/context

    def bounded(*args: Any, **kwargs: Any) -> Any:
        for value in list(args[first:]) + list(kwargs.values()):
            check_width(value, f"filter '{name}'")
        value = args[first - 1] if len(args) >= first else None
        if name == "format":
            _check_format(value)
        elif name == "join" and value is not None:
            separator = args[first] if len(args) > first else kwargs.get("d", "")
            _check_size(_len(value) * (_len(separator) + 1), "filter 'join'")
        elif name == "replace" and isinstance(value, str) and len(args) > first + 1:
            _check_replace(value, args[first], args[first + 1])
        result = function(*args, **kwargs)
        if isinstance(result, (str, list)):
            _check_size(len(result), f"filter '{name}'")
        return result

    for attribute in ("jinja_pass_arg",):  # pass_context / pass_environment markers
        if hasattr(function, attribute):
            setattr(bounded, attribute, getattr(function, attribute))
    return bounded


class WorkflowSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox rendering native Python values, with bounded work."""

    code_generator_class = nativetypes.NativeCodeGenerator
    concat = staticmethod(nativetypes.native_concat)  # type: ignore[assignment]
    context_class = _BudgetContext
    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        options.setdefault("undefined", StrictUndefined)
        options.setdefault("cache_size", 0)
        options.setdefault("finalize", _finalize)
        super().__init__(**options)
        self.globals.clear()  # configs refer to params and steps only
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def add_filters(self, filters: dict[str, Any]) -> None:
        """Add (Airflow's, the DAG's) filters, bounded like Jinja's own."""
        self.filters.update({name: _bounded_filter(name, f) for name, f in filters.items()})

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        _check_time(context)
        binop = BOUNDED_BINOPS.get(operator_name)
        if binop is None:
            return super().call_binop(context, operator_name, left, right)
        return binop(left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's signature
        _check_time(__context)
        name = getattr(__obj, "__name__", "")
        if isinstance(getattr(__obj, "__self__", None), str):
            if name in _WIDTH_METHODS:
                for value in list(args) + list(kwargs.values()):
                    check_width(value, f"str.{name}")
            elif name == "replace" and len(args) >= 2:
                _check_replace(__obj.__self__, args[0], args[1])
            elif name == "join" and args:
                _check_size(_len(args[0]) * (len(__obj.__self__) + 1), "str.join")
            elif name in ("format", "format_map"):
                _check_format(__obj.__self__)
        return super().call(__context, __obj, *args, **kwargs)


def _finalize(value: Any) -> Any:
    """Native output does not stringify values, so an undefined one (a missing key, or what the
    sandbox refused to read) would reach the operator as an object: raise its error instead."""
    return str(value) if isinstance(value, Undefined) else value


def _check_time(context: Any) -> None:
    deadline = getattr(context, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise TemplateLimitError(f"the template ran over its {RENDER_SECONDS:g} s budget")


def checking_environment() -> WorkflowSandbox:
    """The environment the parse-time check parses with: the run-time one, Airflow's filters as
    stand-ins (it never renders)."""
    env = WorkflowSandbox()
    env.add_filters({name: (lambda value, *a, **k: value) for name in AIRFLOW_FILTERS})
    return env
