"""Check a generated project against its manifest, independently of the generator's code."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def manifest_mismatches(summary: dict[str, Any]) -> list[str]:
    """What differs between the tree at ``summary["output_dir"]`` and its manifest (empty: matches).

    Checks the manifest file's sha256 against the summary, every file's size and sha256, and that
    the tree holds no file the manifest does not list (a half-written or mixed tree).
    """
    problems: list[str] = []
    manifest_bytes = Path(summary["manifest_path"]).read_bytes()
    if hashlib.sha256(manifest_bytes).hexdigest() != summary["sha256"]:
        problems.append("manifest sha256 differs from the task's summary")
    manifest = json.loads(manifest_bytes)
    root = Path(summary["output_dir"])
    listed = {f["path"] for f in manifest["files"]}
    for entry in manifest["files"]:
        path = root / entry["path"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(f"{entry['path']}: {exc.strerror}")
            continue
        if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            problems.append(f"{entry['path']}: content differs from the manifest")
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")
            if rel not in listed:
                problems.append(f"{rel}: not in the manifest")
    if len(manifest["files"]) != summary["total_files"]:
        problems.append("file count differs from the task's summary")
    return problems
