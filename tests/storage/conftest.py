"""The S3-compatible stand-in (moto in server mode on 127.0.0.1) for tests/storage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.storage.s3_server import MotoS3


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoS3]:
    with MotoS3() as server:
        yield server
