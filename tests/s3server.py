"""An S3 server for the tests: moto's server mode on loopback, started once per test process.

Import the fixtures into the conftest.py of a test folder (as tests/blobs/conftest.py does):

    from tests.s3server import s3_bucket, s3_endpoint, s3_environment, s3_session  # noqa: F401

`s3_endpoint` is the server's URL and `s3_session` a boto3 session with dummy credentials, both
for the whole run; `s3_environment` sets dummy credentials and clears any real AWS
configuration for one test; `s3_bucket` is a new, empty bucket per test.
The server lists at most LIST_PAGE keys per request, so that paging is exercised by a few
objects; otherwise it behaves like S3 (parts of at least 5 MiB, and so on).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

LIST_PAGE = 3
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/moto-api/")
        return connection.getresponse().status < 500
    except OSError:
        return False
    finally:
        connection.close()


class MotoServer:
    """A `moto.server` subprocess on 127.0.0.1; its log goes to a file, read if it fails."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "MOTO_S3_DEFAULT_MAX_KEYS": str(LIST_PAGE)}
        for _ in range(3):  # another process may take the free port before the server does
            port = free_port()
            with self.log.open("wb") as log:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            deadline = time.monotonic() + START_TIMEOUT
            while self._process.poll() is None and time.monotonic() < deadline:
                if _answers(port):
                    self.url = f"http://127.0.0.1:{port}"
                    return
                time.sleep(0.05)
            self.stop()
        lines = self.log.read_text(errors="replace").strip().splitlines()
        raise RuntimeError(f"moto's S3 server did not start: {lines[-1] if lines else 'no output'}")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server on loopback, stopped at the end of the run."""
    with tempfile.TemporaryDirectory(prefix="clearance-moto-") as folder:
        server = MotoServer(Path(folder) / "server.log")
        server.start()
        try:
            yield server.url
        finally:
            server.stop()


@pytest.fixture
def s3_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials, one attempt per request, and no real AWS configuration."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name == "CLEARANCE_S3_ENDPOINT_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # A failing request fails at once instead of after retries with backoff.
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


@pytest.fixture(scope="session")
def s3_session() -> Any:
    """A boto3 session with dummy credentials; one for the run, as each new session parses
    botocore's service models again (a tenth of a second)."""
    import boto3

    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )


@pytest.fixture
def s3_bucket(s3_endpoint: str, s3_session: Any) -> Iterator[str]:
    """The name of a new, empty bucket on the test server, deleted after the test."""
    from clearance.blobs.urls import s3_client

    client = s3_client(endpoint_url=s3_endpoint, session=s3_session)
    name = f"clearance-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    yield name
    with contextlib.suppress(Exception):  # cleaning up; the server is thrown away anyway
        _empty(client, name)
        client.delete_bucket(Bucket=name)


def _empty(client: Any, bucket: str) -> None:
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            client.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=entry["Key"])
