"""Native template format: manifest variables, conditions, copy-without-render, binaries, includes."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_hisham.generation import (
    GenerationError,
    ProjectGenerator,
    TemplateNotFoundError,
    TemplateSpecError,
)
from tests.generation.helpers import snapshot, write_tree

MANIFEST = """
name: demo
variables:
  name: {default: Demo App}
  slug: {default: "{{ name | lower | replace(' ', '-') }}"}
  with_docs: {type: bool, default: false}
  flavour: {choices: [plain, fancy], default: plain}
conditions:
  "docs": with_docs
  "extras/*.txt": "flavour == 'fancy'"
copy_without_render: ["raw"]
exclude: ["_partials", "_partials/*"]
"""

PNG = b"\x89PNG\r\n\x1a\n\0\0{{ slug }}"


@pytest.fixture
def template(tmp_path):
    return write_tree(
        tmp_path / "tpl",
        {
            "template.yaml": MANIFEST,
            "{{ slug }}/main.py": "print('{{ name }}')\n",
            "{{ slug }}/static.txt": "plain\r\nkept\r\n",
            "crlf.txt": "{{ name }}\r\nline\r\n",
            "docs/index.md": "# {{ name }}\n",
            "extras/a.txt": "extra",
            "raw/{{ keep }}.txt": "{{ not rendered }}",
            "logo.png": PNG,
            "{% if flavour == 'fancy' %}fancy.cfg{% endif %}": "fancy",
            "page.html": "{% include '_partials/head.html' %}<body>{{ slug }}</body>\n",
            "_partials/head.html": "<head>{{ name }}</head>",
            "empty/": {},
        },
    )


def test_defaults(tmp_path, template):
    result = ProjectGenerator(str(tmp_path / "out")).generate("p", template=str(template))
    assert snapshot(Path(result.output_dir)) == {
        "demo-app": None,
        "demo-app/main.py": b"print('Demo App')\n",
        "demo-app/static.txt": b"plain\r\nkept\r\n",
        "crlf.txt": b"Demo App\r\nline\r\n",
        "raw": None,
        "raw/{{ keep }}.txt": b"{{ not rendered }}",
        "logo.png": PNG,
        "page.html": b"<head>Demo App</head><body>demo-app</body>\n",
        "empty": None,
        "extras": None,  # the folder has no condition, only its *.txt files do
    }
    assert result.summary["template"] == "demo"
    assert result.summary["binary_files"] == 1


def test_conditions_and_overrides(tmp_path, template):
    result = ProjectGenerator(str(tmp_path / "out")).generate(
        "p", template=str(template), context={"name": "Big Thing", "with_docs": "true", "flavour": "fancy", "extra": 1}
    )
    tree = snapshot(Path(result.output_dir))
    assert tree["docs/index.md"] == b"# Big Thing\n"
    assert tree["extras/a.txt"] == b"extra"
    assert tree["fancy.cfg"] == b"fancy"
    assert "big-thing/main.py" in tree


def test_template_lookup_by_name_and_errors(tmp_path, template):
    gen = ProjectGenerator(str(tmp_path / "out"), templates_dirs=[str(template.parent)])
    assert gen.generate("p", template="tpl").summary["total_files"] == 6
    with pytest.raises(TemplateNotFoundError, match="nope"):
        gen.generate("p", template="nope")
    with pytest.raises(GenerationError, match="exactly one"):
        gen.generate("p")
    with pytest.raises(GenerationError, match="exactly one"):
        gen.generate("p", template="tpl", structure={})


@pytest.mark.parametrize(
    "manifest, message",
    [
        ("variables: [1, 2]", "variables"),
        ("variables:\n  x: {type: complex}", "type 'complex'"),
        ("variables:\n  x: {type: choice}", "needs 'choices'"),
        ("variables:\n  x: {pattern: '('}", "pattern"),
        ("bogus: 1", "unknown manifest keys"),
        ("variables:\n  x: {default: 1, colour: red}", "unknown keys"),
        ("extensions: [os.system]", "not allowed"),
        ("conditions:\n  a.txt: 'x ==='", "cannot compile"),
        (": : :", "invalid YAML"),
    ],
)
def test_bad_manifest_is_refused_with_its_path(tmp_path, manifest, message):
    tpl = write_tree(tmp_path / "tpl", {"template.yaml": manifest, "a.txt": "a"})
    with pytest.raises(TemplateSpecError) as info:
        ProjectGenerator(str(tmp_path / "out")).generate("p", template=str(tpl))
    assert message in str(info.value)


def test_structure_is_verbatim_unless_rendering_requested(tmp_path):
    gen = ProjectGenerator(str(tmp_path))
    structure = {"src/main.py": "x = '{{ v }}'\n", "tests/": {}, "docs": {"index.md": "# {{ v }}"}, "bin.dat": b"\0\1"}
    verbatim = snapshot(Path(gen.generate("a", structure=structure, context={"v": 1}).output_dir))
    assert verbatim == {
        "src": None, "src/main.py": b"x = '{{ v }}'\n", "tests": None, "docs": None, "docs/index.md": b"# {{ v }}", "bin.dat": b"\0\1"
    }
    rendered = snapshot(Path(gen.generate("b", structure=structure, context={"v": 1}, render_structure=True).output_dir))
    assert rendered["src/main.py"] == b"x = '1'\n" and rendered["docs/index.md"] == b"# 1"


@pytest.mark.parametrize("spelling, docs", [("off", False), ("ON", True), ("", False), (0, False)])
def test_bool_variables_use_the_one_parser(tmp_path, template, spelling, docs):
    result = ProjectGenerator(str(tmp_path / "out")).generate("p", template=str(template), context={"with_docs": spelling})
    assert (Path(result.output_dir) / "docs" / "index.md").exists() is docs


def test_an_unknown_bool_variable_is_refused(tmp_path, template):
    from airflow_provider_hisham.generation import VariableError

    with pytest.raises(VariableError, match="variable 'with_docs': expected a boolean"):
        ProjectGenerator(str(tmp_path / "out")).generate("p", template=str(template), context={"with_docs": "offf"})


def test_glob_matcher_agrees_with_fnmatch():
    """exclude / copy_without_render globs are matched as one regular expression: same answers as fnmatch."""
    import fnmatch

    from airflow_provider_hisham.generation.template_source import _glob_matcher

    patterns = ["_partials", "_partials/*", "*.png", "raw", "docs/[a-c]?.md", "[!x]*.txt", "a*b*c"]
    paths = ["_partials", "_partials/x.j2", "_partialsx", "img/a.png", "a.png.txt", "raw", "raw/x", "docs/b1.md",
             "docs/d1.md", "y.txt", "x.txt", "aXbYc", "abc/d", "a\nb\nc", ""]
    for chosen in ([], patterns[:1], patterns):
        matches = _glob_matcher(chosen)
        assert [matches(p) for p in paths] == [any(fnmatch.fnmatch(p, g) for g in chosen) for p in paths]
