"""Fixtures of the fault suite: the results log and the repository stand-ins."""

from tests.faults.results import fault_log  # noqa: F401 - fixture
from tests.servers.repo_fixtures import *  # noqa: F403 - fixtures
from tests.export.fixtures import github_conn, gitlab_conn  # noqa: F401 - with git_host
