"""Fixtures of the observability tests."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_hisham.observability.audit import LOGGER_NAME


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def audit_lines():
    """The JSON lines the audit logger wrote during the test."""
    handler, logger = Collect(), logging.getLogger(LOGGER_NAME)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(old_level)
