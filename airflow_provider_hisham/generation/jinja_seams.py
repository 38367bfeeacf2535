"""Where the render sandbox leans on Jinja beyond its documented API, in one place.

Jinja documents ``Environment.code_generator_class`` as the way to change the Python code a
template compiles to, but the ``CodeGenerator`` methods it calls (``visit_Concat``,
``visit_Call``, ``visit_For``, ``visit_Getitem``, ``write``, ``frame.eval_ctx``, and the
``_output_child_pre`` / ``_output_child_post`` hooks that Jinja's own ``NativeCodeGenerator``
overrides) and the way ``{% set ns.x %}`` writes into a ``Namespace`` are not a stable API. The
sandbox's bounds on ``~``, on loops and on namespace attributes live there, and a render that
silently lost them would run unbounded.

Compiled shapes travel between the two writer processes as code objects; a template is made
from one with ``Template.from_code``, the constructor ``Environment.from_string`` itself uses
(undocumented, in Jinja since 2.0).

The render cache's literal slots (:func:`literal_slot`) live here too: literal text taken out of
a compiled shape is printed as Jinja prints literal text, without ``finalize`` or the sandbox's
``getitem`` (both cost a call per slot and check nothing a literal string could break).

Tested with Jinja2 3.1.4 to 3.1.6 (``TESTED_JINJA``). Rather than refuse every other version,
:func:`check_seams` renders a probe once per process, before the first template, and raises
:class:`JinjaSeamError` naming the installed version and the bound that no longer applies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import CodeType
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.runtime import Namespace

TESTED_JINJA = ("3.1.4", "3.1.5", "3.1.6")


class JinjaSeamError(RuntimeError):
    """The installed Jinja no longer applies one of the sandbox's bounds: no template is rendered."""


def template_from_code(env: jinja2.Environment, code: CodeType) -> jinja2.Template:
    """The template of ``code`` (``env.compile(source)``), as ``env.from_string(source)`` gives it."""
    return env.template_class.from_code(env, code, env.make_globals(None), None)


_LITERAL = "_hisham_literal_slot"


def literal_slot(name: str, index: int, lineno: int) -> nodes.Getitem:
    """``{{ name[index] }}`` for the ``index``-th literal text of a shape; ``name`` is a list of
    strings the renderer passes in (a template never names it: such a text is compiled whole)."""
    node = nodes.Getitem(nodes.Name(name, "load", lineno=lineno), nodes.Const(index, lineno=lineno), "load", lineno=lineno)
    setattr(node, _LITERAL, True)
    return node


def _is_literal(node: nodes.Node) -> bool:
    return getattr(node, _LITERAL, False)


class BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator with ``~`` and ``for`` routed through the environment's checks, and
    literal slots printed as Jinja prints literal text (``visit_TemplateData``): as they are, as
    ``Markup`` under autoescape, and never through ``finalize``."""

    def _output_child_pre(self, node: nodes.Expr, frame: Any, finalize: Any) -> None:
        if not _is_literal(node):
            super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Any, finalize: Any) -> None:
        if not _is_literal(node):
            super()._output_child_post(node, frame, finalize)

    def visit_Getitem(self, node: nodes.Getitem, frame: Any) -> None:
        if not _is_literal(node):
            return super().visit_Getitem(node, frame)
        wrap = ("(Markup if context.eval_ctx.autoescape else identity)(" if frame.eval_ctx.volatile
                else "Markup(" if frame.eval_ctx.autoescape else "")
        self.write(wrap)
        self.visit(node.node, frame)
        self.write(f"[{int(node.arg.value)}]" + (")" if wrap else ""))

    def visit_Concat(self, node: nodes.Concat, frame: Any) -> None:
        if frame.eval_ctx.volatile or frame.eval_ctx.autoescape:
            return super().visit_Concat(node, frame)
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Call(self, node: nodes.Call, frame: Any, **kwargs: Any) -> None:
        # The loop wrapper added below is our own method: a plain call, not the sandbox's
        # checked ``environment.call`` (~10 us a loop, with nothing to check).
        if isinstance(node.node, nodes.EnvironmentAttribute) and node.node.name == "bounded_loop" and getattr(node, "_bounded", False):
            self.write("environment.bounded_loop(")
            self.visit(node.args[0], frame)
            self.write(")")
            return
        super().visit_Call(node, frame, **kwargs)

    def visit_For(self, node: nodes.For, frame: Any) -> None:
        if not getattr(node, "_bounded", False):
            node.iter = nodes.Call(nodes.EnvironmentAttribute("bounded_loop"), [node.iter], [], None, None, lineno=node.lineno)
            node.iter._bounded = True
            node._bounded = True
        return super().visit_For(node, frame)


class BoundedNamespace(Namespace):
    """``namespace()`` whose attributes cannot grow past the budget (``{% set ns.x = ns.x ~ ns.x %}``)."""

    def __setitem__(self, name: str, value: Any) -> None:
        object.__getattribute__(self, "_hisham_env").check_size(value, f"namespace attribute {name!r}")
        super().__setitem__(name, value)


_checked = False
# (bound, template, variables, whether the deadline is already past); each must be refused
_PROBES = (
    ("'~' through bounded_concat", "{{ a ~ a }}", {"a": "x" * 40}, False),
    ("namespace attributes through BoundedNamespace", "{% set ns = namespace() %}{% set ns.x = a %}", {"a": "x" * 80}, False),
    ("{% for %} through bounded_loop", "{% for i in a %}{% endfor %}", {"a": [1]}, True),
)


def check_seams(make_env: Callable[..., Any], refused: type[Exception]) -> None:
    """Render each probe with a 64-character budget (``make_env(max_bytes=, max_seconds=)``) and
    raise :class:`JinjaSeamError` unless every one is ``refused``. Runs once per process."""
    global _checked
    if _checked:
        return
    _checked = True  # first: each probe builds an environment, which calls this again
    failed = []
    try:
        for bound, source, variables, late in _PROBES:
            env = make_env(max_bytes=64, max_seconds=60.0)
            if late:
                env.deadline = time.monotonic() - 1
            try:
                env.from_string(source).render(**variables)
            except refused:
                continue
            failed.append(bound)
    except BaseException:
        _checked = False
        raise
    if failed:
        _checked = False
        raise JinjaSeamError(
            f"Jinja2 {jinja2.__version__} no longer applies the render sandbox's bounds ({'; '.join(failed)}); "
            f"airflow-provider-hisham was tested with Jinja2 {', '.join(TESTED_JINJA)}: install one of those"
        )
