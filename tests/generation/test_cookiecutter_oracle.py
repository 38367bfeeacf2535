"""Cookiecutter compatibility: our output tree is byte-for-byte cookiecutter 2.7's (the oracle)."""

from __future__ import annotations

from pathlib import Path

import cookiecutter.main as cookiecutter_main
import pytest

from airflow_provider_hisham.generation import ProjectGenerator, TemplateSpecError
from tests.generation.helpers import snapshot, write_cookiecutter

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"{{ cookiecutter.x }}\0\r\n"

CASES = {
    "variables": (
        {
            "project_name": "Peanut Butter Cookie",
            "project_slug": "{{ cookiecutter.project_name.lower().replace(' ', '_') }}",
            "license": ["MIT", "BSD-3", "GPL-3.0"],
            "use_docker": True,
            "version": 1.5,
            "_private": "{{ not rendered }}",
            "__year_prefix": "{{ cookiecutter.project_slug }}-x",
            "settings": {"db": "{{ cookiecutter.project_slug }}_db", "port": 5432},
        },
        {
            "README.md": "# {{ cookiecutter.project_name }}\n\nLicense: {{ cookiecutter.license }}\n"
            "Docker: {{ cookiecutter.use_docker }} v{{ cookiecutter.version }}\n"
            "private: {{ cookiecutter._private }} / {{ cookiecutter.__year_prefix }}\n"
            "db: {{ cookiecutter.settings.db }} {{ cookiecutter.settings['port'] }}\n",
            "{{ cookiecutter.project_slug }}/__init__.py": '__version__ = "{{ cookiecutter.version }}"\n',
            "{{ cookiecutter.project_slug }}/static.txt": "no syntax here\n",
            "docs/": {},
            "settings.json": "{{ cookiecutter.settings | jsonify }}\n",
            "slug.txt": "{{ cookiecutter.project_name | slugify }}",
            "all.txt": "{% for k, v in cookiecutter.items() if not k.startswith('_') %}{{ k }}={{ v }}\n{% endfor %}",
        },
        None,
    ),
    "newlines": (
        {"project_slug": "nl", "name": "N"},
        {
            "crlf_rendered.txt": b"a {{ cookiecutter.name }}\r\nb\r\nc\r\n",
            "crlf_static.txt": b"one\r\ntwo\r\n",
            "mixed.txt": b"first\nsecond\r\nthird\rfourth {{ cookiecutter.name }}\n",
            "mixed_crlf_first.txt": b"first\r\nsecond\nthird\n",
            "cr_only.txt": b"x\ry\r",
            "no_newline.txt": b"{{ cookiecutter.name }}",
            "trailing.txt": b"{{ cookiecutter.name }}\n\n\n",
            "whitespace.txt": "{%- if true -%}\n  A {{- cookiecutter.name -}} B\n{%- endif %}\n{% raw %}{{ kept }}{% endraw %}\n",
            "bom.txt": "\ufeff{{ cookiecutter.name }} é ü 漢字\n".encode("utf-8"),
            "empty.txt": b"",
        },
        None,
    ),
    "copy_binary_conditional": (
        {
            "project_slug": "cwr",
            "use_cli": False,
            "use_api": True,
            "x": "X",
            "_copy_without_render": ["assets", "*.html", "raw/keep.txt"],
        },
        {
            "assets/{{ not_rendered }}.txt": "{{ cookiecutter.x }}\r\n",
            "assets/nested/deep.md": "{% if %}broken{% endif",
            "page.html": "<p>{{ cookiecutter.x }}</p>\r\n",
            "raw/keep.txt": "{{ cookiecutter.x }}",
            "raw/render.txt": "{{ cookiecutter.x }}",
            "logo.png": PNG,
            "{% if cookiecutter.use_cli %}cli.py{% endif %}": "cli\n",
            "{% if cookiecutter.use_api %}api.py{% endif %}": "api {{ cookiecutter.x }}\n",
            "run.sh": "#!/bin/sh\necho {{ cookiecutter.x }}\n",
        },
        None,
    ),
    "forced_newlines_extensions_include": (
        {"project_slug": "ext", "items": ["a", "b"], "_new_lines": "\r\n", "_extensions": ["jinja2.ext.do", "jinja2.ext.loopcontrols"]},
        {
            "list.txt": "{% set acc = [] %}{% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{% do acc.append(i) %}{% endfor %}{{ acc }}\nnext\n",
            "inc.txt": "head\n{% include 'partial.txt' %}tail\n",
            "lf_static.txt": "l1\nl2\n",
        },
        {"templates/partial.txt": "from partial {{ cookiecutter.project_slug }}\n"},
    ),
}


def _run_both(tmp_path: Path, context: dict, tree: dict, extra: dict | None, overrides: dict | None = None):
    template = write_cookiecutter(tmp_path / "tpl", context, tree, extra)
    (tmp_path / "tpl" / "{{cookiecutter.project_slug}}" / "run.sh").exists() and (
        tmp_path / "tpl" / "{{cookiecutter.project_slug}}" / "run.sh"
    ).chmod(0o755)
    oracle_out = tmp_path / "oracle"
    project = cookiecutter_main.cookiecutter(
        str(template), no_input=True, output_dir=str(oracle_out), extra_context=overrides, accept_hooks=False
    )
    ours = ProjectGenerator(str(tmp_path / "ours")).generate("p", template=str(template), context=overrides)
    return snapshot(Path(project)), snapshot(Path(ours.output_dir)), ours


@pytest.mark.parametrize("case", sorted(CASES))
def test_tree_is_byte_identical_to_cookiecutter(tmp_path, case):
    context, tree, extra = CASES[case]
    expected, actual, _ = _run_both(tmp_path, context, tree, extra)
    assert sorted(actual) == sorted(expected)
    for path in expected:
        assert actual[path] == expected[path], path


def test_overrides_match_cookiecutter_extra_context(tmp_path):
    context, tree, extra = CASES["variables"]
    overrides = {"project_name": "Other Name", "license": "GPL-3.0", "use_docker": "no", "settings": {"port": 1}}
    expected, actual, _ = _run_both(tmp_path, context, tree, extra, overrides)
    assert actual == expected
    assert b"License: GPL-3.0" in actual["README.md"]


def test_executable_bit_kept_but_never_world_readable(tmp_path):
    context, tree, extra = CASES["copy_binary_conditional"]
    _, actual, ours = _run_both(tmp_path, context, tree, extra)
    mode = (Path(ours.output_dir) / "run.sh").stat().st_mode & 0o777
    assert mode == 0o750
    assert (Path(ours.output_dir) / "api.py").stat().st_mode & 0o777 == 0o640


def test_unknown_extension_is_refused(tmp_path):
    template = write_cookiecutter(tmp_path / "tpl", {"project_slug": "x", "_extensions": ["evil.module.Ext"]}, {"a.txt": "a"})
    with pytest.raises(TemplateSpecError, match="evil.module.Ext"):
        ProjectGenerator(str(tmp_path / "out")).generate("p", template=str(template))


def test_oracle_normalises_newlines_and_we_follow(tmp_path):
    """Guards the oracle test itself: cookiecutter really rewrites mixed newlines and keeps CRLF."""
    context, tree, extra = CASES["newlines"]
    expected, actual, _ = _run_both(tmp_path, context, tree, extra)
    # Python reports every newline kind seen in the first chunk; cookiecutter takes the first: "\r".
    assert expected["mixed.txt"] == b"first\rsecond\rthird\rfourth N\r" == actual["mixed.txt"]
    assert expected["crlf_rendered.txt"] == b"a N\r\nb\r\nc\r\n" == actual["crlf_rendered.txt"]
    assert expected["mixed_crlf_first.txt"] == b"first\nsecond\nthird\n" == actual["mixed_crlf_first.txt"]


@pytest.mark.parametrize("spelling", ["off", "F", " No "])
def test_boolean_overrides_follow_cookiecutters_truth_table(tmp_path, spelling):
    """Both read "off", "f" and "no" as false (one table: airflow_provider_hisham.booleans)."""
    context, tree, extra = CASES["variables"]
    expected, actual, _ = _run_both(tmp_path, context, tree, extra, {"use_docker": spelling})
    assert actual == expected and b"Docker: False" in actual["README.md"]


def test_an_unknown_boolean_override_is_refused_naming_the_variable(tmp_path):
    from airflow_provider_hisham.generation import VariableError

    context, tree, extra = CASES["variables"]
    template = write_cookiecutter(tmp_path / "tpl", context, tree, extra)
    with pytest.raises(VariableError, match="variable 'use_docker': expected a boolean"):
        ProjectGenerator(str(tmp_path / "out")).generate("p", template=str(template), context={"use_docker": "maybe"})
