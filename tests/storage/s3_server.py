"""An S3-compatible server on 127.0.0.1 for the storage tests: ``moto`` in server mode.

In-process (a thread: stops with the test process) or, for the benchmark and the e2e stack, a
child process that exits when its parent does. Credentials are moto's dummies, sent only there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import requests

KEY, SECRET, REGION = "hisham-test-key", "hisham-test-secret", "us-east-1"

_CHILD = """
import os, sys, threading, time
import logging
logging.getLogger("werkzeug").setLevel(logging.WARNING)
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
parent = int(sys.argv[1])
while os.getppid() == parent:
    time.sleep(0.5)
"""


class MotoS3:
    """``with MotoS3() as s3: s3.bucket() ...``; ``process=True`` runs it in a child process."""

    def __init__(self, *, process: bool = False) -> None:
        self.process = process
        self._server = None
        self._proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> "MotoS3":
        if self.process:
            self._proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(os.getpid())], stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
            self.port = int(self._proc.stdout.readline())
        else:
            from moto.server import ThreadedMotoServer

            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
            self.port = self._server.get_host_and_port()[1]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.endpoint, timeout=2)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("moto server did not answer")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None

    def __enter__(self) -> "MotoS3":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fs(self, endpoint: str | None = None):
        """A fresh ``s3fs.S3FileSystem`` on this server (no instance cache: tests stop servers)."""
        import s3fs

        return s3fs.S3FileSystem(key=KEY, secret=SECRET, endpoint_url=endpoint or self.endpoint,
                                 client_kwargs={"region_name": REGION}, skip_instance_cache=True,
                                 config_kwargs={"retries": {"max_attempts": 1}, "connect_timeout": 2, "read_timeout": 10})

    def bucket(self, prefix: str = "hisham") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                     region_name=REGION).create_bucket(Bucket=name)
        return name

    def connection(self) -> str:
        """An ``aws`` connection (JSON for ``AIRFLOW_CONN_*``) pointing at this server."""
        return json.dumps({"conn_type": "aws", "login": KEY, "password": SECRET,
                           "extra": {"endpoint_url": self.endpoint, "region_name": REGION}})
