"""The sandbox's reliance on Jinja's code generator and Namespace is checked before any render."""

from __future__ import annotations

import jinja2
import pytest
from jinja2.compiler import CodeGenerator
from jinja2.runtime import Namespace

from airflow_provider_hisham.generation import jinja_seams
from airflow_provider_hisham.generation.jinja_seams import JinjaSeamError
from airflow_provider_hisham.generation.render import Renderer
from airflow_provider_hisham.generation.sandbox import BoundedEnvironment


@pytest.fixture
def unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a new process: the probe has not run yet."""
    monkeypatch.setattr(jinja_seams, "_checked", False)


def test_the_installed_jinja_passes_the_probe_once_per_process(unchecked: None, monkeypatch: pytest.MonkeyPatch) -> None:
    renders = []
    real = jinja2.Template.render
    monkeypatch.setattr(jinja2.Template, "render", lambda self, *a, **k: renders.append(1) or real(self, *a, **k))
    BoundedEnvironment(max_bytes=100, max_seconds=1)
    BoundedEnvironment(max_bytes=100, max_seconds=1)
    assert len(renders) == len(jinja_seams._PROBES)  # the second environment did not probe again
    assert jinja_seams._checked
    assert jinja2.__version__ in jinja_seams.TESTED_JINJA


def test_a_code_generator_that_no_longer_routes_concat_and_loops_is_refused(unchecked: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BoundedEnvironment, "code_generator_class", CodeGenerator)  # as if Jinja stopped calling our visit_*
    with pytest.raises(JinjaSeamError) as err:
        Renderer()
    message = str(err.value)
    assert f"Jinja2 {jinja2.__version__}" in message
    assert "'~' through bounded_concat" in message and "{% for %} through bounded_loop" in message
    assert "namespace" not in message  # that bound still holds
    assert not jinja_seams._checked  # the next environment probes again rather than render unbounded
    with pytest.raises(JinjaSeamError):
        BoundedEnvironment(max_bytes=100, max_seconds=1)


def test_a_namespace_jinja_no_longer_writes_through_setitem_is_refused(unchecked: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jinja_seams.BoundedNamespace, "__setitem__", Namespace.__setitem__)
    with pytest.raises(JinjaSeamError, match=r"namespace attributes through BoundedNamespace\); .*tested with Jinja2 3\.1\.4"):
        BoundedEnvironment(max_bytes=100, max_seconds=1)


def test_a_template_made_from_compiled_code_renders_as_from_string() -> None:
    """What the second writer process gets for a shape the other compiled: the same template."""
    from airflow_provider_hisham.generation.jinja_seams import template_from_code

    env = Renderer().env
    source = "{% for x in items %}<{{ x ~ name }}>{% endfor %}{{ name | upper }}"
    made = template_from_code(env, env.compile(source))
    assert made.render(items=[1, 2], name="n") == env.from_string(source).render(items=[1, 2], name="n") == "<1n><2n>N"
    assert made.environment is env
