"""Operator extra link that opens the repository a ``HishamOSRepoCreationOperator`` task created or pushed to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.sdk import BaseOperator


ARCHIVE_SCHEMES = ("https://", "http://", "s3://", "gs://", "gcs://", "abfs://", "az://")


class RepositoryLink(BaseOperatorLink):
    """"Repository": the ``url`` of the task's XCom result, else its ``archive_url`` (an archive on
    object storage), else empty (a local archive, or before it ran)."""

    name = "Repository"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        result = XCom.get_value(ti_key=ti_key, key="return_value")
        url = result.get("url") if isinstance(result, dict) else None
        if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            url = result.get("archive_url") if isinstance(result, dict) else None  # an archive on object storage
            return url if isinstance(url, str) and url.startswith(ARCHIVE_SCHEMES) else ""
        return url
