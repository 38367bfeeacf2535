"""Hostile-input corpus for project generation: templates, inline structures, context values, ids.

Each case builds its input under a fresh folder, runs the generation in a confined child
(``run_confined``: memory and time limits, so a regression fails the case instead of hanging or
killing the run) and asserts the refusal, that its message names the file / path / field, that no
project folder appeared and that nothing changed outside the output root.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_hisham.generation import (
    GenerationError,
    LimitExceededError,
    Limits,
    ProjectGenerator,
    RenderError,
    StructureError,
    TemplateSpecError,
    UnsafePathError,
    VariableError,
)
from airflow_provider_hisham.generation import writer
from airflow_provider_hisham.generation.safe_load import load_json
from tests.generation.helpers import write_tree
from tests.security.harness import Case, assert_refused, files_under, run_confined

AREA = "generation"
FAST = Limits(max_render_seconds=1.5)
BIG = "a" * 1_000_000


def _structure_case(id: str, attack: str, structure, exc, match: str, *, render: bool = False, limits: Limits | None = None,
                    project_id: object = "p") -> Case:
    def build(base: Path) -> dict:
        return {"project_id": project_id, "structure": structure, "render_structure": render, "limits": limits}
    return Case(id, AREA, attack, build, {"exc": exc, "match": match})


def _bomb(id: str, attack: str, text: str, match: str, exc=LimitExceededError, limits: Limits | None = FAST) -> Case:
    """A render bomb in a file's contents: the refusal must name the file (bomb.txt)."""
    return _structure_case(id, attack, {"bomb.txt": text}, exc, rf"(?s)^(?=.*'bomb\.txt').*(?:{match})", render=True, limits=limits)


def _template_case(id: str, attack: str, files: dict, exc, match: str, *, context: dict | None = None,
                   limits: Limits | None = None, post: Callable[[Path, Path], None] | None = None) -> Case:
    def build(base: Path) -> dict:
        tpl = write_tree(base / "tpl", files) if files else (base / "tpl")
        tpl.mkdir(exist_ok=True)
        if post is not None:
            post(base, tpl)
        return {"project_id": "p", "template": str(tpl), "context": context, "limits": limits}
    return Case(id, AREA, attack, build, {"exc": exc, "match": match})


def _cookiecutter(files: dict, context: str = '{"project_slug": "demo"}') -> dict:
    return {"cookiecutter.json": context, **{f"{{{{cookiecutter.project_slug}}}}/{k}": v for k, v in files.items()}}


def _yaml(body: str) -> dict:
    return {"template.yaml": body, "a.txt": "{{ name }}"}


def _symlink(rel: str, target: str | Callable[[Path], str]) -> Callable[[Path, Path], None]:
    def post(base: Path, tpl: Path) -> None:
        link = tpl / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target(base) if callable(target) else target, link)
    return post


def _fifo(rel: str) -> Callable[[Path, Path], None]:
    def post(base: Path, tpl: Path) -> None:
        (tpl / rel).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(tpl / rel)
    return post


def _outside_secret(base: Path) -> str:
    secret = base / "secret.txt"
    secret.write_text("root:x:0:0 secret\n")
    return str(secret)


BILLION_LAUGHS = "variables:\n  name:\n    default: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"    d{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)
)
# the aliases sit in an unknown key of a variable: refused while composing, before any key check
ALIAS_BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)
) + "variables: {}\n"

CASES: list[Case] = [
    # --- render bombs: work bounded before it is done, the file named ------------------------------
    _bomb("str-mul", "'a' * 10**9", "{{ 'a' * 10**9 }}", "max_file_bytes"),
    _bomb("list-mul", "[1] * 10**9", "{{ [1] * 10**9 }}", "max_file_bytes"),
    _bomb("str-mul-reversed", "10**9 * 'a'", "{{ 10**9 * 'ab' }}", "max_file_bytes"),
    _bomb("pow-tower", "9**(9**9)", "{{ 9**(9**9) }}", "max_int_bits"),
    _bomb("int-mul", "huge int product", "{{ (7**4000) * (7**4000) * (7**4000) }}", "max_int_bits"),
    _bomb("lipsum-n", "lipsum(n=2000000)", "{{ lipsum(n=2000000) }}", "max_lipsum_paragraphs"),
    _bomb("lipsum-words", "lipsum(max=10**8)", "{{ lipsum(n=1, min=10**7, max=10**8) }}", "max_lipsum_words|max_file_bytes"),
    _bomb("range-huge", "range(10**9)", "{% for i in range(10**9) %}{% endfor %}", "max_range|max_file_bytes.*call"),
    _bomb("range-many", "range(0, 10**7, 1) under the int cap", "{% for i in range(0, 10**6 * 5) %}{% endfor %}", "max_range"),
    _bomb("nested-range", "two nested range loops", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
          "max_render_seconds"),
    _bomb("nested-list-loops", "loops over a list, no range in the loop",
          "{% set l = range(100000)|list %}{% for a in l %}{% for b in l %}{% endfor %}{% endfor %}", "max_render_seconds"),
    _bomb("nested-loops-silent-output", "nested loops writing one char each",
          "{% for a in range(100000) %}{% for b in range(100000) %}.{% endfor %}{% endfor %}", "max_render_seconds|max_file_bytes"),
    _bomb("namespace-doubling", "ns.x = ns.x ~ ns.x in a loop",
          "{% set ns = namespace(x='a') %}{% for i in range(64) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}", "max_file_bytes"),
    _bomb("concat-doubling", "40 top-level x = x ~ x", "{% set x = 'ab' %}" + "{% set x = x ~ x %}" * 40 + "{{ x }}", "max_file_bytes"),
    _bomb("plus-doubling", "40 top-level x = x + x", "{% set x = 'ab' %}" + "{% set x = x + x %}" * 40, "max_file_bytes"),
    _bomb("list-plus-doubling", "list doubling with +", "{% set x = ['ab'] %}" + "{% set x = x + x %}" * 40, "max_file_bytes"),
    _bomb("join-amplify", "([x]*1000)|join", "{% set x = 'a' * 1000000 %}{{ ([x] * 1000)|join }}", "max_file_bytes"),
    _bomb("join-literal-list", "[x, x, ...]|join", "{% set x = 'a' * 1000000 %}{{ [" + ", ".join(["x"] * 30) + "]|join }}", "max_file_bytes"),
    _bomb("str-join-method", "''.join([x, x, ...])", "{% set x = 'a' * 1000000 %}{{ ''.join([" + ", ".join(["x"] * 30) + "]) }}",
          "max_file_bytes"),
    _bomb("replace-amplify", "x|replace('a', x)", "{% set x = 'a' * 100000 %}{{ x|replace('a', x) }}", "max_file_bytes"),
    _bomb("str-replace-method", "x.replace('a', x)", "{% set x = 'a' * 100000 %}{{ x.replace('a', x) }}", "max_file_bytes"),
    _bomb("printf-width", "'%999999999s' % 'a'", "{{ '%999999999s' % 'a' }}", "max_file_bytes"),
    _bomb("printf-star", "'%*s' % (10**9, 'a')", "{{ '%*s' % (10**9, 'a') }}", "max_file_bytes"),
    _bomb("format-width", "'{:>999999999}'.format(1)", "{{ '{:>999999999}'.format(1) }}", "max_file_bytes"),
    _bomb("format-filter", "'%999999999d'|format(1)", "{{ '%999999999d'|format(1) }}", "max_file_bytes"),
    _bomb("center-method", "'a'.center(10**9)", "{{ 'a'.center(10**9) }}", "max_file_bytes"),
    _bomb("center-filter", "'a'|center(10**9)", "{{ 'a'|center(10**9) }}", "max_file_bytes"),
    _bomb("indent-filter", "x|indent(10**9)", "{{ 'a\\nb'|indent(10**9) }}", "max_file_bytes"),
    _bomb("expandtabs", "tabs expanded 10**9", "{{ ('\\t' * 1000).expandtabs(1000000) }}", "max_file_bytes"),
    _bomb("slice-filter", "[1]|slice(10**7)", "{{ [1]|slice(10**7)|list }}", "max_range"),
    _bomb("printed-list", "{{ [x]*20 }} printed", "{% set x = 'a' * 1000000 %}{{ [" + ", ".join(["x"] * 20) + "] }}", "printed value"),
    _bomb("tojson-amplify", "[x, x, ...]|tojson", "{% set x = 'a' * 1000000 %}{{ [" + ", ".join(["x"] * 20) + "]|tojson }}",
          "max_file_bytes"),
    _bomb("list-extend-doubling", "l.extend(l) in a loop", "{% set l = ['ab'] %}{% for i in range(60) %}{{ l.extend(l) }}{% endfor %}",
          "max_file_bytes"),
    _bomb("too-many-tags", "12,000 compact blocks", "{%if 1%}{%endif%}" * 6_000, "max_template_tags"),
    _bomb("200k-blocks", "200,000 blocks", "{% if true %}{% endif %}" * 200_000, "max_template_bytes"),
    _bomb("oversize-template", "2 MB of text around one tag", "{{ 1 }}" + "x" * 2_000_000, "max_template_bytes"),
    _bomb("nested-ifs", "5,000 nested tags", "{% if 1 %}" * 5000 + "{% endif %}" * 5000, "cannot compile", exc=RenderError),
    _bomb("nested-fors", "30 nested loops (Python's block limit)", "{% for a in [1] %}" * 30 + "{% endfor %}" * 30, "cannot compile",
          exc=RenderError),
    _bomb("deep-parens", "10,000 nested parentheses", "{{ " + "(" * 10_000 + "1" + ")" * 10_000 + " }}", "cannot compile",
          exc=RenderError),
    _bomb("recursive-macro", "a macro calling itself", "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "RecursionError|too deeply",
          exc=RenderError),
    _bomb("exponential-macro", "a macro calling itself twice per level",
          "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}", "max_render_seconds"),
    _bomb("sandbox-escape", "cycler.__init__.__globals__", "{{ cycler.__init__.__globals__.os.system('id') }}", "unsafe|not safely",
          exc=RenderError),
    # --- template.yaml: alias bombs, nesting, encoding, size, not a regular file --------------------
    _template_case("yaml-billion-laughs", "alias bomb in a variable default", _yaml(BILLION_LAUGHS), TemplateSpecError,
                   r"template\.yaml, line \d+: expands to more than"),
    _template_case("yaml-alias-bomb-top", "alias bomb at the top level", _yaml(ALIAS_BOMB), TemplateSpecError,
                   r"template\.yaml, line \d+: expands"),
    _template_case("yaml-mapping-alias-bomb", "nested lists of aliases to a mapping",
                   _yaml("a: &a {k0: x, k1: x, k2: x, k3: x, k4: x, k5: x, k6: x, k7: x, k8: x, k9: x}\n"
                         + "".join(f"b{i}: &b{i} [{', '.join(['*a' if i == 0 else f'*b{i - 1}'] * 12)}]\n" for i in range(6))),
                   TemplateSpecError, r"template\.yaml, line \d+"),
    _template_case("yaml-recursive-alias", "an alias inside its own anchor", _yaml("variables: &v {name: {default: *v}}\n"),
                   TemplateSpecError, r"template\.yaml, line \d+: an alias refers to a node that contains it"),
    _template_case("yaml-deep-nesting", "1,000 nested lists", _yaml("variables: " + "[" * 1000 + "]" * 1000 + "\n"), TemplateSpecError,
                   r"template\.yaml, line 1: nested more than"),
    _template_case("yaml-invalid-utf8", "bytes that are not UTF-8", {"template.yaml": b"name: \xff\xfe\n", "a.txt": "x"},
                   TemplateSpecError, r"template\.yaml: not valid UTF-8"),
    _template_case("yaml-huge", "a 2 MB template.yaml", {"template.yaml": "# " + "x" * 2_000_000 + "\n", "a.txt": "x"},
                   LimitExceededError, r"template\.yaml"),
    _template_case("yaml-fifo", "template.yaml is a FIFO (would block a reader)", {"a.txt": "x"}, TemplateSpecError,
                   r"template\.yaml: template manifest is not a regular file", post=_fifo("template.yaml")),
    # --- ReDoS in a variable's pattern ---------------------------------------------------------------
    *[
        _template_case(f"redos-{n}", f"pattern {p!r}", _yaml(f"variables:\n  name:\n    default: aaaa\n    pattern: '{p}'\n"),
                       TemplateSpecError, r"template\.yaml: variables\.name\.pattern .* refused")
        for n, p in [("nested-plus", "^(a+)+$"), ("alternation", "^(a|aa)*b$"), ("words", "^(\\w+\\s?)+$"),
                     ("polynomial", "^\\d*\\d*\\d*\\d*x$"), ("backref", "^(a)\\1$"), ("named-backref", "^(?P<x>a)(?P=x)$"),
                     ("optional-in-repeat", "^(a?)+b$"), ("bounded-nesting", "^(a{1,9}){1,9}$")]
    ],
    _template_case("redos-long-value", "a 10,000-character value against a pattern",
                   _yaml("variables:\n  name:\n    default: x\n    pattern: '^[a-z]+$'\n"), VariableError,
                   r"variable 'name': is 10000 characters long", context={"name": "a" * 10_000}),
    # --- .git in any form, from a structure or a template --------------------------------------------
    *[
        _structure_case(f"git-{n}", f"structure path {path!r}", {path: "[core]\n\tfsmonitor = id > /tmp/pwned\n"}, UnsafePathError,
                        "git's own folder name|control")
        for n, path in [("config", ".git/config"), ("upper", ".GIT/config"), ("mixed", ".Git/hooks/pre-commit"),
                        ("trailing-dot", ".git./config"), ("trailing-space", ".git /config"), ("dots-spaces", ".git. . /config"),
                        ("ntfs-short", "GIT~1/config"), ("ntfs-short-lower", "git~2/config"), ("nested", "sub/dir/.git/config"),
                        ("as-file", ".git"), ("ntfs-stream", ".git::$INDEX_ALLOCATION/config"), ("hfs-zwnj", ".g\u200cit/config"),
                        ("hfs-bom", ".git\ufeff/config")]
    ],
    _template_case("git-in-template-subfolder", "a .git folder inside a template subfolder",
                   {"template.yaml": "name: t\n", "sub/.git/config": "[core]\n"}, UnsafePathError, r"sub/\.git"),
    _template_case("git-rendered-name", "a file name rendering to .git", {"template.yaml": "variables:\n  n: {default: .git}\n",
                   "{{ n }}/config": "x"}, UnsafePathError, r"\.git"),
    # --- names: traversal, absolute, controls, Unicode separators ------------------------------------
    *[
        _structure_case(f"name-{n}", f"structure path {path!r}", {path: "x"}, UnsafePathError, reason)
        for n, path, reason in [
            ("parent", "../escape.txt", r"'\.\.'"), ("absolute", "/etc/cron.d/x", "absolute"), ("inner-parent", "a/../../x", r"'\.\.'"),
            ("drive", "C:/x.txt", "drive letter"), ("backslash", "a\\..\\x", "backslash"), ("nul", "a\x00b", "NUL"),
            ("newline", "a\nb", "U\\+000A"), ("c1-nel", "a\x85b", "U\\+0085"), ("c1-csi", "a\x9bb", "U\\+009B"),
            ("line-separator", "a\u2028b", "U\\+2028"), ("paragraph-separator", "a\u2029b", "U\\+2029"),
            ("bidi-override", "invoice\u202etxt.exe", "U\\+202E"), ("bidi-isolate", "a\u2066b", "U\\+2066"),
            ("zero-width", "a\u200bb", "U\\+200B"), ("lone-surrogate", "a\udc80b", "U\\+DC80")]
    ],
    _template_case("name-invalid-utf8", "a template file name with bytes that are not UTF-8", {"template.yaml": "name: t\n"},
                   UnsafePathError, "U\\+DCFF", post=lambda base, tpl: Path(os.fsdecode(os.fsencode(tpl) + b"/bad\xff.txt")).write_text("x")),
    _template_case("name-rendered-traversal", "a file name rendering to ../x",
                   {"template.yaml": "variables:\n  n: {default: ../../escaped}\n", "{{ n }}.txt": "x"}, UnsafePathError, r"\.\."),
    _template_case("name-rendered-absolute", "a file name rendering to /tmp/x",
                   {"template.yaml": "variables:\n  n: {default: /tmp/escaped}\n", "{{ n }}.txt": "x"}, UnsafePathError, "absolute"),
    # --- links and special files in templates ----------------------------------------------------------
    _template_case("symlink-file-out", "a template file linking to a secret outside", {"template.yaml": "name: t\n"}, UnsafePathError,
                   r"leak\.txt.*outside the template", post=_symlink("leak.txt", _outside_secret)),
    _template_case("symlink-dir-out", "a template folder linking to /etc", {"template.yaml": "name: t\n"}, UnsafePathError,
                   r"etc.*outside the template", post=_symlink("etc", "/etc")),
    _template_case("cookiecutter-include-link", "cookiecutter templates/ holds a link to a secret; included",
                   _cookiecutter({"a.txt": "{% include 'leak.txt' %}"}), TemplateSpecError,
                   r"leak\.txt.*symbolic link leading outside", post=_symlink("templates/leak.txt", _outside_secret)),
    _template_case("cookiecutter-include-fifo", "cookiecutter templates/ holds a FIFO; included",
                   _cookiecutter({"a.txt": "{% include 'pipe' %}"}), TemplateSpecError, r"pipe: included template is not a regular file",
                   post=_fifo("templates/pipe")),
    _template_case("include-traversal", "{% include '../../secret.txt' %}", {"template.yaml": "name: t\n",
                   "a.txt": "{% include '../secret.txt' %}"}, RenderError, r"a\.txt.*secret\.txt"),
    _template_case("fifo-in-template", "a FIFO among the template files", {"template.yaml": "name: t\n"}, UnsafePathError,
                   r"pipe.*not a regular file", post=_fifo("sub/pipe")),
    # --- cookiecutter.json ------------------------------------------------------------------------------
    _template_case("cookiecutter-deep-json", "100,000-deep cookiecutter.json", _cookiecutter({"a.txt": "x"}, "[" * 100_000 + "]" * 100_000),
                   TemplateSpecError, r"cookiecutter\.json: nested"),
    _template_case("cookiecutter-invalid-utf8", "cookiecutter.json not UTF-8", _cookiecutter({"a.txt": "x"}, b'{"project_slug": "\xff"}'),
                   TemplateSpecError, r"cookiecutter\.json: not valid UTF-8"),
    _template_case("cookiecutter-env-vars", "_jinja2_env_vars sets finalize / extensions",
                   _cookiecutter({"a.txt": "x"}, '{"project_slug": "d", "_jinja2_env_vars": {"extensions": ["jinja2.ext.debug"]}}'),
                   RenderError, r"_jinja2_env_vars.*not allowed"),
    _template_case("cookiecutter-extension", "_extensions imports a module",
                   _cookiecutter({"a.txt": "x"}, '{"project_slug": "d", "_extensions": ["os.system"]}'), TemplateSpecError,
                   r"cookiecutter\.json: extension 'os\.system' is not allowed"),
    # --- project ids ------------------------------------------------------------------------------------
    *[
        _structure_case(f"id-{n}", f"project id {pid!r}", {"a.txt": "x"}, UnsafePathError, match, project_id=pid)
        for n, pid, match in [("none", None, "project id must be a string"), ("int", 5, "project id must be a string"),
                              ("empty", "", "empty"), ("state-folder", ".hisham", "must not start with"),
                              ("dotgit", ".git", "git's own|must not start"), ("traversal", "../x", "single folder name"),
                              ("line-separator", "p\u2028q", "U\\+2028"), ("dot-dot", "..", r"'\.\.'")]
    ],
    # --- structures -------------------------------------------------------------------------------------
    _structure_case("structure-deep", "100 nested folders", {"/".join(["d"] * 100): "x"}, UnsafePathError, "nested deeper than 64"),
    _structure_case("structure-deep-mapping", "200 nested mappings", (lambda: (d := {}, [d := {"d": d} for _ in range(200)])[1][-1])(),
                    UnsafePathError, "nested deeper than 64"),
    _structure_case("structure-many-folders", "more empty folders than max_files", {f"d{i}": {} for i in range(200)}, LimitExceededError,
                    "max_files", limits=Limits(max_files=100)),
    _structure_case("structure-many-files", "more files than max_files", {f"f{i}": "x" for i in range(200)}, LimitExceededError,
                    "max_files", limits=Limits(max_files=100)),
    _structure_case("structure-huge-file", "one file over max_file_bytes", {"big.bin": BIG}, LimitExceededError, "big.bin",
                    limits=Limits(max_file_bytes=1000)),
    _structure_case("structure-surrogate-text", "text with a lone surrogate", {"t.txt": "a\udc80"}, StructureError,
                    r"t\.txt.*not valid Unicode"),
    _structure_case("structure-bad-type", "a value that is not text, bytes or a mapping", {"x.txt": 3.5}, StructureError, r"x\.txt"),
    _structure_case("structure-case-collision", "README and readme", {"README.md": "a", "readme.md": "b"}, UnsafePathError,
                    "case|collides"),
]


def _run(root: str, kwargs: dict):
    kwargs = dict(kwargs)
    limits = kwargs.pop("limits", None)
    project_id = kwargs.pop("project_id")
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    result = ProjectGenerator(root, limits=limits, workers=1).generate(project_id, **kwargs)
    return result.summary


def _outside(base: Path, root: Path) -> dict[str, tuple]:
    state = {}
    for p in files_under(base):
        if p == root or root in p.parents:
            continue
        st = p.lstat()
        state[str(p)] = (st.st_size, st.st_mtime_ns, stat.S_IFMT(st.st_mode))
    return state


@pytest.mark.parametrize("case", CASES, ids=str)
def test_generation_refuses_hostile_input(tmp_path, case):
    root = tmp_path / "out"
    kwargs = case.payload(tmp_path)
    before = _outside(tmp_path, root)
    outcome = run_confined(_run, str(root), kwargs, timeout=20, memory_mb=768)
    assert_refused(outcome, case.extra["exc"], case.extra["match"])
    assert _outside(tmp_path, root) == before, "something changed outside the output root"
    leftovers = [p for p in files_under(root) if ".hisham" not in p.relative_to(root).parts[:1]] if root.exists() else []
    assert leftovers == [], leftovers


def test_corpus_size_and_ids_are_unique():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


def _grow_after_planning(root: str, tpl: str) -> None:
    real = writer.make_dirs

    def grow(tmp, dirs):  # after planning, before any file is read
        with open(os.path.join(tpl, "grows.txt"), "a") as fh:
            fh.write("x" * 5000)
        return real(tmp, dirs)

    writer.make_dirs = grow
    ProjectGenerator(root, limits=Limits(max_file_bytes=1000), workers=1).generate("p", template=tpl)


def test_file_growing_after_planning_is_read_only_up_to_the_limit(tmp_path):
    tpl = write_tree(tmp_path / "tpl", {"template.yaml": "name: t\n", "grows.txt": "small"})
    outcome = run_confined(_grow_after_planning, str(tmp_path / "out"), str(tpl), timeout=20, memory_mb=256)
    assert_refused(outcome, LimitExceededError, r"grows\.txt")
    assert not (tmp_path / "out" / "p").exists()


def test_template_that_is_a_git_clone_does_not_copy_its_git_folder(tmp_path):
    tpl = write_tree(tmp_path / "tpl", {"template.yaml": "name: t\n", "a.txt": "x", ".git/config": "[core]\n\tfsmonitor = id\n",
                                        ".git/HEAD": "ref: refs/heads/main\n", ".gitignore": "*.pyc\n"})
    outcome = run_confined(_run, str(tmp_path / "out"), {"project_id": "p", "template": str(tpl)}, timeout=20)
    assert outcome.kind == "returned", outcome.describe()
    assert sorted(p.name for p in (tmp_path / "out" / "p").iterdir()) == [".gitignore", "a.txt"]


def test_device_in_template_is_refused(tmp_path):
    tpl = write_tree(tmp_path / "tpl", {"template.yaml": "name: t\n"})
    try:
        os.mknod(tpl / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError):
        pytest.skip("creating a device node needs CAP_MKNOD")
    outcome = run_confined(_run, str(tmp_path / "out"), {"project_id": "p", "template": str(tpl)}, timeout=20)
    assert_refused(outcome, UnsafePathError, "null.*not a regular file")


def test_json_structure_nested_100k_deep_is_a_clear_error():
    outcome = run_confined(load_json, "[" * 100_000 + "]" * 100_000, "structure", GenerationError, timeout=20)
    assert_refused(outcome, GenerationError, "structure: nested")
