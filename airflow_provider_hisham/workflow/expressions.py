"""References in workflow configs: ``{{ params.x }}`` and ``{{ steps.<id>.output.<key> }}``.

Config strings are Jinja templates that Airflow renders when the task runs; here they are only
checked (syntax, names, referenced params and steps) and translated: a step's output becomes a
``ti.xcom_pull`` of its task, so nothing is resolved at parse time. Conditions (``when``) are
Jinja expressions over the same names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import meta, nodes
from jinja2.exceptions import TemplateError

from airflow_provider_hisham.workflow import sandbox
from airflow_provider_hisham.workflow.sandbox import WorkflowSandbox

ALLOWED_NAMES = frozenset({"params", "steps"})
MAX_TEMPLATE_CHARS = 65_536  # one config string
# statements a config template may use: output, if, and for loops (not nested); no set, macro,
# call, with, include/import/extends, do (each a way to build values or work the sandbox can't bound)
_STATEMENTS = (nodes.Output, nodes.If, nodes.For)
# filters and tests that read the attribute their argument names ("a.b" paths too)
_ATTRIBUTE_FILTERS = frozenset({"attr", "map", "sort", "groupby", "selectattr", "rejectattr", "sum", "unique", "min", "max", "dictsort"})
_FORMAT_FIELD_ATTRIBUTE = re.compile(r"\{[^{}]*[.\[]_")
_ALLOWED_NODES = _STATEMENTS + (nodes.Template, nodes.Expr, nodes.Helper, nodes.TemplateData)


@dataclass(frozen=True)
class Reference:
    """``steps.<name>.output[...]`` (kind "steps") or ``params.<name>`` (kind "params")."""

    kind: str
    name: str


class ExpressionError(ValueError):
    """A template or condition that cannot work; the message says why (no location)."""


@lru_cache(maxsize=1)
def _env() -> WorkflowSandbox:
    """The run-time sandbox itself (no globals, same filters), used only to parse."""
    return sandbox.checking_environment()


def is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _chain(node: nodes.Node) -> list[object] | None:
    """``steps.a.output['k']`` -> ["steps", "a", "output", "k"]; None when not a plain chain."""
    parts: list[object] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem):
            parts.append(node.arg.value if isinstance(node.arg, nodes.Const) else None)
            node = node.node
        elif isinstance(node, nodes.Name):
            parts.append(node.name)
            return parts[::-1]
        else:
            return None


def _bad_expression(exc: TemplateError) -> ExpressionError:
    return ExpressionError(f"bad expression: {exc.message or exc}")


def _references(ast: nodes.Template) -> list[Reference]:
    try:
        # a full pass of Jinja's code generator that only writes nothing: unknown filters and
        # tests fail here exactly as when the template is compiled (documented in jinja2.meta),
        # so the template is not compiled as well
        undeclared = meta.find_undeclared_variables(ast)
    except TemplateError as exc:
        raise _bad_expression(exc) from None
    unknown = sorted(undeclared - ALLOWED_NAMES)
    if unknown:
        raise ExpressionError(
            f"unknown name '{unknown[0]}'; templates may use params.<name> and steps.<id>.output[.<key>]"
        )
    refs: list[Reference] = []
    inner: set[int] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if id(node) in inner:
            continue
        if isinstance(node, (nodes.Getattr, nodes.Getitem)):
            inner.add(id(node.node))
        chain = _chain(node)
        if not chain or chain[0] not in ALLOWED_NAMES or chain[0] not in undeclared:
            continue
        # mark the nested chain nodes so only the longest chain is judged
        sub = node
        while isinstance(sub, (nodes.Getattr, nodes.Getitem)):
            inner.add(id(sub.node))
            sub = sub.node
        if chain[0] == "params":
            if len(chain) < 2 or not isinstance(chain[1], str):
                raise ExpressionError("refer to a param as params.<name>")
            refs.append(Reference("params", chain[1]))
        else:
            if len(chain) < 3 or not isinstance(chain[1], str) or chain[2] != "output" or not isinstance(node, nodes.Node):
                raise ExpressionError("refer to a step's result as steps.<id>.output[.<key>]")
            if not isinstance(_first_link(node, 1), nodes.Getattr):
                raise ExpressionError("refer to a step's result as steps.<id>.output[.<key>] (dots, not brackets)")
            refs.append(Reference("steps", chain[1]))
    return refs


def _first_link(node: nodes.Node, index: int) -> nodes.Node:
    """The chain link that reads element ``index`` (1 = the step id) of a steps.* chain."""
    links = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        links.append(node)
        node = node.node
    links.reverse()
    return links[index - 1]


def _parse(source: str) -> nodes.Template:
    if len(source) > MAX_TEMPLATE_CHARS:
        raise ExpressionError(f"a template may have at most {MAX_TEMPLATE_CHARS} characters, this one has {len(source)}")
    try:
        ast = _env().parse(source)
    except (TemplateError, RecursionError, MemoryError) as exc:
        if isinstance(exc, TemplateError):
            raise _bad_expression(exc) from None
        raise ExpressionError("bad expression: nested too deeply") from None
    _check_sandbox(ast)
    return ast


def _check_sandbox(ast: nodes.Template) -> None:
    """Refuse at parse time what the run-time sandbox would refuse (or could not bound)."""
    for node in ast.find_all(nodes.Node):
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionError(f"'{type(node).__name__.lower()}' blocks are not allowed in workflow templates")
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            raise ExpressionError(f"attribute '{node.attr}' is not allowed (names starting with '_' are internal)")
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str) and node.arg.value.startswith("_"):
            raise ExpressionError(f"item '{node.arg.value}' is not allowed (names starting with '_' are internal)")
        if isinstance(node, (nodes.Filter, nodes.Test)) and node.name in _ATTRIBUTE_FILTERS:
            for arg in list(node.args) + [kw.value for kw in node.kwargs]:
                if isinstance(arg, nodes.Const) and isinstance(arg.value, str) and any(p.startswith("_") for p in arg.value.split(".")):
                    raise ExpressionError(f"attribute '{arg.value}' is not allowed (names starting with '_' are internal)")
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr) and node.node.attr in ("format", "format_map"):
            if isinstance(node.node.node, nodes.Const) and _FORMAT_FIELD_ATTRIBUTE.search(str(node.node.node.value)):
                raise ExpressionError("format fields may not read attributes starting with '_'")
        if isinstance(node, nodes.For) and any(True for _ in node.find_all(nodes.For)):
            raise ExpressionError("for loops may not be nested in workflow templates")
        try:
            if isinstance(node, (nodes.Mul, nodes.Pow, nodes.Mod)):
                sandbox.BOUNDED_BINOPS[node.operator](_const(node.left), _const(node.right))
            elif isinstance(node, (nodes.Filter, nodes.Call)):
                for arg in list(node.args) + [kw.value for kw in node.kwargs]:
                    sandbox.check_width(_const(arg), f"argument of {_callee(node)}")
        except _NotConstant:
            pass
        except (sandbox.TemplateLimitError, ArithmeticError, TypeError, ValueError) as exc:
            raise ExpressionError(f"refused by the template sandbox: {exc}") from None


class _NotConstant(Exception):
    pass


def _const(node: nodes.Node) -> object:
    """The value of a constant expression, computed with the sandbox's bounds (or _NotConstant)."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, (nodes.Mul, nodes.Pow, nodes.Mod)):
        return sandbox.BOUNDED_BINOPS[node.operator](_const(node.left), _const(node.right))
    if isinstance(node, (nodes.Add, nodes.Sub)):
        left, right = _const(node.left), _const(node.right)
        return left + right if isinstance(node, nodes.Add) else left - right
    if isinstance(node, nodes.Neg):
        return -_const(node.node)
    raise _NotConstant


def _callee(node: nodes.Node) -> str:
    if isinstance(node, nodes.Filter):
        return f"filter '{node.name}'"
    target = node.node
    return f"'{target.attr}()'" if isinstance(target, nodes.Getattr) else "a call"


def template_references(value: str) -> list[Reference]:
    """The params and steps a config string refers to; ExpressionError when it cannot render."""
    return _references(_parse(value))


def condition_references(expression: str) -> list[Reference]:
    """Check a ``when`` condition (a bare Jinja expression) and list what it refers to."""
    if is_template(expression):
        raise ExpressionError("write the condition as a bare expression, without {{ }}")
    return _references(_parse("{{ (" + expression + "\n) }}"))


_BLOCK = re.compile(r"(\{\{.*?\}\}|\{%.*?%\})", re.S)
_STEP_REF = re.compile(r"\bsteps\.([a-z][a-z0-9_]*)\.output((?:\.[A-Za-z_][A-Za-z0-9_]*)*)")


def translate(value: str, group_lanes: dict[str, list[str]] | None = None) -> str:
    """Rewrite step references into XCom pulls that Airflow renders at run time.

    ``steps.gen.output.dir`` -> ``ti.xcom_pull(task_ids='gen')['dir']`` (subscripts, so keys
    such as ``items`` never hit dict methods). A parallel block's id stands for the mapping
    lane -> result of its lanes.
    """
    lanes = group_lanes or {}

    def pull(match: re.Match) -> str:
        step, keys = match.group(1), match.group(2)
        if step in lanes:
            base = "{" + ", ".join(f"'{t}': ti.xcom_pull(task_ids='{t}')" for t in lanes[step]) + "}"
        else:
            base = f"ti.xcom_pull(task_ids='{step}')"
        return base + "".join(f"['{k}']" for k in keys.split(".")[1:])

    return _BLOCK.sub(lambda block: _STEP_REF.sub(pull, block.group(0)), value)


_SINGLE = re.compile(r"^\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}$", re.S)


def single_expression(value: str) -> str | None:
    """The expression of a value that is exactly one ``{{ ... }}`` block, else None."""
    match = _SINGLE.match(value.strip())
    return match.group("expr") if match else None


def condition_template(expression: str, group_lanes: dict[str, list[str]] | None = None) -> str:
    """A ``when`` expression as a template rendering to True/False at run time."""
    return translate("{{ true if ((" + expression + "\n)) else false }}", group_lanes)
