"""Cookiecutter's default Jinja helpers, re-implemented so cookiecutter is not a runtime dependency.

``jsonify``, ``slugify``, ``random_ascii_string``, ``uuid4`` and the ``{% now %}`` tag behave like
``cookiecutter.extensions``; templates may also enable a short list of Jinja's own extensions.
Anything else in ``_extensions`` is refused: loading it would import arbitrary code.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import secrets
import string
import unicodedata
import uuid
from typing import Any

from jinja2 import nodes
from jinja2.ext import Extension

from airflow_provider_hisham.generation.errors import TemplateSpecError

ALLOWED_JINJA_EXTENSIONS = {
    "jinja2.ext.do": "jinja2.ext.do",
    "jinja2.ext.loopcontrols": "jinja2.ext.loopcontrols",
    "jinja2.ext.i18n": "jinja2.ext.i18n",
}


def _fallback_slugify(value: str, separator: str = "-", lowercase: bool = True, **_: Any) -> str:
    value = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    value = value.lower() if lowercase else value
    value = re.sub(r"[^A-Za-z0-9]+", separator, value).strip(separator)
    return value


def slugify(value: str, *args: Any, **kwargs: Any) -> str:
    """python-slugify when installed (as cookiecutter uses), else an ASCII approximation."""
    try:
        from slugify import slugify as pyslugify
    except ImportError:  # pragma: no cover - python-slugify ships with most Airflow installs
        return _fallback_slugify(value, **kwargs)
    return pyslugify(value, *args, **kwargs)


def jsonify(obj: Any, indent: int = 4) -> str:
    return json.dumps(obj, sort_keys=True, indent=indent)


def random_ascii_string(length: int, punctuation: bool = False) -> str:
    corpus = string.ascii_letters + (string.punctuation if punctuation else "")
    return "".join(secrets.choice(corpus) for _ in range(length))


def uuid4() -> str:
    return str(uuid.uuid4())


class NowExtension(Extension):
    """``{% now 'utc' %}`` / ``{% now 'local', '%Y' %}`` like cookiecutter's TimeExtension (no offsets)."""

    tags = {"now"}

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        environment.extend(datetime_format="%Y-%m-%d")

    def _now(self, timezone: str, datetime_format: str | None) -> str:
        tz = _dt.timezone.utc if str(timezone).lower() == "utc" else None
        moment = _dt.datetime.now(tz) if tz else _dt.datetime.now().astimezone()
        return moment.strftime(datetime_format or self.environment.datetime_format)

    def parse(self, parser: Any) -> nodes.Output:
        lineno = next(parser.stream).lineno
        args = [parser.parse_expression()]
        args.append(parser.parse_expression() if parser.stream.skip_if("comma") else nodes.Const(None))
        call = self.call_method("_now", args, lineno=lineno)
        return nodes.Output([call], lineno=lineno)


_LITERAL_DEPTH = 32
_TOML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _check_literal(value: Any, depth: int = 0) -> None:
    if depth > _LITERAL_DEPTH:
        raise ValueError(f"value nested deeper than {_LITERAL_DEPTH} levels")
    if isinstance(value, (str, bool, int, float, type(None))):
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_literal(item, depth + 1)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _check_literal(k, depth + 1)
            _check_literal(v, depth + 1)
        return
    raise ValueError(f"{type(value).__name__} has no Python literal form")


def pyrepr(value: Any) -> str:
    """A Python literal of ``value`` (str, number, bool, None, lists/dicts of them): safe in ``.py`` files."""
    _check_literal(value)
    return repr(value)


def toml_string(value: Any) -> str:
    """A TOML basic string (quotes included) holding ``str(value)``: safe in ``.toml`` files."""
    out = []
    for ch in str(value):
        if ch in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[ch])
        elif ch < " " or ch == "\x7f" or "\ud800" <= ch <= "\udfff":
            out.append(f"\\u{ord(ch):04X}" if not "\ud800" <= ch <= "\udfff" else "\\uFFFD")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def install_escaping_filters(environment: Any) -> None:
    """Filters that quote a value for the language of the file it is written into."""
    environment.filters["pyrepr"] = pyrepr
    environment.filters["toml"] = toml_string


def install_cookiecutter_helpers(environment: Any) -> None:
    environment.filters["jsonify"] = jsonify
    environment.filters["slugify"] = slugify
    environment.globals["random_ascii_string"] = random_ascii_string
    environment.globals["uuid4"] = uuid4


def resolve_extensions(names: list[str], source: str) -> list[Any]:
    """Map ``_extensions`` entries to safe extension classes; refuse unknown ones."""
    result: list[Any] = []
    for name in names:
        name = str(name)
        if name.startswith("cookiecutter.extensions."):
            continue  # already built in
        if name in ALLOWED_JINJA_EXTENSIONS:
            result.append(ALLOWED_JINJA_EXTENSIONS[name])
            continue
        raise TemplateSpecError(
            f"{source}: extension {name!r} is not allowed (only {sorted(ALLOWED_JINJA_EXTENSIONS)} "
            "and cookiecutter's built-ins; loading other extensions would run template-supplied code)"
        )
    return result
