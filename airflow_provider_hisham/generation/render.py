"""Jinja rendering in a sandbox, compiling only text that contains template syntax.

Most files of a project template are either static or only substitute variables. Compiling a
Jinja template costs about a millisecond; a plain ``{{ name.attr }}`` substitution done here
gives the same text in microseconds, so only files with real logic go through Jinja, and their
compiled form is cached by *shape*: the parsed tree (Jinja's public ``parse``) with its literal
text taken out. Files that share their logic and differ only in literal text (common in generated
trees: the same header, guards and loops around different code) compile once; their literal text
is passed to the shared compiled template as data, giving the same output as compiling each file.
Only Jinja's public API is used (``parse``, ``jinja2.nodes``, ``from_string`` of a tree).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from types import CodeType
from typing import Any, Protocol

import jinja2
from jinja2 import nodes

from airflow_provider_hisham.generation.errors import LimitExceededError, RenderError
from airflow_provider_hisham.generation.jinja_seams import literal_slot, template_from_code
from airflow_provider_hisham.generation.limits import Limits
from airflow_provider_hisham.generation.sandbox import BoundedEnvironment, BudgetExceeded

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_SIMPLE_EXPR = re.compile(r"\{\{\s*(" + _IDENT + r"(?:\s*\.\s*" + _IDENT + r")*)\s*\}\}")
_NEWLINES = re.compile(r"\r\n|\r")
_MISSING = object()
_TAGS = re.compile(r"(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})", re.S)
_RAW = re.compile(r"\{%[-+]?\s*raw\s*[-+]?%\}")
DATA_NAME = "hisham_template_literal_text_"
# what Python's compiler or Jinja's parser may raise on a hostile (huge, deeply nested) template
_COMPILE_FAILURES = (RecursionError, MemoryError, SyntaxError, OverflowError, ValueError)
# Jinja options a Cookiecutter template may set through _jinja2_env_vars (syntax only)
ENV_OPTIONS = frozenset({
    "block_start_string", "block_end_string", "variable_start_string", "variable_end_string",
    "comment_start_string", "comment_end_string", "line_statement_prefix", "line_comment_prefix",
    "trim_blocks", "lstrip_blocks", "newline_sequence", "keep_trailing_newline",
})


def _flat_globals(template: jinja2.Template) -> jinja2.Template:
    """``template`` with its globals as a plain dict instead of Jinja's ChainMap over the environment's.

    Every render copies the globals into a new context, and iterating a ChainMap runs in Python
    (~10 us a render, a third of a small shape's render). The sandbox's globals are all set when
    its Renderer is built, so a copy taken at compile time holds the same values.
    """
    template.globals = dict(template.globals)
    return template


class ShapePending(Exception):
    """The text's shape is the other writer's to compile: render it once that has arrived."""

    def __init__(self, key: tuple) -> None:
        super().__init__("shape compiled by the other writer")
        self.key = key


class ShapePeer(Protocol):
    defer: bool

    def mine(self, key: tuple) -> bool: ...
    def take(self, key: tuple) -> CodeType | None: ...
    def offer(self, key: tuple, code: CodeType) -> None: ...


class Renderer:
    """One bounded sandbox reused for every file and name of a generation (its time budget too)."""

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        extensions: list[Any] | None = None,
        env_options: dict[str, Any] | None = None,
        cookiecutter_helpers: bool = False,
        cache_size: int = 256,
    ) -> None:
        from airflow_provider_hisham.generation.extensions import (
            NowExtension,
            install_cookiecutter_helpers,
            install_escaping_filters,
        )

        self.limits = limits or Limits()
        exts = list(extensions or [])
        if cookiecutter_helpers:
            exts.append(NowExtension)
        unknown = set(env_options or {}) - ENV_OPTIONS
        if unknown:
            raise RenderError("_jinja2_env_vars", f"options {sorted(unknown)} are not allowed (only {sorted(ENV_OPTIONS)})")
        options = {"keep_trailing_newline": True, **(env_options or {})}
        try:
            self.env = BoundedEnvironment(
                undefined=jinja2.StrictUndefined, extensions=exts,
                max_bytes=self.limits.max_file_bytes, max_seconds=self.limits.max_render_seconds, **options,
            )
        except (TypeError, ValueError, AssertionError) as err:  # e.g. a start string equal to an end string
            raise RenderError("_jinja2_env_vars", f"{type(err).__name__}: {err}") from None
        install_escaping_filters(self.env)
        if cookiecutter_helpers:
            install_cookiecutter_helpers(self.env)
        e = self.env
        self.markers = (e.variable_start_string, e.block_start_string, e.comment_start_string)
        self._fast = (
            self.markers == ("{{", "{%", "{#")
            and e.variable_end_string == "}}"
            and e.line_statement_prefix is None
            and e.line_comment_prefix is None
            and e.newline_sequence == "\n"
            and not e.autoescape
        )
        self._cache: OrderedDict[tuple, jinja2.Template] = OrderedDict()
        self._cache_size = cache_size
        # i18n's {% trans %} reads literal text itself: compile such templates whole.
        self._shapes = not e.autoescape and "jinja2.ext.InternationalizationExtension" not in e.extensions
        # A regex split finds the shape much faster than Jinja's lexer; each scanned shape is
        # checked against the lexer once (on its cache miss) and scanning is only trusted after.
        self._scan = self._fast and self._shapes and not e.trim_blocks and not e.lstrip_blocks
        self._scan_refused: set[tuple] = set()
        # Set by the writer while two processes render one plan (:mod:`.shape_exchange`): shapes
        # the other process compiled are taken instead of compiled again.
        self.shape_peer: ShapePeer | None = None
        self._compiled: tuple[nodes.Template, CodeType] | None = None  # the last shape compiled, for the peer

    def has_syntax(self, text: str) -> bool:
        """Fast check: could this text change when rendered?"""
        a, b, c = self.markers
        return a in text or b in text or c in text

    def render(self, text: str, context: dict[str, Any], path: str, max_bytes: int | None = None) -> str:
        """Render ``text`` (the contents or name of ``path``) with ``context``."""
        if not self.has_syntax(text):
            return _NEWLINES.sub("\n", text) if "\r" in text else text
        if self._fast:
            out = self._substitute(text, context)
            if out is not None:
                if max_bytes is not None and len(out) > max_bytes and len(out.encode("utf-8")) > max_bytes:
                    raise LimitExceededError("max_file_bytes", len(out.encode("utf-8")), max_bytes, path)
                return out
        template, literals = self._compile(text, path)
        if literals is not None:
            context = {**context, DATA_NAME: literals}
        limit = self.limits.max_file_bytes if max_bytes is None else max_bytes
        env = self.env
        try:
            chunks: list[str] = []
            size = 0
            for n, chunk in enumerate(template.generate(context)):
                size += len(chunk)
                if size > limit:
                    raise LimitExceededError("max_file_bytes", size, limit, path)
                if n % 64 == 63:
                    env.check_time()
                chunks.append(chunk)
            return "".join(chunks)
        except LimitExceededError:
            raise
        except BudgetExceeded as err:
            raise LimitExceededError(err.limit, err.value, err.maximum, path, err.what) from None
        except jinja2.TemplateError as err:
            raise RenderError(path, f"{type(err).__name__}: {err}") from None
        except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError, RecursionError, MemoryError) as err:
            raise RenderError(path, f"{type(err).__name__}: {str(err)[:500]}") from None

    def _compile(self, text: str, path: str) -> tuple[jinja2.Template, list[str] | None]:
        """Compiled template for ``text`` and its literal text (None when compiled whole)."""
        env = self.env
        limits = self.limits
        if len(text) > limits.max_template_bytes:
            raise LimitExceededError("max_template_bytes", len(text), limits.max_template_bytes, path, "template text to compile")
        tags = text.count(self.markers[0]) + text.count(self.markers[1]) + text.count(self.markers[2])
        if tags > limits.max_template_tags:
            raise LimitExceededError("max_template_tags", tags, limits.max_template_tags, path, "template tags to compile")
        try:
            if not self._shapes or DATA_NAME in text:  # a text naming the literal slots cannot shadow them
                return self._cached((text,), lambda: _flat_globals(env.from_string(text))), None
            scanned = self._scan_shape(text) if self._scan else None
            peer = self.shape_peer
            if scanned is not None:
                key, literals = scanned
                template = self._cache.get(key)
                if template is not None:
                    self._cache.move_to_end(key)
                    return template, literals
                if peer is not None and key not in self._scan_refused and not peer.mine(key):
                    code = peer.take(key)  # only the other process sends its own shapes
                    if code is not None:
                        return self._cached(key, lambda: _flat_globals(template_from_code(env, code))), literals
                    if peer.defer:
                        raise ShapePending(key)
            shape, literals, tree = self._parse_shape(text)
            template = self._cached(shape, lambda: self._compile_shape(tree))
            if scanned is not None and scanned[0] not in self._scan_refused:
                if scanned[1] == literals:
                    self._cached(scanned[0], lambda: template)
                    compiled, self._compiled = self._compiled, None
                    if peer is not None and compiled is not None and compiled[0] is tree:
                        peer.offer(scanned[0], compiled[1])
                else:
                    self._scan_refused.add(scanned[0])
            return template, literals
        except jinja2.TemplateSyntaxError as err:
            raise RenderError(path, f"syntax error on line {err.lineno}: {err.message}") from None
        except jinja2.TemplateError as err:
            raise RenderError(path, f"{type(err).__name__}: {err}") from None
        except BudgetExceeded as err:  # a constant expression folded at compile time
            raise LimitExceededError(err.limit, err.value, err.maximum, path, err.what) from None
        except _COMPILE_FAILURES as err:
            raise RenderError(path, f"cannot compile (too large or too deeply nested): {type(err).__name__}: {str(err)[:200]}") from None

    @staticmethod
    def _scan_shape(text: str) -> tuple[tuple, list[str]] | None:
        """(shape key, literal text) from a regex split, as Jinja's lexer would give for plain tags.

        Handles ``-`` whitespace control, newline normalisation and empty literals; gives up
        (None) on ``{% raw %}`` and on text the split cannot account for.
        """
        parts = _TAGS.split(text)
        tags = parts[1::2]
        data = parts[0::2]
        # Joined, a marker can only appear where one chunk ends in "{" and the next starts with
        # "{", "%" or "#": a false alarm that falls back to the lexer, never a marker missed.
        joined = "".join(data)
        if "{{" in joined or "{%" in joined or "{#" in joined:
            return None
        joined = "".join(tags)
        if "raw" in joined and any(tag[1] == "%" and _RAW.fullmatch(tag) for tag in tags):
            return None
        if "-" in joined:
            for i, tag in enumerate(tags):
                if tag[2] == "-":
                    data[i] = data[i].rstrip()
                if tag[-3] == "-":
                    data[i + 1] = data[i + 1].lstrip()
        present = tuple(map(bool, data))
        literals = [_NEWLINES.sub("\n", d) if "\r" in d else d for d in data if d]
        return ("scan", tuple(tags), present), literals

    def _cached(self, key: tuple, build) -> jinja2.Template:
        template = self._cache.get(key)
        if template is not None:
            self._cache.move_to_end(key)
            return template
        template = build()
        self._cache[key] = template
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return template

    def _parse_shape(self, text: str) -> tuple[tuple, list[str], nodes.Template]:
        """(shape key, literal text, tree) through Jinja's public ``parse``: every literal text
        node becomes ``{{ DATA_NAME[i] }}``, so texts that differ only in literal text share one
        tree (its ``repr``, which holds no literal text, is the key) and one compiled template."""
        tree = self.env.parse(text)
        literals: list[str] = []
        for output in list(tree.find_all(nodes.Output)):
            for i, node in enumerate(output.nodes):
                if isinstance(node, nodes.TemplateData):
                    output.nodes[i] = literal_slot(DATA_NAME, len(literals), node.lineno)
                    literals.append(node.data)
        tree.set_environment(self.env)
        return ("tree", repr(tree)), literals, tree

    def _compile_shape(self, tree: nodes.Template) -> jinja2.Template:
        """Compile a shape's tree, as ``Environment.from_string`` does; while a peer writer takes
        compiled shapes, keep the code to offer it."""
        code = self.env.compile(tree)
        if self.shape_peer is not None:
            self._compiled = (tree, code)
        return _flat_globals(template_from_code(self.env, code))

    @staticmethod
    def _substitute(text: str, context: dict[str, Any]) -> str | None:
        """Render text whose only syntax is ``{{ name }}`` / ``{{ a.b }}``; None when it has more."""
        if "{%" in text or "{#" in text:
            return None
        parts = _SIMPLE_EXPR.split(text)
        out: list[str] = []
        for i, part in enumerate(parts):
            if i % 2 == 0:
                if "{{" in part:
                    return None
                out.append(_NEWLINES.sub("\n", part) if "\r" in part else part)
                continue
            names = [n.strip() for n in part.split(".")]
            value = context.get(names[0], _MISSING)
            for attr in names[1:]:
                if type(value) not in (dict, OrderedDict) or hasattr(value, attr) or attr not in value:
                    return None
                value = value[attr]
            if value is _MISSING or type(value) not in (str, int, float, bool, type(None)):
                return None
            out.append(str(value))
        return "".join(out)
