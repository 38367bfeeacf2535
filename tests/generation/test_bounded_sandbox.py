"""The bounded sandbox renders ordinary templates exactly as Jinja's own sandbox does.

Its checks (operators, ``~``, loops, amplifying filters, printed values) must refuse only work
past the budget; the hostile side is in tests/security/test_generation_corpus.py.
"""

from __future__ import annotations

import jinja2
import pytest
from jinja2.sandbox import SandboxedEnvironment

from airflow_provider_hisham.generation import LimitExceededError, Limits
from airflow_provider_hisham.generation.render import Renderer
from airflow_provider_hisham.generation.sandbox import BoundedEnvironment, BudgetExceeded, estimate_size

ORDINARY = [
    "{{ 'ab' * 3 }} {{ 3 * 'x' }} {{ [1, 2] * 2 }} {{ 2 ** 10 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 1 + 2 }} {{ [1] + [2] }}",
    "{{ 'a' ~ 1 ~ none ~ [1] }}{{ name ~ '!' }}",
    "{% for x in items %}{{ loop.index }}/{{ loop.length }}:{{ x }}{% if loop.last %}.{% endif %}{% else %}empty{% endfor %}",
    "{% for x in [] %}{{ x }}{% else %}empty{% endfor %}",
    "{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}",
    "{% for x in items if x != 'b' %}{{ x }}{{ loop.revindex }}{% endfor %}",
    "{% for n in tree recursive %}{{ n.name }}({{ loop(n.kids) }}){% endfor %}",
    "{% for i in range(3) %}{{ loop.cycle('odd', 'even') }}{% endfor %}",
    "{% set ns = namespace(total=0) %}{% for i in range(5) %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}",
    "{{ items|join(', ') }} {{ name|replace('o', '0') }} {{ name|center(11) }} {{ 'a\nb'|indent(2) }} {{ '%05.1f'|format(3.14159) }}",
    "{{ '%s-%d' % ('x', 4) }} {{ '{} {:>4}'.format('a', 1) }} {{ ','.join(items) }} {{ 'x'.ljust(3) }}|",
    "{{ items|tojson }} {{ {'b': 1, 'a': [1, 2]}|tojson }} {{ items|list }} {{ [3, 1, 2]|sort }} {{ items|length }}",
    "{% macro greet(who) %}hi {{ who }}{% endmacro %}{{ greet(name) }} {{ lipsum(1, false, 5, 9)|wordcount }}",
    "{{ [1, 2, 3, 4, 5]|slice(2)|list }} {{ [1, 2, 3]|batch(2)|list }} {{ range(2, 10, 3)|list }}",
    "{% raw %}{{ not rendered }}{% endraw %} {# comment #}{{ name|upper }}",
]
CONTEXT = {"name": "World", "items": ["a", "b", "c"], "tree": [{"name": "r", "kids": [{"name": "k", "kids": []}]}]}


@pytest.mark.parametrize("source", ORDINARY)
def test_ordinary_templates_render_as_in_jinjas_sandbox(source):
    plain = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    bounded = BoundedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, max_bytes=10**7, max_seconds=10)
    if "lipsum" in source:  # random words: compare the shape only
        assert bounded.from_string(source).render(CONTEXT).startswith("hi World")
        return
    assert bounded.from_string(source).render(CONTEXT) == plain.from_string(source).render(CONTEXT)


def test_results_just_under_the_budget_are_allowed_and_just_over_refused():
    env = BoundedEnvironment(max_bytes=1000, max_seconds=10)
    assert len(env.from_string("{{ 'a' * 1000 }}").render()) == 1000
    with pytest.raises(BudgetExceeded, match="max_file_bytes"):
        env.from_string("{{ 'a' * 1001 }}").render()
    assert len(env.from_string("{{ ('a' * 500) ~ ('b' * 500) }}").render()) == 1000
    with pytest.raises(BudgetExceeded, match="'~' result"):
        env.from_string("{{ ('a' * 500) ~ ('b' * 501) }}").render()


def test_renderer_names_the_file_and_the_operation():
    renderer = Renderer(limits=Limits(max_file_bytes=100))
    with pytest.raises(LimitExceededError, match=r"max_file_bytes exceeded at 'src/x\.py'.*'\*' result"):
        renderer.render("{{ 'a' * 101 }}", {}, "src/x.py", 100)


def test_time_budget_is_per_generation(monkeypatch):
    renderer = Renderer(limits=Limits(max_render_seconds=0.2))
    assert renderer.render("{% for i in range(10) %}{{ i }}{% endfor %}", {}, "a.txt") == "0123456789"
    renderer.env.deadline = renderer.env.started  # the generation's budget is spent
    with pytest.raises(LimitExceededError, match=r"max_render_seconds exceeded at 'b\.txt'"):
        renderer.render("{% for i in range(1000) %}{{ i }}{% endfor %}", {}, "b.txt")


def test_estimate_counts_shared_references_and_stops_at_the_cap():
    big = "a" * 1000
    assert estimate_size([big] * 10, 10**6) >= 10_000
    assert estimate_size([big] * 10**6, 5000) <= 5000 + 1000 + 2 * 10**6 + 2  # stops early, no full walk
