"""Jinja rendering in a sandbox, compiling only text that contains template syntax.

Most files of a project template are either static or only substitute variables. Compiling a
Jinja template costs about a millisecond; a plain ``{{ name.attr }}`` substitution done here
gives the same text in microseconds, so only files with real logic go through Jinja, and their
compiled form is cached by source text.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from airflow_provider_hisham.generation.errors import LimitExceededError, RenderError

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_SIMPLE_EXPR = re.compile(r"\{\{\s*(" + _IDENT + r"(?:\s*\.\s*" + _IDENT + r")*)\s*\}\}")
_NEWLINES = re.compile(r"\r\n|\r")
_MISSING = object()


class Renderer:
    """One sandboxed environment reused for every file and name of a generation."""

    def __init__(
        self,
        *,
        extensions: list[Any] | None = None,
        env_options: dict[str, Any] | None = None,
        cookiecutter_helpers: bool = False,
        cache_size: int = 256,
    ) -> None:
        from airflow_provider_hisham.generation.extensions import NowExtension, install_cookiecutter_helpers

        exts = list(extensions or [])
        if cookiecutter_helpers:
            exts.append(NowExtension)
        options = {"keep_trailing_newline": True, **(env_options or {})}
        self.env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, extensions=exts, cache_size=0, **options)
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
            and not e.finalize
            and not e.autoescape
        )
        self._cache: OrderedDict[str, jinja2.Template] = OrderedDict()
        self._cache_size = cache_size

    def has_syntax(self, text: str) -> bool:
        """Fast check: could this text change when rendered?"""
        a, b, c = self.markers
        return a in text or b in text or c in text

    def render(self, text: str, context: dict[str, Any], path: str, max_bytes: int | None = None) -> str:
        """Render ``text`` (the contents or name of ``path``) with ``context``."""
        if not self.has_syntax(text):
            return text
        if self._fast:
            out = self._substitute(text, context)
            if out is not None:
                if max_bytes is not None and len(out) > max_bytes and len(out.encode("utf-8")) > max_bytes:
                    raise LimitExceededError("max_file_bytes", len(out.encode("utf-8")), max_bytes, path)
                return out
        template = self._compile(text, path)
        try:
            if max_bytes is None:
                return template.render(context)
            chunks: list[str] = []
            size = 0
            for chunk in template.generate(context):
                size += len(chunk)
                if size > max_bytes:
                    raise LimitExceededError("max_file_bytes", size, max_bytes, path)
                chunks.append(chunk)
            return "".join(chunks)
        except LimitExceededError:
            raise
        except jinja2.TemplateError as err:
            raise RenderError(path, f"{type(err).__name__}: {err}") from None
        except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError, RecursionError) as err:
            raise RenderError(path, f"{type(err).__name__}: {err}") from None

    def _compile(self, text: str, path: str) -> jinja2.Template:
        template = self._cache.get(text)
        if template is not None:
            self._cache.move_to_end(text)
            return template
        try:
            template = self.env.from_string(text)
        except jinja2.TemplateSyntaxError as err:
            raise RenderError(path, f"syntax error on line {err.lineno}: {err.message}") from None
        except jinja2.TemplateError as err:
            raise RenderError(path, f"{type(err).__name__}: {err}") from None
        self._cache[text] = template
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return template

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
