"""The ``[hisham]`` section of Airflow's configuration: every option, its type, default and meaning,
and the one place that reads them.

``OPTIONS`` is the single list: the provider info's ``config`` section (what ``airflow config
list`` shows and where Airflow takes the defaults from) is generated from it, and the readers
below refuse a value of the wrong type naming ``[hisham] <option>``. Airflow is imported only
when a value is read, so this module (and ``get_provider_info``) stays cheap to import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECTION = "hisham"
VERSION_ADDED = "0.1.0"


class HishamConfigError(ValueError):
    """A ``[hisham]`` option has a value of the wrong type (names the option, not a secret)."""


@dataclass(frozen=True)
class Option:
    """One ``[hisham]`` option as the provider info describes it (``type``: string, integer or
    boolean, Airflow's names; ``default`` as Airflow stores it, a string)."""

    name: str
    type: str
    default: str
    description: str
    example: str | None = None

    def provider_info(self) -> dict[str, Any]:
        return {"description": self.description, "version_added": VERSION_ADDED, "type": self.type,
                "example": self.example if self.example is not None else self.default, "default": self.default}


OPTIONS: dict[str, Option] = {o.name: o for o in (
    Option("generated_projects_root", "string", "",
           "Folder under which file_generation writes generated-projects/{project_id}/. "
           "Empty means $AIRFLOW_HOME/generated-projects.", "/opt/airflow/generated-projects"),
    Option("templates_dir", "string", "",
           "Folders (os.pathsep-separated) searched for file_generation template names before "
           "$AIRFLOW_HOME/include/templates and the provider's own airflow_provider_hisham/templates.",
           "/opt/airflow/include/templates"),
    Option("max_file_bytes", "integer", "10485760", "Largest single generated file, in bytes."),
    Option("max_files", "integer", "50000", "Most files one generation may write."),
    Option("max_project_bytes", "integer", "536870912", "Largest total size of one generated project, in bytes."),
    Option("workflow_plan_cache_dir", "string", "",
           "Where the DAG factory caches validated workflow configs (keyed by their content). "
           "Empty means $AIRFLOW_HOME/cache/hisham-workflow-plans.", "/opt/airflow/cache/hisham-workflow-plans"),
    Option("strict_hishamos_records", "boolean", "False",
           "Whether a HishamOS record that the organization's subscription tier refuses fails the task "
           "(file_generation, repo_creation) instead of being logged once and skipped. An operator's "
           "strict_hishamos_records argument wins.", "True"),
    Option("storage_url", "string", "",
           "Where generated projects and archives are published for other workers (an ObjectStoragePath "
           "URL: s3://bucket/prefix, gs://..., abfs://..., file://...). Empty means the local "
           "generated_projects_root itself: nothing is copied.", "s3://my-bucket/hisham"),
    Option("storage_conn_id", "string", "",
           "Connection whose credentials ObjectStoragePath uses for storage_url (e.g. an aws connection; "
           "its extra may set endpoint_url).", "aws_default"),
    Option("retention_days", "float", "0",
           "Keep published projects and archives this many days (0: rule off).", "30"),
    Option("retention_keep_last", "integer", "0",
           "Keep the newest N published versions of each project (0: rule off).", "3"),
    Option("retention_hishamos_conn_id", "string", "",
           "HishamOS connection the retention DAG uses to mark removed projects' records archived "
           "(empty: records are left as they are).", "hishamos_default"),
)}


def provider_config() -> dict[str, Any]:
    """The ``config`` section of the provider info, generated from :data:`OPTIONS`."""
    return {SECTION: {"description": "Options for the HishamOS provider.",
                      "options": {name: option.provider_info() for name, option in OPTIONS.items()}}}


# -- readers -------------------------------------------------------------------------------------
def get(name: str) -> str:
    """The option's text (``AIRFLOW__HISHAM__<NAME>`` or ``airflow.cfg``), its default when empty."""
    option = OPTIONS[name]
    from airflow.configuration import conf  # lazy: importing this module must not load Airflow

    return conf.get(SECTION, name, fallback=option.default) or option.default


def get_int(name: str) -> int:
    raw = get(name)
    try:
        return int(raw.strip())
    except ValueError:
        raise HishamConfigError(f"[{SECTION}] {name} must be an integer, got {raw[:40]!r}") from None


def get_float(name: str) -> float:
    raw = get(name)
    try:
        value = float(raw.strip())
    except ValueError:
        raise HishamConfigError(f"[{SECTION}] {name} must be a number, got {raw[:40]!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise HishamConfigError(f"[{SECTION}] {name} must be a finite number, got {raw[:40]!r}")
    return value


def get_bool(name: str) -> bool:
    from airflow_provider_hisham.booleans import BooleanValueError, parse_bool

    try:
        return parse_bool(get(name), f"[{SECTION}] {name}")
    except BooleanValueError as exc:
        raise HishamConfigError(str(exc)) from None


def _airflow_home() -> str:
    from airflow.configuration import AIRFLOW_HOME

    return AIRFLOW_HOME


def _path(text: str) -> str:
    return os.path.abspath(os.path.expanduser(text))


def generated_projects_root() -> str:
    """``[hisham] generated_projects_root``; empty means ``$AIRFLOW_HOME/generated-projects``."""
    return _path(get("generated_projects_root") or os.path.join(_airflow_home(), "generated-projects"))


def templates_dirs() -> list[str]:
    """``[hisham] templates_dir`` split on ``os.pathsep`` (absolute paths, existing or not)."""
    return [_path(p) for p in get("templates_dir").split(os.pathsep) if p]


def workflow_plan_cache_dir() -> Path:
    """``[hisham] workflow_plan_cache_dir``; empty means ``$AIRFLOW_HOME/cache/hisham-workflow-plans``."""
    configured = get("workflow_plan_cache_dir")
    return Path(_path(configured)) if configured else Path(_airflow_home()) / "cache" / "hisham-workflow-plans"


def strict_hishamos_records() -> bool:
    return get_bool("strict_hishamos_records")
