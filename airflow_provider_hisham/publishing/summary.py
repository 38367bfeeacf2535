"""What an approval gate shows before publishing: a bounded, escaped Markdown summary.

Plain Python (no Airflow): the approval operator calls these. Every value shown (file names from
agents, story titles, targets) is hostile, so each is escaped so that it renders as literal text:
no link, image, HTML, emphasis or autolink can come out of a file name.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: files listed by name in the body; the rest are counted
DEFAULT_LIST_LIMIT = 200
#: directory entries walked at most (a generated project is bounded far below this)
MAX_WALK_ENTRIES = 200_000
#: longest shown value (a file name, a story title), in characters
MAX_SHOWN_CHARS = 300
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # all ASCII punctuation: each may be backslash-escaped


class PublishSummaryError(ValueError):
    """The project to summarise is missing or is not a folder."""


def escape_markdown(value: Any, limit: int = MAX_SHOWN_CHARS) -> str:
    """``value`` as Markdown that renders literally: every ASCII punctuation character is
    backslash-escaped (so no ``[link](...)``, ``<html>``, ``&entity;``, ``https://`` or ``www.``
    autolink survives), and control, format (bidi overrides) and line-break characters are
    shown as ``U+XXXX``. Long values are cut at ``limit`` characters."""
    text = str(value)
    cut = len(text) > limit
    text = text[:limit]
    shown = "".join(
        f"U+{ord(c):04X}" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs") else c for c in text
    )
    escaped = _PUNCTUATION.sub(r"\\\1", shown)
    return escaped + (" …" if cut else "")


@dataclass(frozen=True)
class ProjectFiles:
    """The files under a project folder: the first ``limit`` relative paths (sorted), all counted."""

    listed: list[str]
    total_files: int
    total_bytes: int
    complete: bool = True  # False when the walk stopped at MAX_WALK_ENTRIES

    @property
    def unlisted(self) -> int:
        return self.total_files - len(self.listed)


def project_folder(project: Any) -> str:
    """The folder a generation summary (``{"output_dir": ...}``) or a plain path names."""
    if isinstance(project, Mapping):
        folder = project.get("output_dir")
        if not folder:
            raise PublishSummaryError("project: the generation result has no output_dir")
        return str(folder)
    if isinstance(project, (str, os.PathLike)) and str(project):
        return str(project)
    raise PublishSummaryError(f"project must be a generation result or a folder, got {type(project).__name__}")


def list_project_files(folder: str, limit: int = DEFAULT_LIST_LIMIT, max_entries: int = MAX_WALK_ENTRIES) -> ProjectFiles:
    """Walk ``folder`` without following symlinks, skipping a top-level ``.git`` (what publishing
    adds itself). Memory stays bounded: only the ``limit`` smallest paths are kept."""
    if not os.path.isdir(folder) or os.path.islink(folder):
        raise PublishSummaryError(f"project: {folder} is not a folder")
    import heapq

    heap: list[tuple[list[int], str]] = []  # the `limit` smallest paths, keyed negated (a max-heap)
    total = size = seen = 0
    complete = True
    for root, dirs, files in os.walk(folder, followlinks=False):
        if root == folder and ".git" in dirs:
            dirs.remove(".git")
        dirs.sort()
        seen += len(dirs) + len(files)
        if seen > max_entries:
            complete = False
            break
        for name in files:
            path = os.path.join(root, name)
            try:
                size += os.lstat(path).st_size
            except OSError:
                pass
            total += 1
            rel = os.path.relpath(path, folder).replace(os.sep, "/")
            key = [-ord(c) for c in rel]
            if len(heap) < limit:
                heapq.heappush(heap, (key, rel))
            elif limit and key > heap[0][0]:
                heapq.heapreplace(heap, (key, rel))
    kept = sorted(rel for _, rel in heap)
    return ProjectFiles(kept, total, size, complete)


def _human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit} ({count} bytes)"
        value /= 1024
    return f"{count} bytes"


def story_text(story: Any) -> str | None:
    """A story result (``{"number", "title"}``) or a plain value, as one line (unescaped)."""
    if story is None or story == "":
        return None
    if isinstance(story, Mapping):
        parts = [str(story[k]) for k in ("number", "title") if story.get(k)]
        return " - ".join(parts) or str(story.get("id") or "")
    return str(story)


@dataclass(frozen=True)
class PublishSummary:
    """What is about to be published, as shown to the reviewer and stored in XCom."""

    folder: str
    files: ProjectFiles
    target: str | None = None
    branch: str | None = None
    story: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"folder": self.folder, "total_files": self.files.total_files, "total_bytes": self.files.total_bytes,
                "listed_files": len(self.files.listed), "target": self.target, "branch": self.branch, "story": self.story}

    def markdown(self) -> str:
        """The HITL body: every shown value escaped (see :func:`escape_markdown`)."""
        files = self.files
        lines = ["**About to publish**", ""]
        rows = [("Story", self.story), ("Target", self.target), ("Branch", self.branch),
                ("Files", f"{files.total_files}{'' if files.complete else '+ (count stopped)'}"),
                ("Size", _human_bytes(files.total_bytes))]
        rows += list(self.extra.items())
        for label, value in rows:
            if value not in (None, ""):
                lines.append(f"- {escape_markdown(label)}: {escape_markdown(value)}")
        lines += ["", f"**Files** (first {len(files.listed)} of {files.total_files})" if files.unlisted
                  else "**Files**", ""]
        lines += [f"- {escape_markdown(name)}" for name in files.listed]
        if files.unlisted:
            lines += ["", f"… and {files.unlisted} more"]
        if not files.total_files:
            lines.append("(no files)")
        return "\n".join(lines) + "\n"


def build_summary(project: Any, *, target: Any = None, branch: Any = None, story: Any = None,
                  limit: int = DEFAULT_LIST_LIMIT) -> PublishSummary:
    folder = project_folder(project)
    return PublishSummary(folder, list_project_files(folder, limit), None if target is None else str(target),
                          None if branch is None else str(branch), story_text(story))


@dataclass(frozen=True)
class Decision:
    """A reviewer's answer (or the timeout default), as recorded in XCom and the task log."""

    approved: bool
    responded_by: dict[str, Any] | None
    reason: str
    responded_at: str | None
    timed_out: bool

    def as_dict(self) -> dict[str, Any]:
        return {"approved": self.approved, "decision": "approved" if self.approved else "rejected",
                "responded_by": self.responded_by, "reason": self.reason, "responded_at": self.responded_at,
                "timed_out": self.timed_out}

    def log_line(self) -> str:
        who = "the timeout default" if self.timed_out or not self.responded_by else (
            f"{self.responded_by.get('name')} (id {self.responded_by.get('id')})")
        verb = "Approved" if self.approved else "Rejected"
        return f"{verb} by {who}" + (f": {self.reason}" if self.reason else " (no reason given)")


def decision_from_response(chosen: list[str], params_input: Mapping[str, Any] | None, responded_by: Any,
                           responded_at: Any, timed_out: bool, approve_option: str) -> Decision:
    """Turn the HITL response into a :class:`Decision` (the reason is bounded to 2,000 chars)."""
    reason = (params_input or {}).get("reason") or ""
    if not isinstance(reason, str):
        reason = str(reason)
    user = dict(responded_by) if isinstance(responded_by, Mapping) else None
    at = responded_at.isoformat() if hasattr(responded_at, "isoformat") else (str(responded_at) if responded_at else None)
    return Decision(list(chosen or [])[:1] == [approve_option], user, reason[:2000], at, bool(timed_out))
