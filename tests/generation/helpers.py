"""Helpers shared by the generation tests: build template trees, snapshot output trees."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_tree(root: Path, tree: dict) -> Path:
    """``{"a/b.txt": "text" | b"bytes", "empty/": {}}`` -> files under ``root``."""
    for rel, content in tree.items():
        path = root / rel
        if isinstance(content, dict):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
    return root


def write_cookiecutter(root: Path, context: dict, tree: dict, extra: dict | None = None) -> Path:
    root.mkdir(parents=True)
    (root / "cookiecutter.json").write_text(json.dumps(context, indent=2))
    write_tree(root, {**{f"{{{{cookiecutter.project_slug}}}}/{k}": v for k, v in tree.items()}, **(extra or {})})
    return root


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path below ``root`` -> bytes (files) or None (folders). Symlinks are an error."""
    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            p = Path(dirpath, name)
            assert not p.is_symlink(), p
            out[str(p.relative_to(root))] = None
        for name in filenames:
            p = Path(dirpath, name)
            assert not p.is_symlink(), p
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


def outside_state(base: Path, exclude: Path) -> dict[str, tuple]:
    """(size, mtime_ns) of everything below ``base`` except ``exclude``: proves nothing else changed."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(base):
        if Path(dirpath) == exclude or exclude in Path(dirpath).parents:
            continue
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            if p == exclude:
                continue
            st = p.lstat()
            state[str(p)] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return state
