"""Hostile agent output turned into files: every case is refused naming the step and the path or
limit at fault, or (for output that only looks hostile) stays confined to the project root.

Each case runs in a confined child (``run_confined``): the agent's text goes through
``structure_from_output`` and then the same ``ProjectGenerator`` that ``file_generation`` uses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_hisham.agents import AgentOutputError, structure_from_output
from airflow_provider_hisham.generation import Limits, ProjectGenerator
from tests.security.harness import Case, assert_refused, files_under, run_confined

AREA = "agent_output"
SMALL = {"max_file_bytes": 64 * 1024, "max_files": 50, "max_project_bytes": 1024 * 1024}


def fence(path: str, body: str = "x = 1", lang: str = "python", mark: str = "```") -> str:
    return f"{mark}{lang} {path}\n{body}\n{mark}\n"


def refused(id: str, attack: str, payload, match: str, **extra) -> Case:
    return Case(id, AREA, attack, payload, {"match": match, **extra})


def confined(id: str, attack: str, payload, files: list[str], **extra) -> Case:
    return Case(id, AREA, attack, payload, {"files": files, **extra})


CASES: list[Case] = [
    refused("fence-traversal", "parent segment in a fence path", fence("../evil.py"),
            r"block at line 1: unsafe path '\.\./evil\.py': contains a '\.\.' segment"),
    refused("fence-deep-traversal", "climb out from a subfolder", "ok\n" + fence("src/../../etc/passwd"),
            r"block at line 2: unsafe path 'src/\.\./\.\./etc/passwd'"),
    refused("fence-absolute", "absolute POSIX path", fence("/etc/cron.d/evil"),
            r"unsafe path '/etc/cron\.d/evil': is absolute"),
    refused("fence-drive", "Windows drive path", fence("C:/Windows/evil.dll"), r"is absolute \(drive letter"),
    refused("fence-drive-relative", "drive-relative name", fence("src/c:evil"), r"starts with a drive letter"),
    refused("fence-backslash", "backslash traversal", fence("..\\evil.py"), r"contains a backslash"),
    refused("fence-unc", "UNC path", fence("\\\\server\\share\\x"), r"is absolute \(drive letter or UNC\)"),
    refused("fence-git-config", "write .git/config (hooks, credential helpers)", fence(".git/config", "[core]"),
            r"path '\.git/config': '\.git' is git's own folder name"),
    refused("fence-git-case", ".GIT on a case-insensitive disk", fence(".GIT/hooks/pre-commit", "rm -rf ~"),
            r"'\.GIT' is git's own folder name"),
    refused("fence-nested-git", "a nested repository's .git", fence("vendor/lib/.git/config"), r"'vendor/lib/\.git/config': '\.git' is git's own folder name"),
    refused("fence-nul", "NUL byte in the path", fence("src/app\x00.py"), r"contains NUL or control characters"),
    refused("fence-bell", "control character in the path", fence("src/\x07app.py"), r"control characters"),
    refused("fence-ansi", "terminal escape in the path", fence("src/\x1b[31mred.py"), r"control characters"),
    refused("fence-empty-segment", "double slash", fence("src//app.py"), r"contains an empty segment"),
    refused("fence-dot-segment", "dot segment", fence("./app.py"), r"contains a '\.' segment"),
    refused("fence-long-name", "file name over 255 bytes", fence("src/" + "a" * 300 + ".py"),
            r"a name is longer than 255 bytes"),
    refused("fence-deep", "path nested 70 folders deep", fence("/".join(["d"] * 70) + "/x.py"),
            r"is nested deeper than 64 folders"),
    refused("fence-unclosed", "truncated output: a fence never closed", "```python src/app.py\nprint(1)\n",
            r"block at line 1 \('src/app\.py'\) is never closed"),
    refused("fence-duplicate", "two blocks for one path (which wins?)", fence("src/a.py", "1") + fence("src/a.py", "2"),
            r"block at line 4: path 'src/a\.py' also given by the block at line 1"),
    refused("fence-case-collision", "paths equal on a case-insensitive disk", fence("src/App.py") + fence("src/app.py"),
            r"collides \(same name ignoring case\)"),
    refused("fence-file-and-folder", "a path that is both file and folder", fence("src") + fence("src/app.py"),
            r"unsafe path 'src': is a file but collides with the folder 'src'"),
    refused("huge-output", "output larger than the project limit", fence("big.txt", "x" * (2 * 1024 * 1024)),
            r"bytes, more than max_project_bytes 1048576", limits=SMALL),
    refused("huge-block", "one block larger than max_file_bytes", fence("big.txt", "x" * (100 * 1024)),
            r"'big\.txt' is larger than max_file_bytes 65536", limits=SMALL),
    refused("thousands-of-blocks", "thousands of fences (CPU, memory)", "```\n```\n" * 5000,
            r"more than 1000 fenced blocks"),
    refused("too-many-files", "more files than max_files", "".join(fence(f"f{i}.py") for i in range(60)),
            r"more than max_files 50 files", limits=SMALL),
    refused("json-too-many-files", "a JSON mapping with more files than max_files",
            json.dumps({f"f{i}.py": "x" for i in range(60)}), r"60 files, more than max_files 50", limits=SMALL),
    refused("prose-only", "no file at all", "I could not do it.\n```bash\nrm -rf /\n```\n", r"no files in it"),
    refused("not-text", "output that is not an agent result", {"files": {"a.py": "x"}}, r"a mapping with 'text'"),
    refused("bytes-output", "bytes instead of text", b"```python a.py\nx\n```", r"got bytes"),
    refused("json-traversal", "JSON key climbing out", json.dumps({"../evil.py": "x"}),
            r"key '\.\./evil\.py': unsafe path"),
    refused("json-absolute", "JSON absolute key", json.dumps({"/etc/passwd": "root::0:0"}), r"is absolute"),
    refused("json-nested-traversal", "a '..' key inside a folder", json.dumps({"src": {"..": {"x.py": "1"}}}),
            r"unsafe path 'src/\.\.'"),
    refused("json-git", "JSON .git/config key", json.dumps({".git/config": "[core]\n\thooksPath = /tmp"}),
            r"key '\.git/config': .*'\.git' is git's own folder name"),
    refused("json-number", "non-string content", json.dumps({"a.py": 1}),
            r"key 'a\.py': content must be a string .* got int"),
    refused("json-list", "list content", json.dumps({"a.py": ["x"]}), r"got list"),
    refused("json-null", "null content", json.dumps({"a.py": None}), r"got NoneType"),
    refused("json-bool", "boolean content", json.dumps({"a.py": True}), r"got bool"),
    refused("json-deep", "100 nested folders", json.dumps(__import__("functools").reduce(lambda acc, _: {"d": acc},
                                                                                        range(100), {"x": "1"})),
            r"is nested deeper than 64 folders"),
    refused("json-control", "control character in a key", json.dumps({"a\u0001.py": "x"}), r"control characters"),
    confined("nested-fences", "a path fence inside a longer fence is body, not a file",
             "````markdown notes.md\n```python ../evil.py\nboom\n```\n````\n", ["notes.md"]),
    confined("indented-fake-fence", "an indented (code) fence names no file",
             fence("src/ok.py") + "    ```python ../evil.py\n    boom\n    ```\n", ["src/ok.py"]),
    confined("tilde-fence", "tilde fences work like backticks", fence("docs/a.md", "# A", "md", "~~~"), ["docs/a.md"]),
    confined("jinja-in-content", "template syntax in content is written as is, never rendered",
             fence("t.txt", "{{ ''.__class__.__mro__ }}{% for x in range(10**9) %}{% endfor %}"), ["t.txt"]),
]


def _generate(payload, root: str, limits: dict) -> list[str]:
    lim = Limits(**limits) if limits else Limits()
    structure = structure_from_output(payload, source="coder", limits=lim)
    ProjectGenerator(root, limits=lim).generate("proj", structure=structure)
    base = Path(root) / "proj"
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_agent_output_case(case: Case, tmp_path: Path):
    root = tmp_path / "root"
    root.mkdir()
    outcome = run_confined(_generate, case.payload, str(root), case.extra.get("limits", {}), timeout=10)
    if "match" in case.extra:
        assert_refused(outcome, AgentOutputError, r"(?s)^output of step 'coder': .*" + case.extra["match"])
        assert files_under(root) == set()  # nothing half written
    else:
        assert outcome.kind == "returned", outcome.describe()
        assert outcome.value == case.extra["files"]
    assert files_under(tmp_path) - files_under(root) == {root}  # nothing outside the root
