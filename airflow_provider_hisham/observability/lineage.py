"""OpenLineage dataset names for what the steps read and make (plain Python: ``(namespace, name)``).

Lineage tools join runs on these names, so every step names the same thing the same way:

* HishamOS objects: namespace ``hishamos://<host[:port]>``, names ``projects/<id>``,
  ``stories/<id>``, ``generated-projects/<id>``, ``agents/<slug>``;
* templates: namespace ``hisham-template``, the template's name or folder;
* folders and archives on the worker: namespace ``file://<hostname>``, the absolute path;
* repositories: namespace ``<scheme>://<host[:port]>`` of the remote, the repository path
  (no user info, query or ``.git``).

A story is an input of a generation, the generated folder its output and the input of the export,
whose output is the repository or archive: lineage shows story -> project -> repository.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

Dataset = tuple[str, str]
TEMPLATE_NAMESPACE = "hisham-template"


def hishamos_namespace(base_url: str | None) -> str:
    parts = urlsplit(base_url or "")
    host = parts.hostname or "unknown"
    return f"hishamos://{host}:{parts.port}" if parts.port else f"hishamos://{host}"


def hishamos_object(base_url: str | None, kind: str, object_id: Any) -> Dataset:
    """``kind``: ``projects``, ``stories``, ``generated-projects``, ``agents``. Ids are UUIDs, unique
    across projects, so a story is named alike by steps that know its project and steps that do not."""
    return hishamos_namespace(base_url), f"{kind}/{object_id}"


def local_path(path: str | os.PathLike) -> Dataset:
    return f"file://{socket.gethostname()}", os.path.abspath(os.fspath(path))


def template(name_or_path: str) -> Dataset:
    return TEMPLATE_NAMESPACE, str(name_or_path)


def repository(url: str) -> Dataset:
    """A remote repository by its URL, credentials and ``.git`` left out."""
    parts = urlsplit(str(url))
    if not parts.scheme or parts.scheme == "file":
        return local_path(parts.path or str(url))
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    path = parts.path.strip("/")
    return f"{parts.scheme}://{netloc}", path.removesuffix(".git")


def story_of(values: Mapping[str, Any] | None) -> Any:
    """The story a step works on, from its variables (``story_id``, or a ``story`` result with ``id``)."""
    if not isinstance(values, Mapping):
        return None
    story = values.get("story_id") or values.get("story")
    if isinstance(story, Mapping):
        story = story.get("id")
    return story if isinstance(story, (str, int)) and str(story).strip() else None
