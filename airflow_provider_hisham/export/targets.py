"""The names a ``repo_creation`` or ``pull_request`` step's ``target`` may take, in one place.

Why: the step registry (config schemas, checked at parse time without importing an operator or
Airflow), the operators (``repo_creation.HOSTS``, which hook a target reaches) and the archive
formats must agree; each reads its names from here, and a test fails if ``HOSTS`` drifts.
Plain constants with no imports, so the registry stays cheap to import.
"""

from __future__ import annotations

#: repository hosts with an API (``export.host.RepositoryHost``): the keys of ``repo_creation.HOSTS``
HOST_TARGETS: tuple[str, ...] = ("github", "gitlab")
#: a generic git remote (``git_url``): push only, no API
GIT_TARGET = "git"
#: archive formats (``export.archive.FORMATS``)
ARCHIVE_TARGETS: tuple[str, ...] = ("zip", "tar.gz")

#: what ``repo_creation`` publishes to beside the hosts
REPO_CREATION_OTHERS: tuple[str, ...] = (GIT_TARGET, *ARCHIVE_TARGETS)
#: what ``pull_request`` proposes on beside the hosts (an archive has no branches)
PULL_REQUEST_OTHERS: tuple[str, ...] = (GIT_TARGET,)

REPO_CREATION_TARGETS: tuple[str, ...] = (*HOST_TARGETS, *REPO_CREATION_OTHERS)
PULL_REQUEST_TARGETS: tuple[str, ...] = (*HOST_TARGETS, *PULL_REQUEST_OTHERS)
