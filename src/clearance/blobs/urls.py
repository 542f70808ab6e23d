"""Blob stores named by URL: `file:///absolute/path` for a folder, `s3://bucket/prefix` for
S3-compatible object storage."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from clearance.blobs.base import BlobStore
from clearance.blobs.cache import DigestCache
from clearance.blobs.filesystem import FilesystemBlobStore
from clearance.errors import UsageError

ENDPOINT_VAR = "CLEARANCE_S3_ENDPOINT_URL"
FORMS = "file:///absolute/path or s3://bucket/prefix"
DEFAULT_REGION = "us-east-1"
# Looser than AWS's rules (S3-compatible servers differ) but never credentials or a port.
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,254}")


def open_blob_store(
    url: str,
    *,
    cache: DigestCache | None = None,
    endpoint_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> BlobStore:
    """The blob store at `url`; raises UsageError for anything but the accepted forms.

    For s3:// the endpoint is `endpoint_url`, else $CLEARANCE_S3_ENDPOINT_URL, else AWS; the
    region is $AWS_DEFAULT_REGION or $AWS_REGION (default us-east-1), read from `env`
    (default: the process environment); credentials come from boto3's usual chain.
    """
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise UsageError(f"{url!r} is not a blob store URL (no ?query or #fragment); give {FORMS}")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise UsageError(f"{url!r} is not an absolute file URL; give {FORMS}")
        return FilesystemBlobStore(Path(unquote(parts.path)), cache)
    if parts.scheme == "s3":
        if not _BUCKET.fullmatch(parts.netloc):
            raise UsageError(f"{url!r} does not name a bucket; give {FORMS}")
        env = os.environ if env is None else env
        client = s3_client(endpoint_url=endpoint_url or env.get(ENDPOINT_VAR) or None, env=env)
        from clearance.blobs.s3 import S3BlobStore

        return S3BlobStore(parts.netloc, unquote(parts.path), client, cache)
    raise UsageError(f"{url!r} is not a blob store URL; give {FORMS}")


def s3_client(
    *,
    endpoint_url: str | None = None,
    env: Mapping[str, str] | None = None,
    session: Any = None,
) -> Any:
    """A boto3 S3 client for `endpoint_url` (None: AWS itself), in the region `env` names.

    Credentials, retries and timeouts come from boto3's usual configuration chain, through
    `session` (a boto3 Session) if given, else a new one.
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise UsageError(
            "s3:// blob stores need boto3; install it with: pip install 'clearance[s3]'"
        ) from exc
    env = os.environ if env is None else env
    region = env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or DEFAULT_REGION
    config = Config(
        # The store sends the checksums it means; botocore's newer defaults add CRC32 headers
        # that some S3-compatible servers refuse.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        # S3-compatible servers are mostly reached by path (minio, ceph, moto on an IP).
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    try:
        session = session or boto3.session.Session()
        return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
    except ValueError as exc:
        raise UsageError(
            f"{endpoint_url!r} is not an S3 endpoint URL ({exc}); set {ENDPOINT_VAR} to "
            "something like https://minio.example.com:9000"
        ) from exc
