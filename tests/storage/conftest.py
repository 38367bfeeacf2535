"""tests/storage use the S3-compatible stand-in (moto in server mode on 127.0.0.1)."""

from tests.storage.fixtures import s3_config, s3_server  # noqa: F401
