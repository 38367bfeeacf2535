"""File each invalid workflow config as its own Airflow import error, keyed by the config's path.

Airflow records import errors per file, from what the importer parsing a DAG file returns, and
its dag processor lists only ``.py`` files. A loader that raised would lose every DAG of the
folder; a loader whose stand-in DAG failed ``validate()`` would get one error for itself, and
Airflow then marks *all* of the loader's DAGs stale (``has_import_errors``), so the valid ones
would stop being scheduled. Instead, while the DagBag imports the loader, we add one
``DagImportError`` per invalid config, with the config's path relative to the bundle, to the
importer's result for the loader file. The DagBag stores them as ``import_errors[<config>]``,
the dag processor persists them as import errors of those paths (shown in the UI), and the
loader's valid DAGs stay clean.

Airflow clears an error whose file is not a ``.py`` file at its next bundle refresh
(``[dag_processor] refresh_interval``); the loader files it again on its next parse while the
config is still broken, so a fixed config's error is gone after at most one refresh.

Outside a DagBag (``python dags/hisham_workflows.py``, tests), errors are emitted as warnings.

**Not a public seam.** Airflow 3.3 has no public way for a DAG file to report errors of other
files: the importer layer (``airflow.dag_processing.importers``) exists but cannot be configured
and is not part of Airflow's public interface (3.4 documents it, as experimental, with
``[dag_processor] dag_importer_configs``). So finding the importer's result in the calling frames
is confined to this module and done only on the Airflow series it was tested with
(``TESTED_AIRFLOW``). On any other series, or when a DagBag is parsing but the result is not
where 3.3 puts it, the errors are still reported (as warnings of the loader file, which the UI
shows) and an error is logged saying why they are not import errors of their own files.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from airflow_provider_hisham.workflow.errors import WorkflowConfigError

log = logging.getLogger(__name__)


#: Airflow series (major, minor) whose dag processor this module was tested with.
TESTED_AIRFLOW: tuple[tuple[int, int], ...] = ((3, 3),)


class WorkflowConfigWarning(UserWarning):
    """An invalid workflow config found where no DagBag could record it as an import error."""


def airflow_series() -> tuple[int, int] | None:
    """(major, minor) of the installed Airflow, None when it is not installed or unreadable."""
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("apache-airflow-core", "apache-airflow"):
        try:
            major, minor = version(dist).split(".")[:2]
            return int(major), int(minor)
        except (PackageNotFoundError, ValueError):
            continue
    return None


def _find_import_result(loader_file: str) -> tuple[Any | None, str | None]:
    """(the importer's result for ``loader_file`` in the calling frames, why it is missing)."""
    series = airflow_series()
    if series not in TESTED_AIRFLOW:
        shown = ".".join(map(str, series)) if series else "not found"
        tested = ", ".join(f"{a}.{b}.x" for a, b in TESTED_AIRFLOW)
        return None, (f"filing them as import errors of their own files is only done on Airflow {tested} "
                      f"(installed: {shown})")
    from airflow.dag_processing.dagbag import DagBag
    from airflow.dag_processing.importers import DagImportResult

    frame = sys._getframe(2)
    loader_file = os.path.realpath(loader_file)
    in_dagbag = False
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, DagImportResult) and _same_file(value.file_path, loader_file):
                return value, None
            in_dagbag = in_dagbag or isinstance(value, DagBag)
        frame = frame.f_back
    if in_dagbag:
        return None, "a DagBag is parsing, but its importer result is not where Airflow 3.3 keeps it"
    return None, None  # a plain script or a test: warnings are the report


def _same_file(reported: str, loader_file: str) -> bool:
    """The result's ``file_path`` is the loader's path, relative to its bundle or absolute."""
    if os.path.isabs(reported):
        return os.path.realpath(reported) == loader_file
    return loader_file.endswith(os.sep + os.path.normpath(reported)) or loader_file == os.path.normpath(reported)


def _bundle_key(config: Path, loader_file: str, loader_key: str) -> str:
    """``config``'s path as Airflow keys files: relative to the bundle, like the loader's."""
    if os.path.isabs(loader_key):
        return str(config)
    root = os.path.realpath(loader_file)[: -len(os.path.normpath(loader_key))]
    return Path(os.path.relpath(os.path.realpath(config), root)).as_posix()


def report_config_errors(errors: dict[str, WorkflowConfigError], paths: dict[str, Path], loader_file: str | None) -> int:
    """Record each invalid config as an import error of its own file; return how many were filed."""
    result, why = _find_import_result(loader_file) if loader_file else (None, None)
    if result is None:
        if why:
            log.error("%d invalid workflow config(s) loaded by %s are reported as warnings of that file: %s",
                      len(errors), loader_file, why)
        for name, error in errors.items():
            log.error("Invalid workflow config %s:\n%s", name, error)
            warnings.warn(WorkflowConfigWarning(str(error)), stacklevel=3)
        return 0
    from airflow.dag_processing.importers import DagImportError

    for name, error in errors.items():
        first = error.issues[0] if error.issues else None
        result.errors.append(
            DagImportError(
                file_path=_bundle_key(paths[name], loader_file, result.file_path),
                message=f"{type(error).__name__}: invalid workflow config (loaded by {result.file_path})\n{error}",
                error_type="workflow_config",
                line_number=first.line if first else None,
            )
        )
    return len(errors)
