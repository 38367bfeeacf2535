"""The renderer's shortcuts (plain substitution, shape-shared compilation) equal plain Jinja output."""

from __future__ import annotations

import jinja2
import pytest
from jinja2.sandbox import SandboxedEnvironment

from airflow_provider_hisham.generation.errors import LimitExceededError, RenderError
from airflow_provider_hisham.generation.render import Renderer

CONTEXT = {"name": "World", "n": 3, "flag": True, "items": ["a", "b"], "cfg": {"port": 80, "items": "shadow"}, "none": None}

SOURCES = [
    "plain text, nothing to do\n",
    "Hello {{ name }}!\r\nBye {{name}}\rEnd\n",
    "{{ cfg.port }} {{ cfg . port }} {{ n }} {{ flag }} {{ none }}",
    "{{ cfg.items }}",  # dict method shadows the key: Jinja returns the method
    "{{- name -}}  \n  {{ name }}",
    "{% for i in items %}{{ loop.index }}={{ i }}{% else %}none{% endfor %}\n",
    "{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(name) }}",
    "{% macro w() %}[{{ caller() }}]{% endmacro %}{% call w() %}inner {{ name }}{% endcall %}",
    "{% set block %}inner {{ name }}{% endset %}{{ block | upper }}",
    "{% filter upper %}shout {{ name }}{% endfilter %} tail",
    "{% raw %}{{ not rendered }}{% endraw %} {{ n * 2 }}",
    "{# comment #}a{#- trimmed -#}   b",
    "{% if flag %}\n  yes\n{% elif n %}maybe{% else %}no{% endif %}\n\n",
    "{% for k, v in cfg.items() | sort %}{{ k }}:{{ v }};{% endfor %}",
    "{%- for x in [1, 2, 3] recursive %}{{ x }}{%- endfor %}",
    "{{ '%s-%d' % (name, n) }} {{ items | join(',') }} {{ name | replace('o', '0') }}",
]


@pytest.mark.parametrize("index", range(len(SOURCES)))
@pytest.mark.parametrize("suffix", ["", "\nsame shape, other literal text 1\n", "\nsame shape, other literal text 2\n"])
def test_same_output_as_plain_jinja(index, suffix):
    source = SOURCES[index] + suffix
    plain = SandboxedEnvironment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    expected = plain.from_string(source).render(CONTEXT)
    renderer = Renderer()
    # Render neighbours first so a shared compiled shape is reused, not compiled for this source.
    for other in (SOURCES[index] + "x", SOURCES[index]):
        renderer.render(other, CONTEXT, "warm")
    assert renderer.render(source, CONTEXT, "p") == expected


def test_templates_sharing_a_shape_compile_once(monkeypatch):
    renderer = Renderer()
    compiled = []
    real = renderer._compile_shape
    monkeypatch.setattr(renderer, "_compile_shape", lambda tokens: compiled.append(1) or real(tokens))
    for i in range(50):
        out = renderer.render(f"file {i}\n{{% if flag %}}on {i}{{% endif %}}", CONTEXT, f"f{i}")
        assert out == f"file {i}\non {i}"
    assert len(compiled) == 1


@pytest.mark.parametrize(
    "first, second",
    [
        ('x{{ "}}" }}y', 'z{{ "}}" }}w'),  # the regex split is wrong here: Jinja's lexer must decide
        ("a {%- if flag %} b {% endif -%}  \n c", "aa\t{%- if flag %}{% endif -%}\n\n"),
        ("{% raw %}{{ x }}{% endraw %}{{ name }}", "{% raw %}{% y %}{% endraw %}{{ name }}"),
        ("p\r\n{% if flag %}q\r{% endif %}", "p\n{% if flag %}{% endif %}"),
    ],
)
def test_scanned_shapes_never_change_the_output(first, second):
    plain = SandboxedEnvironment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    renderer = Renderer()
    for source in (first, second, first, second):
        assert renderer.render(source, CONTEXT, "p") == plain.from_string(source).render(CONTEXT)


def test_errors_name_the_path_and_line():
    renderer = Renderer()
    with pytest.raises(RenderError, match=r"'bad.txt': syntax error on line 2"):
        renderer.render("ok\n{% if %}", CONTEXT, "bad.txt")
    with pytest.raises(RenderError, match="'u.txt'.*'missing' is undefined"):
        renderer.render("{{ missing }}", CONTEXT, "u.txt")
    with pytest.raises(RenderError, match="'s.txt'.*SecurityError"):
        renderer.render("{{ name.__class__.__mro__ }}{% if 1 %}{% endif %}", CONTEXT, "s.txt")


def test_size_limit_applies_while_rendering():
    with pytest.raises(LimitExceededError):
        Renderer().render("{% for i in range(1000) %}xxxxxxxxxx{% endfor %}", CONTEXT, "big", max_bytes=5000)
    with pytest.raises(LimitExceededError):
        Renderer().render("{{ name }}" * 1000, CONTEXT, "subst", max_bytes=4000)


def _random_template(rng, literal):
    """A random mix of literal text and Jinja constructs; ``literal`` varies the text only."""
    pieces = []
    for _ in range(rng.randint(1, 8)):
        kind = rng.randrange(9)
        ws = rng.choice(["", " ", "  \n", "\r\n", "\n\n  ", "\t"])
        dash_l, dash_r = rng.choice(["", "-"]), rng.choice(["", "-"])
        if kind == 0:
            pieces.append(f"{ws}{literal}{rng.randint(0, 9)}{ws}")
        elif kind == 1:
            pieces.append(f"{{{{{dash_l} name {dash_r}}}}}")
        elif kind == 2:
            pieces.append(f"{{%{dash_l} if flag {dash_r}%}}{ws}{literal}{{%{dash_l} endif {dash_r}%}}")
        elif kind == 3:
            pieces.append(f"{{%{dash_l} for i in items {dash_r}%}}{ws}{{{{ i }}}}{literal}{{% endfor %}}")
        elif kind == 4:
            pieces.append(f"{{#{dash_l} c {literal} {dash_r}#}}{ws}")
        elif kind == 5:
            pieces.append(f"{{% raw %}}{ws}{{{{ {literal} }}}}{{% endraw %}}")
        elif kind == 6:
            pieces.append(f"{{{{ '{literal}}}}}' ~ name }}}}")
        elif kind == 7:
            pieces.append(f"{{{{ cfg.port }}}}{ws}{{{{ n }}}}")
        else:
            pieces.append(ws)
    return "".join(pieces)


def test_randomised_templates_match_plain_jinja():
    import random

    plain = SandboxedEnvironment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    renderer = Renderer()
    for seed in range(400):
        for literal in ("a", "bb b", "", "x\r\ny"):
            source = _random_template(random.Random(seed), literal)
            assert renderer.render(source, CONTEXT, "r") == plain.from_string(source).render(CONTEXT), (seed, source)


def test_the_render_cache_uses_only_jinjas_public_api():
    """``_tokenize``, ``_generate``, ``_compile`` and the lexer/parser internals change between Jinja
    releases; the shape cache is built on ``Environment.parse``, ``jinja2.nodes`` and ``from_string``."""
    import ast
    import inspect

    from airflow_provider_hisham.generation import render

    tree = ast.parse(inspect.getsource(render))
    private = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr.startswith("_")
               and isinstance(node.value, ast.Name) and node.value.id in ("env", "jinja2", "nodes")}
    imported = {alias.name if isinstance(node, ast.Import) else node.module for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    assert private == set() and not {"jinja2.lexer", "jinja2.parser", "jinja2.compiler"} & imported


@pytest.mark.parametrize(
    "source",
    [
        "{% autoescape true %}<b>{{ name }}</b>{% endautoescape %} & after {{ name }}",
        "{% autoescape flag %}<i>{% if flag %}{{ name }}{% endif %}</i>{% endautoescape %}<u>",
        "{% autoescape true %}{% set b %}<p>{{ name }}</p>{% endset %}{{ b }}<{{ b }}>{% endautoescape %}",
        "{% autoescape true %}{% macro m(x) %}<m>{{ x }}</m>{% endmacro %}{{ m('<') }}{% endautoescape %}",
        "{% set hisham_template_literal_text_ = ['X', 'Y'] %}A{{ n }}B{% if flag %}C{% endif %}",
        "{% for hisham_template_literal_text_ in items %}[{{ hisham_template_literal_text_ }}]{% endfor %}",
    ],
)
def test_literal_slots_match_plain_jinja_under_autoescape_and_when_a_template_names_them(source):
    """Inside an autoescape block literal text is printed as Jinja prints it (as Markup: a shape
    once escaped it); a text that names the slots' variable is compiled whole, so it cannot change
    its own literal text."""
    plain = SandboxedEnvironment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    renderer = Renderer()
    for text in (source, source + "\nother literal text", source):
        assert renderer.render(text, CONTEXT, "p") == plain.from_string(text).render(CONTEXT)


def test_a_shapes_literal_text_is_printed_without_finalize():
    """The compiled shape yields its literal slots as they are (``data[i]``), like Jinja's own
    literal text, and every ``{{ value }}`` still goes through the sandbox's ``finalize``."""
    from airflow_provider_hisham.generation.render import DATA_NAME

    renderer = Renderer()
    _, _, tree = renderer._parse_shape("A{% for i in items %}<{{ i }}>{% endfor %}Z")
    source = renderer.env.compile(tree, raw=True)
    body = [line.strip() for line in source.splitlines() if line.strip().startswith("yield ")]
    literal = [line for line in body if DATA_NAME in line]
    assert len(literal) == 4 and all(line.endswith(("[0]", "[1]", "[2]", "[3]")) and "finalize" not in line for line in literal)
    assert [line for line in body if DATA_NAME not in line] == ["yield str(environment.finalize(l_1_i))"]
