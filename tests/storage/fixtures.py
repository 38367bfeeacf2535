"""Fixtures of the S3-compatible stand-in; import them where they are used
(``from tests.storage.fixtures import s3_server, s3_config  # noqa: F401``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.storage.s3_server import MotoS3


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoS3]:
    """moto in server mode on 127.0.0.1, in this process (stops with it)."""
    with MotoS3() as server:
        yield server


@pytest.fixture
def s3_config(s3_server: MotoS3, monkeypatch: pytest.MonkeyPatch) -> str:
    """``[hisham] storage_url`` on a fresh bucket of the moto server, through an aws connection; the bucket."""
    bucket = s3_server.bucket()
    conn_id = f"hisham_s3_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", s3_server.connection())
    monkeypatch.setenv("AIRFLOW__HISHAM__STORAGE_URL", f"s3://{bucket}/hisham")
    monkeypatch.setenv("AIRFLOW__HISHAM__STORAGE_CONN_ID", conn_id)
    return bucket
