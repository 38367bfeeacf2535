"""One way to do each thing: a hand-written copy of the atomic write, the folder swap, the
project-id rule or the idempotency marker fails here, so it is noticed before it drifts."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "airflow_provider_hisham"
ATOMIC_WRITE = "atomic_write.py"
SWAP = "generation/atomic.py"  # the folder swap, and the manifest renamed beside it
RENAME_CALLS = {("os", "replace"), ("os", "rename"), ("os", "renames"), ("shutil", "move")}


@lru_cache(maxsize=1)
def _modules() -> dict[str, ast.Module]:
    return {p.relative_to(PACKAGE).as_posix(): ast.parse(p.read_text(encoding="utf-8"), str(p))
            for p in sorted(PACKAGE.rglob("*.py")) if "templates" not in p.relative_to(PACKAGE).parts}


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value.id if isinstance(node.func.value, ast.Name) else None
            yield node, owner, node.func.attr


def test_the_walker_sees_the_package():
    modules = _modules()
    assert ATOMIC_WRITE in modules and SWAP in modules and "workflow/combine.py" in modules


def test_only_the_atomic_write_and_the_swap_rename_files_into_place():
    found = []
    for name, tree in _modules().items():
        for node, owner, attr in _calls(tree):
            renames = (owner, attr) in RENAME_CALLS
            # Path.rename(x) / Path.replace(x): one argument (str.replace and bytes.replace take two)
            path_method = attr in ("rename", "replace") and owner not in ("os", "shutil") and \
                len(node.args) == 1 and not node.keywords
            temp_kept = attr == "NamedTemporaryFile" and any(k.arg == "delete" for k in node.keywords)
            if (renames or path_method or temp_kept) and name not in (ATOMIC_WRITE, SWAP):
                found.append(f"{name}:{node.lineno} {owner or '...'}.{attr}")
    assert found == [], "write files with atomic_write.write_file_atomic, swap folders with generation.atomic.swap_in"
    assert [a for _, o, a in _calls(_modules()[ATOMIC_WRITE]) if (o, a) in RENAME_CALLS] == ["replace"]


def test_only_linux_py_calls_renameat2():
    users = [name for name, tree in _modules().items()
             if any(isinstance(n, ast.Constant) and n.value == "renameat2" for n in ast.walk(tree))]
    assert users == ["generation/linux.py"]


def test_one_project_id_rule():
    rules, patterns = [], []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and "project_id" in node.name and \
                    node.name.startswith(("check", "valid", "is_")):
                rules.append(f"{name}:{node.name}")
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and "PROJECT_ID" in t.id and
                                                    t.id != "PROJECT_ID_RESERVE" for t in node.targets):
                patterns.append(f"{name}:{node.lineno}")
    assert rules == ["generation/paths.py:check_project_id"]
    assert patterns == []  # no second pattern (a regex or a JSON Schema one) beside the rule


def test_one_marker_function():
    """The marker spellings live in api/idempotency.py only (as its frozen schemes)."""
    spelled = [f"{name}:{n.lineno}" for name, tree in _modules().items() for n in ast.walk(tree)
               if isinstance(n, ast.Constant) and isinstance(n.value, str) and
               n.value.startswith(("af1-", "hisham-export:")) and name != "api/idempotency.py"]
    assert spelled == []
    hashers = []
    for name, tree in _modules().items():
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef):
                continue
            names = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)} | \
                    {n.attr for n in ast.walk(fn) if isinstance(n, ast.Attribute)}
            if {"dag_id", "run_id", "task_id"} <= names and "hashlib" in names:
                hashers.append(f"{name}:{fn.name}")
    assert hashers == ["api/idempotency.py:marker"]
