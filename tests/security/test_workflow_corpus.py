"""Hostile workflow configs and DAG-run conf values (issue 9): each is refused with a message naming
the file, the field and the line, within memory and time limits, and writes nothing.

Every case runs in a forked child (``run_confined``) limited to 256 MB more memory and a few
seconds, so an alias bomb or a hang that comes back fails its case instead of the test run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from airflow_provider_hisham.workflow.errors import WorkflowConfigError
from tests.security.harness import Case, assert_refused, files_under, run_confined

MEMORY_MB = 256
TIMEOUT = 15.0
MARK = "MARK"  # replaced by a path in the case's folder: the file an escape would write
RCE = f"cycler.__init__.__globals__.os.system('id > {MARK}')"


def step(type_: str, field: str, value, *, required: str = "") -> tuple[str, str]:
    """A config whose one step's ``field`` (line 8) holds ``value``; (text, field path)."""
    text = (
        "dag_id: wf_corpus\n"
        "params:\n"
        "  x: {type: string, default: a}\n"
        "steps:\n"
        "  - id: s\n"
        f"    type: {type_}\n"
        "    config:\n"
        f"      {field}: {json.dumps(value)}\n" + required
    )
    return text, rf"steps\[0\]\.config\.{field}"


def when(expression: str) -> str:
    return (
        "dag_id: wf_corpus\n"
        "params:\n"
        "  x: {type: string, default: a}\n"
        "steps:\n"
        "  - conditional:\n"
        "      id: c\n"
        "      branches:\n"
        f"        - when: {json.dumps(expression)}\n"
        "          steps: [{id: b, type: api_call, config: {action: list_agents}}]\n"
        "      join: {id: j, type: api_call, config: {action: list_agents}}\n"
    )


GEN_REQUIRED = "      project_id: p\n"
REPO_REQUIRED = "      source_dir: /tmp/x\n"
TEMPLATED_PLACES = [
    ("file_generation", "structure", GEN_REQUIRED),
    ("file_generation", "context", GEN_REQUIRED),
    ("file_generation", "project_id", ""),
    ("api_call", "endpoint", ""),
    ("api_call", "data", ""),
    ("api_call", "query", ""),
    ("api_call", "user_id", ""),
    ("repo_creation", "repository_name", REPO_REQUIRED),
    ("repo_creation", "target", REPO_REQUIRED),
    ("combine_projects", "sources", "      project_id: p\n"),
]


def top(extra: str) -> str:
    """A valid config with ``extra`` at line 2."""
    return "dag_id: wf_corpus\n" + extra + "\nsteps:\n  - {id: s, type: api_call, config: {action: list_agents}}\n"


def with_value(type_: str, field: str, value) -> object:
    """``value`` in the shape ``field`` takes (a mapping for data/context/query/structure)."""
    return {"k": value} if field in ("data", "context", "query") else value


CASES: list[Case] = []


def add(case_id: str, attack: str, text: str | bytes, match: str, *, name: str = "bad.yaml", area: str = "config") -> None:
    CASES.append(Case(case_id, area, attack, text, {"name": name, "match": match}))


# --- code execution through templates, in every templated place ----------------------------------
ESCAPES = {
    "cycler-globals": (f"{{{{ {RCE} }}}}", "attribute '__(init|globals)__' is not allowed"),
    "mro-subclasses": ("{{ params.x.__class__.__mro__[1].__subclasses__() }}", "attribute '__(class|mro|subclasses)__' is not allowed"),
    "item-dunder": ("{{ params['__class__'] }}", "item '__class__' is not allowed"),
    "attr-filter": ("{{ params.x | attr('__class__') }}", "attribute '__class__' is not allowed"),
    "lipsum-globals": ("{{ lipsum.__globals__['os'].popen('id').read() }}", "(attribute|item) '__globals__|os' is not allowed|attribute '__globals__'"),
    "joiner": ("{{ joiner.__init__ }}", "attribute '__init__' is not allowed"),
    "namespace": ("{{ namespace(a=1) }}", "unknown name 'namespace'"),
    "self": ("{{ self._TemplateReference__context }}", "attribute '_TemplateReference__context' is not allowed"),
    "format-field": ("{{ '{0.__class__}'.format(params.x) }}", "format fields may not read attributes"),
    "map-attribute": ("{{ params.x | map(attribute='__class__') | list }}", "attribute '__class__' is not allowed"),
}
for type_, field, required in TEMPLATED_PLACES:
    for escape_id in ("cycler-globals", "mro-subclasses") if field != "structure" else tuple(ESCAPES):
        template, message = ESCAPES[escape_id]
        text, path = step(type_, field, with_value(type_, field, template), required=required)
        add(f"escape-{escape_id}-{type_}-{field}", f"sandbox escape in {type_}.{field}", text,
            rf"bad\.yaml:8: step 's': field '{path}[^']*': {message}")
for case_id, expression, message in (
    ("when-mro", "params.x.__class__.__mro__[1].__subclasses__()", "attribute '__(class|mro|subclasses)__' is not allowed"),
    ("when-cycler", "cycler.__init__.__globals__.os.system('id > MARK') == 0", "attribute '__(init|globals)__' is not allowed"),
    ("when-lipsum-hang", "lipsum(n=2000000) == ''", "unknown name 'lipsum'|over the limit"),
    ("when-range-hang", "range(10**9) | list | length > 0", "over the limit|unknown name 'range'"),
    ("when-power-hang", "9 ** (9 ** 9) > 0", "over 4096 bits"),
):
    add(f"escape-{case_id}", "condition built from internals or a hang", when(expression),
        rf"bad\.yaml:8: step 'c': field 'steps\[0\]\.conditional\.branches\[0\]\.when': .*({message})")

# --- templates that would use unbounded time or memory --------------------------------------------
WORK = {
    "mul-string": ("{{ 'a' * 10**9 }}", "at most 100000"),
    "power": ("{{ 9 ** (9 ** 9) }}", "over 4096 bits"),
    "center": ("{{ 'a' | center(10**9) }}", "over the limit of 10000"),
    "ljust": ("{{ params.x.ljust(10**8) }}", "over the limit of 10000"),
    "printf-width": ("{{ '%999999999d' % 1 }}", "format widths"),
    "set-doubling": ("{% set a = 'aaaa' %}{% set a = a ~ a %}{{ a }}", "'assign' blocks are not allowed"),
    "nested-for": ("{% for a in params.x %}{% for b in params.x %}{{ b }}{% endfor %}{% endfor %}", "may not be nested"),
    "macro-recursion": ("{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}", "'macro' blocks are not allowed"),
    "include-file": ("{% include '/etc/passwd' %}", "'include' blocks are not allowed"),
    "import": ("{% import 'x.j2' as x %}", "'import' blocks are not allowed"),
    "do-tag": ("{% do params.update({}) %}", "bad expression"),
    "huge-template": ("{{ params.x }}" + "a" * 70_000, "at most 65536 characters"),
}
for case_id, (template, message) in WORK.items():
    text, path = step("api_call", "endpoint", template)
    add(f"work-{case_id}", "a template asking for unbounded work", text, rf"bad\.yaml:8: step 's': field '{path}': .*{message}")

# --- YAML: alias bombs, recursion, tags, keys -----------------------------------------------------
LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)
add("alias-billion-laughs", "1 KB billion laughs", "dag_id: x\n" + LAUGHS, r"bad\.yaml:\d+: field '[a-z]\[\d+\][^']*': YAML aliases expand to more than 10000 values")
MAP_BOMB = "a: &a {k1: x, k2: x, k3: x, k4: x}\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} {{{', '.join(f'k{j}: *{chr(97 + i)}' for j in range(6))}}}\n" for i in range(8)
)
add("alias-mapping-bomb", "nested mappings of aliases", "dag_id: x\n" + MAP_BOMB, r"bad\.yaml:\d+: field '[a-z]\.k\d[^']*': YAML aliases expand to more than 10000")
add("alias-in-step-config", "a bomb reached from a step's config",
    "dag_id: x\nbase: &b [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]\nl2: &l2 [" + ",".join(["*b"] * 40) + "]\nl3: &l3 [" + ",".join(["*l2"] * 40) + "]\nsteps:\n  - {id: s, type: api_call, config: {data: [*l3, *l3]}}\n",
    r"bad\.yaml:\d+: field '[^']+': YAML aliases expand to more than 10000")
add("alias-wide", "thousands of aliases of a small list", "dag_id: x\nsmall: &s [1, 2]\nmany: [" + ",".join(["*s"] * 4000) + "]\n",
    r"bad\.yaml:2: field 'many\[\d+\]': YAML aliases expand to more than 10000")
add("alias-recursive-list", "an anchor containing its own alias", "dag_id: x\na: &a [1, *a]\n", r"bad\.yaml:2: field 'a\[1\]': .*recursive anchor")
add("alias-recursive-map", "a mapping containing its own alias", "dag_id: x\na: &a {b: {c: *a}}\n", r"bad\.yaml:2: field 'a\.b\.c': .*recursive anchor")
for case_id, tag in (("python-object", "!!python/object/apply:os.system ['id > MARK']"), ("python-name", "!!python/name:os.system ''"),
                     ("binary", "!!binary aWQ="), ("set", "!!set {a, b}"), ("omap", "!!omap [a: 1]"), ("local-tag", "!shell 'id > MARK'")):
    add(f"tag-{case_id}", "a YAML tag that constructs objects", "dag_id: x\nsteps:\n  - {id: s, type: api_call, config: {data: {k: " + tag + "}}}\n",
        r"bad\.yaml:3: field 'steps\[0\]\.config\.data\.k': YAML tag '![^']+' is not allowed")
add("duplicate-top-key", "a second dag_id overriding the first", "dag_id: a\ndag_id: b\nsteps: [{id: s, type: api_call}]\n", r"bad\.yaml:2: field 'dag_id': duplicate key 'dag_id'")
add("duplicate-config-key", "a config key given twice", "dag_id: a\nsteps:\n  - id: s\n    type: api_call\n    config:\n      action: a\n      action: b\n",
    r"bad\.yaml:7: field 'steps\[0\]\.config\.action': duplicate key 'action'")
add("merge-key", "a merge key pulling in a hidden mapping", "dag_id: a\nx: &x {dag_id: b}\n<<: *x\nsteps: [{id: s, type: api_call}]\n", r"bad\.yaml:3: YAML merge keys")

# --- nesting, encoding, size ----------------------------------------------------------------------
add("deep-yaml-flow", "100k-deep flow sequence", "dag_id: x\nsteps: " + "[" * 100_000 + "]" * 100_000 + "\n", r"bad\.yaml:2: invalid YAML: exceeded maximum nesting depth")
add("deep-yaml-mappings", "70 nested mappings", "dag_id: x\nsteps: " + "{a: " * 70 + "1" + "}" * 70 + "\n", r"bad\.yaml:2: field 'steps(\.a)+': nested deeper than 64 levels")
add("deep-json", "100k-deep JSON", '{"dag_id": "x", "steps": ' + "[" * 100_000 + "]" * 100_000 + "}", r"bad\.json: nested deeper than 64 levels", name="bad.json")
add("deep-json-moderate", "500-deep JSON (json reads it)", '{"dag_id": "x", "steps": ' + "[" * 500 + "]" * 500 + "}", r"bad\.json(:\d+)?: .*nested deeper than 64 levels|exceeded maximum nesting depth", name="bad.json")
add("invalid-utf8", "a byte that is not UTF-8", b"dag_id: x\nsteps: [{id: s, type: api_call, config: {action: \"\xff\"}}]\n", r"bad\.yaml:2: not UTF-8 text: invalid start byte")
add("truncated-utf8", "a cut multibyte sequence", b"dag_id: x\ndescription: \xe2\x82\n", r"bad\.yaml:2: not UTF-8 text")
add("surrogate-utf8", "an encoded surrogate", b"dag_id: x\ndescription: \xed\xa0\x80\n", r"bad\.yaml:2: not UTF-8 text")
add("utf16", "a UTF-16 file", "dag_id: x\n".encode("utf-16"), r"bad\.yaml(:1)?: not UTF-8 text")
add("huge-file", "a config over the size limit", "dag_id: x\ndescription: " + "a" * 1_100_000 + "\nsteps: [{id: s, type: api_call}]\n", r"bad\.yaml: the file is larger than 1048576 bytes")

# --- numbers --------------------------------------------------------------------------------------
for case_id, extra, message in (
    ("max-active-runs", "max_active_runs: 99999999999999999999999999", r"bad\.yaml:2: field 'max_active_runs': 99999999999999999999999999 is greater than the maximum of 1000"),
    ("retry-delay-1e308", "default_args: {retry_delay_seconds: 1.0e+308}", r"bad\.yaml:2: field 'default_args\.retry_delay_seconds': 1e\+308 is greater than the maximum"),
    ("dagrun-timeout", "dagrun_timeout_seconds: 1.0e+300", r"bad\.yaml:2: field 'dagrun_timeout_seconds': .* greater than the maximum"),
    ("retries-huge", "default_args: {retries: 1000000000000}", r"bad\.yaml:2: field 'default_args\.retries': .* greater than the maximum of 100"),
    ("param-maximum", "params: {p: {type: integer, maximum: 1.0e+300}}", r"bad\.yaml:2: field 'params\.p\.maximum': .* greater than the maximum"),
    ("param-maxlength", "params: {p: {type: string, maxLength: 1000000000000}}", r"bad\.yaml:2: field 'params\.p\.maxLength': .* greater than the maximum"),
    ("nan", "default_args: {retry_delay_seconds: .nan}", r"bad\.yaml:2: field 'default_args\.retry_delay_seconds': '\.nan' is not a finite number"),
    ("inf", "dagrun_timeout_seconds: .inf", r"bad\.yaml:2: field 'dagrun_timeout_seconds': '\.inf' is not a finite number"),
    ("minus-inf", "params: {p: {type: number, minimum: -.inf}}", r"bad\.yaml:2: field 'params\.p\.minimum': '-\.inf' is not a finite number"),
    ("int-5000-digits", "max_active_runs: " + "9" * 5000, r"bad\.yaml:2: field 'max_active_runs': cannot read .*Exceeds the limit"),
):
    add(f"number-{case_id}", "a number that breaks the DB sync or overflows", top(extra), message)
for case_id, value, message in (("nan", "NaN", "NaN is not a finite number"), ("infinity", "Infinity", "Infinity is not a finite number"),
                                ("minus-infinity", "-Infinity", "-Infinity is not a finite number"), ("digits", "9" * 5000, "invalid JSON: Exceeds the limit")):
    add(f"json-number-{case_id}", "a JSON number that is not finite or too long",
        '{"dag_id": "x",\n "max_active_runs": ' + value + ',\n "steps": [{"id": "s", "type": "api_call"}]}', rf"bad\.json(:2)?: {message}", name="bad.json")
for field, value, required in (("workers", 10**6, GEN_REQUIRED), ("max_file_bytes", 10**20, GEN_REQUIRED), ("max_files", 10**12, GEN_REQUIRED)):
    text, path = step("file_generation", field, value, required=required)
    add(f"number-file-generation-{field}", "a file_generation limit past its maximum", text, rf"bad\.yaml:8: step 's': field '{path}': \d+ is greater than the maximum")

# --- param patterns (ReDoS at trigger time) -------------------------------------------------------
for case_id, schema, message in (
    ("nested-plus", {"type": "string", "pattern": r"^(\w+\s?)*$"}, "a repeated group may not contain a quantifier"),
    ("plus-plus", {"type": "string", "pattern": "(a+)+$"}, "a repeated group may not contain a quantifier"),
    ("alternation", {"type": "string", "pattern": "^(a|aa)*b$"}, "a repeated group may not contain a quantifier or '\\|'"),
    ("backreference", {"type": "string", "pattern": r"^(\d)\1$"}, r"backreferences \(\\1\)"),
    ("named-backreference", {"type": "string", "pattern": "(?P<a>x)(?P=a)"}, "backreferences"),
    ("too-long", {"type": "string", "pattern": "a" * 299 + "+"}, "is too long"),
    ("polynomial-long-input", {"type": "string", "pattern": r"\w*\w*@", "maxLength": 100_000}, "maxLength 100000 is too long for this pattern: at most 464"),
    ("nested-in-items", {"type": "array", "items": {"type": "string", "pattern": "(x+x+)+y"}}, "a repeated group"),
    ("nested-in-properties", {"type": "object", "properties": {"u": {"type": "string", "pattern": "(.*a){12}"}}}, "a repeated group"),
    ("pattern-properties", {"type": "array", "items": {"type": "object", "patternProperties": {"(a+)+": {}}}}, "patternProperties is not supported"),
):
    add(f"redos-{case_id}", "a param pattern that backtracks for ever", top("params:\n  p: " + json.dumps(schema)), rf"bad\.yaml:3: field 'params\.p[^']*': (param 'p' has an unsafe pattern: )?.*{message}")


# --- cases that run a function other than loading one file ----------------------------------------
def _load(path: Path) -> object:
    from airflow_provider_hisham.workflow.dag_builder import build_dag_from_plan, load_plan
    from airflow_provider_hisham.workflow.registry import registry

    build_dag_from_plan(load_plan(path, path.name, registry, None))  # the DAG factory's own path
    return "built"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_hostile_config_is_refused(case: Case, tmp_path: Path) -> None:
    folder = tmp_path / "configs"
    folder.mkdir()
    mark = tmp_path / "pwned"
    payload = case.payload.replace(MARK, str(mark)) if isinstance(case.payload, str) else case.payload
    path = folder / case.extra["name"]
    path.write_bytes(payload.encode() if isinstance(payload, str) else payload)
    before = files_under(tmp_path)
    outcome = run_confined(_load, path, timeout=TIMEOUT, memory_mb=MEMORY_MB)
    assert_refused(outcome, WorkflowConfigError, case.extra["match"])
    assert not mark.exists()
    assert files_under(tmp_path) == before


# --- a bad config beside good ones: the good ones keep loading ------------------------------------
GOOD = "dag_id: wf_good\nsteps:\n  - {id: s, type: api_call, config: {action: list_agents}}\n"
FOLDER_CASES = [
    Case("folder-alias-bomb", "folder", "a bomb beside a good config", "dag_id: x\n" + LAUGHS),
    Case("folder-deep", "folder", "deep nesting beside a good config", "dag_id: x\nsteps: " + "[" * 100_000 + "]" * 100_000),
    Case("folder-utf8", "folder", "invalid UTF-8 beside a good config", b"dag_id: \xff\n"),
    Case("folder-huge-number", "folder", "max_active_runs that broke every DAG's DB sync", top("max_active_runs: 99999999999999999999999999")),
]


def _load_folder(folder: Path) -> dict:
    from airflow_provider_hisham.workflow.dag_builder import load_dags

    result = load_dags(folder, None, report_errors=False, cache_dir=False)
    return {"dags": sorted(result.dags), "errors": {name: str(error) for name, error in result.errors.items()}}


@pytest.mark.parametrize("case", FOLDER_CASES, ids=str)
def test_a_hostile_config_leaves_the_others_loading(case: Case, tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "good.yaml").write_text(GOOD)
    (folder / "bad.yaml").write_bytes(case.payload.encode() if isinstance(case.payload, str) else case.payload)
    outcome = run_confined(_load_folder, folder, timeout=TIMEOUT, memory_mb=MEMORY_MB)
    assert outcome.kind == "returned", outcome.describe()
    assert outcome.value["dags"] == ["wf_good"]
    assert list(outcome.value["errors"]) == ["workflows/bad.yaml"]
    assert "workflows/bad.yaml" in outcome.value["errors"]["workflows/bad.yaml"]


# --- run time: the sandbox itself, and conf values that are never rendered again --------------------
def _render(template: str, params: dict) -> object:
    """Render ``template`` as a workflow task does (the workflow DAG's environment, Airflow's
    renderer, native), bypassing the parse-time check (as a plugin's step type or an old cached
    plan could)."""
    from airflow.sdk import BaseOperator

    from airflow_provider_hisham.workflow.airflow_env import workflow_dag_class
    from airflow_provider_hisham.workflow.dag_builder import KEEP_TYPE_FILTER, keep_type

    dag = workflow_dag_class()(dag_id="corpus_render", schedule=None, render_template_as_native_obj=True,
                               user_defined_filters={KEEP_TYPE_FILTER: keep_type})
    task = BaseOperator(task_id="t", dag=dag)
    return task.render_template(template, {"params": params}, dag.get_template_env())


RUNTIME_CASES = [
    Case("render-cycler-globals", "render", "escape at run time", (f"{{{{ {RCE} }}}}", {}), {"raises": "jinja2.exceptions.SecurityError|jinja2.exceptions.UndefinedError", "match": "__init__|cycler"}),
    Case("render-mro", "render", "internals at run time", ("{{ params.x.__class__.__mro__ }}", {"x": "a"}), {"raises": "jinja2.exceptions.SecurityError", "match": "__class__"}),
    Case("render-conf-mul", "render", "a conf number that makes a huge string", ("{{ 'a' * params.n }}", {"n": 10**9}), {"raises": "TemplateLimitError", "match": "at most 100000"}),
    Case("render-conf-power", "render", "conf numbers that make a huge power", ("{{ params.b ** params.e }}", {"b": 9, "e": 9**9}), {"raises": "TemplateLimitError", "match": "4096 bits"}),
    Case("render-conf-replace", "render", "a replace that multiplies a conf string", ("{{ params.s.replace('', params.s) }}", {"s": "a" * 50_000}), {"raises": "TemplateLimitError", "match": "replace"}),
    Case("render-conf-join", "render", "a join that multiplies conf values", ("{{ params.l | join(params.s) }}", {"l": ["a"] * 50_000, "s": "b" * 50_000}), {"raises": "TemplateLimitError", "match": "join"}),
    Case("render-list-mutation", "render", "mutating a conf list", ("{{ params.l.append(1) }}", {"l": []}), {"raises": "jinja2.exceptions.SecurityError", "match": "append"}),
    Case("conf-not-rendered-again", "conf", "a conf value that is a template", ("{{ (params.x) | hisham_keep_type }}", {"x": "{{ 7*7 }}"}), {"returns": "{{ 7*7 }}"}),
    Case("conf-hang-not-rendered", "conf", "a conf value that would hang if rendered", ("{{ (params.x) | hisham_keep_type }}", {"x": "{{ 9**(9**9) }}"}), {"returns": "{{ 9**(9**9) }}"}),
    Case("conf-in-text-not-rendered", "conf", "a conf template inside text", ("id: {{ params.x }}", {"x": "{% for a in range(10**9) %}x{% endfor %}"}), {"returns": "id: {% for a in range(10**9) %}x{% endfor %}"}),
    Case("conf-literal-not-evaluated", "conf", "a conf string that looks like a literal", ("{{ (params.x) | hisham_keep_type }}", {"x": "[1, 2]"}), {"returns": "[1, 2]"}),
]


@pytest.mark.parametrize("case", RUNTIME_CASES, ids=str)
def test_run_time_rendering_is_sandboxed_and_conf_is_data(case: Case, tmp_path: Path) -> None:
    template, params = case.payload
    mark = tmp_path / "pwned"
    outcome = run_confined(_render, template.replace(MARK, str(mark)), params, timeout=TIMEOUT, memory_mb=MEMORY_MB)
    if "returns" in case.extra:
        assert outcome.kind == "returned" and outcome.value == case.extra["returns"], outcome.describe()
    else:
        assert outcome.kind == "raised", outcome.describe()
        assert any(name.endswith(tuple(case.extra["raises"].split("|"))) for name in outcome.exc_types), outcome.describe()
        assert re.search(case.extra["match"], outcome.message), outcome.describe()
    assert not mark.exists()


def _trigger(schema: dict, value: str) -> object:
    """Validate a conf value against a param's schema as Airflow does at trigger time."""
    from airflow.sdk import Param

    from airflow_provider_hisham.workflow.regex_guard import guard_schema

    Param(**guard_schema(schema)).resolve(value)
    return "accepted"


def test_a_long_conf_value_never_reaches_a_pattern() -> None:
    # linear patterns backtrack quadratically on search: 2 s on 20,000 characters, hours on 1 MB
    outcome = run_confined(_trigger, {"type": "string", "pattern": r"\w+@"}, "a" * 1_000_000, timeout=5, memory_mb=MEMORY_MB)
    assert_refused(outcome, "builtins.ValueError", "is too long|longer than")
    assert run_confined(_trigger, {"type": "string", "pattern": r"\w+@"}, "abc@", timeout=5).value == "accepted"


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) + len(FOLDER_CASES) + len(RUNTIME_CASES) >= 50
