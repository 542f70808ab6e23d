"""Evidence blobs in S3-compatible object storage: `{prefix}/sha256/ab/<hex>`, written once.

A file is hashed and uploaded in the same read. One of at most a part is held in memory and
put under its name with its SHA-256, for the server to check. A bigger one goes part by part
to `{prefix}/tmp/<uuid>` and is copied under its name once the digest is known, so a name
never points at partial bytes. botocore's errors become StoreErrors that name the bucket and
endpoint and say what to do.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from clearance.blobs.base import StoredBlob
from clearance.blobs.cache import DigestCache
from clearance.blobs.hashing import CHUNK, PREFIX, Progress, check_digest, open_regular, stream
from clearance.errors import EvidenceError, IntegrityError, NotFoundError, StoreError, UsageError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MiB = 1 << 20
#: bytes held in memory and sent per request; S3 refuses parts under 5 MiB (except the last)
PART_SIZE = 8 * MiB
MIN_PART_SIZE = 5 * MiB
MAX_PARTS = 10_000
#: CopyObject copies at most 5 GiB; bigger blobs are copied in parts of COPY_PART bytes
COPY_MAX = 5 << 30
COPY_PART = 1 << 30
_BLOB_NAME = re.compile(r"([0-9a-f]{2})/([0-9a-f]{64})")
_MISSING = {"404", "NoSuchKey", "NotFound"}
#: how servers that cannot compute a checksum while copying say so
_UNSUPPORTED = {"NotImplemented", "InvalidArgument", "InvalidRequest"}
_DENIED = {
    "403",
    "AccessDenied",
    "AllAccessDisabled",
    "ExpiredToken",
    "Forbidden",
    "InvalidAccessKeyId",
    "InvalidToken",
    "SignatureDoesNotMatch",
}


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unchanged(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)


def part_size_for(size: int, part_size: int) -> int:
    """`part_size`, or more (in whole MiB) if `size` bytes would otherwise need more parts
    than S3 allows."""
    needed = -(-size // MAX_PARTS)
    return max(part_size, -(-needed // MiB) * MiB)


def _digest_of(reader: _ObjectReader, size: int) -> str:
    with reader:
        digest, _ = stream(reader, size)
    return digest


class S3BlobStore:
    """Content-addressed blobs in `bucket` under `prefix`, through a boto3 S3 `client`.

    `cache` avoids re-hashing unchanged files; `part_size` is the memory one upload holds.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str,
        client: Any,
        cache: DigestCache | None = None,
        *,
        part_size: int = PART_SIZE,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise UsageError(
                f"an S3 part size of {part_size} bytes is too small; S3 needs at least "
                f"{MIN_PART_SIZE} ({MIN_PART_SIZE // MiB} MiB)"
            )
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.cache = cache
        self.part_size = part_size
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._bucket_seen = False

    def _key(self, *parts: str) -> str:
        return "/".join(part for part in (self.prefix, *parts) if part)

    def key_of(self, digest: str) -> str:
        """The object key of the blob named `digest` (whether or not it exists)."""
        hexdigest = check_digest(digest)[len(PREFIX) :]
        return self._key("sha256", hexdigest[:2], hexdigest)

    # -- errors --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _calling(self, doing: str) -> Iterator[None]:
        """Turn botocore's errors raised while `doing` something into StoreErrors."""
        from botocore import exceptions as boto

        endpoint = self.client.meta.endpoint_url
        try:
            yield
        except boto.ClientError as exc:
            code = _code(exc)
            if code == "NoSuchBucket":
                raise self._no_bucket() from exc
            if code in _DENIED:
                raise StoreError(
                    f"access to {self.url} at {endpoint} was denied ({code}) while trying to "
                    f"{doing}; check the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE) and that "
                    "they may read and write the bucket"
                ) from exc
            message = exc.response.get("Error", {}).get("Message", "")
            raise StoreError(
                f"the object store at {endpoint} refused to {doing} in {self.url} "
                f"({code}: {message}); check the bucket and try again"
            ) from exc
        except (boto.ConnectionError, boto.HTTPClientError) as exc:
            raise StoreError(
                f"cannot reach the object store at {endpoint} to {doing} in {self.url} ({exc}); "
                "check the endpoint (CLEARANCE_S3_ENDPOINT_URL) and that the server is running"
            ) from exc
        except (
            boto.NoCredentialsError,
            boto.PartialCredentialsError,
            boto.CredentialRetrievalError,
        ) as exc:
            raise StoreError(
                f"no usable S3 credentials to {doing} in {self.url} ({exc}); set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
            ) from exc
        except boto.BotoCoreError as exc:
            raise StoreError(
                f"cannot {doing} in {self.url} at {endpoint}: {exc}; check the blob store "
                "settings and try again"
            ) from exc

    def _no_bucket(self) -> StoreError:
        return StoreError(
            f"the bucket {self.bucket!r} does not exist at {self.client.meta.endpoint_url}; "
            f"create it, or correct the blob store URL ({self.url})"
        )

    def _check_bucket(self) -> None:
        """Raise StoreError unless the bucket exists; HEAD answers a bare 404 for a missing
        object and a missing bucket alike, so a 404 is only trusted once this has passed."""
        if self._bucket_seen:
            return
        from botocore.exceptions import ClientError

        with self._calling("look up the bucket"):
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if _code(exc) in _MISSING | {"NoSuchBucket"}:
                    raise self._no_bucket() from exc
                raise
        self._bucket_seen = True

    # -- reading -------------------------------------------------------------------------

    def _exists_key(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        with self._calling(f"look up {key}"):
            try:
                self.client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _code(exc) not in _MISSING:
                    raise
                self._check_bucket()
                return False
        return True

    def exists(self, digest: str) -> bool:
        return self._exists_key(self.key_of(digest))

    def _get(self, digest: str) -> tuple[_ObjectReader, int]:
        from botocore.exceptions import ClientError

        key = self.key_of(digest)
        with self._calling(f"read blob {digest}"):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    raise NotFoundError(
                        f"no blob {digest} in {self.url}; attach the evidence again"
                    ) from exc
                raise
        reader = _ObjectReader(response["Body"], lambda: self._calling(f"read blob {digest}"))
        return reader, int(response.get("ContentLength", 0))

    def open(self, digest: str) -> BinaryIO:
        """The blob's bytes, streamed from the object store."""
        reader, _ = self._get(digest)
        return io.BufferedReader(reader, buffer_size=CHUNK)

    def verify(self) -> list[str]:
        """Re-hash every blob; describe each one that is unreadable or not what it is named.

        Objects under `{prefix}/tmp/` are unfinished writes, not blobs, and are not looked at.
        """
        blobs = self._key("sha256") + "/"
        problems: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        with self._calling("list the blobs"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=blobs):
                for entry in page.get("Contents", []):
                    problem = self._check(entry["Key"], entry["Key"][len(blobs) :])
                    if problem:
                        problems.append(problem)
        return problems

    def _check(self, key: str, name: str) -> str | None:
        match = _BLOB_NAME.fullmatch(name)
        if match is None or match[2][:2] != match[1]:
            return f"s3://{self.bucket}/{key}: not a blob (unexpected name in the blob store)"
        digest = PREFIX + match[2]
        try:
            reader, size = self._get(digest)
        except NotFoundError as exc:  # removed between listing and reading
            return f"{digest}: unreadable ({exc})"
        try:
            actual = _digest_of(reader, size)
        except StoreError as exc:  # the body broke off; the store itself answered
            return f"{digest}: unreadable ({exc})"
        if actual != digest:
            return f"{digest}: content does not match its name (it hashes to {actual})"
        return None

    def verify_one(self, digest: str) -> bool:
        """Whether the blob exists and its content still matches its name.

        StoreError if the store cannot be asked; a body that breaks off counts as not intact.
        """
        try:
            reader, size = self._get(digest)
        except NotFoundError:
            return False
        try:
            return _digest_of(reader, size) == digest
        except StoreError:
            return False

    # -- writing -------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> StoredBlob:
        digest = PREFIX + hashlib.sha256(data).hexdigest()
        with _Upload(self, len(data)) as upload:
            upload.write(memoryview(data))
            upload.finish(digest)
        return StoredBlob(digest, len(data))

    def put_file(
        self, path: str | os.PathLike[str], *, progress: Progress | None = None
    ) -> StoredBlob:
        """Store a copy of the file, hashing and uploading it in one pass.

        If the cache knows the file unchanged and its blob exists, nothing is read.
        """
        source_path = Path(path)
        if self.cache is not None:
            blob = self._cached(self.cache, source_path, progress)
            if blob is not None:
                return blob
        started = time.time_ns()
        with open_regular(source_path) as source:
            before = os.fstat(source.fileno())
            with _Upload(self, before.st_size) as upload:
                try:
                    digest, size = stream(
                        source, before.st_size, sink=upload.write, progress=progress
                    )
                except OSError as exc:
                    raise EvidenceError(
                        f"cannot read {source_path}: {exc.strerror or exc}"
                    ) from exc
                if size != before.st_size or not _unchanged(before, os.fstat(source.fileno())):
                    raise EvidenceError(
                        f"{source_path} changed while it was being stored; attach it again "
                        "once whatever writes it has finished"
                    )
                upload.finish(digest)
        if self.cache is not None:
            self.cache.put(source_path, before, digest, recorded_ns=started)
        return StoredBlob(digest, size)

    def put_files(self, paths: Sequence[str | os.PathLike[str]]) -> list[StoredBlob]:
        """Store many files, in order; same guarantees as `put_file`."""
        return [self.put_file(path) for path in paths]

    def _cached(
        self, cache: DigestCache, path: Path, progress: Progress | None
    ) -> StoredBlob | None:
        try:
            st = os.stat(path)
        except OSError:
            return None  # put_file reports the problem when it opens the file
        digest = cache.get(path, st)
        if digest is None or not self.exists(digest):
            return None
        if progress is not None:
            progress(st.st_size)
        return StoredBlob(digest, st.st_size)

    def remove_temp(self, older_than: float = 3600.0) -> int:
        """Delete unfinished writes left by crashed processes: temporary objects and multipart
        uploads started more than `older_than` seconds ago; return how many were removed."""
        from botocore.exceptions import ClientError

        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        temp = self._key("tmp") + "/"
        removed = 0
        with self._calling("remove unfinished uploads"):
            objects = self.client.get_paginator("list_objects_v2")
            for page in objects.paginate(Bucket=self.bucket, Prefix=temp):
                for entry in page.get("Contents", []):
                    if entry["LastModified"] < cutoff:
                        self.client.delete_object(Bucket=self.bucket, Key=entry["Key"])
                        removed += 1
            uploads = self.client.get_paginator("list_multipart_uploads")
            for prefix in (temp, self._key("sha256") + "/"):
                for page in uploads.paginate(Bucket=self.bucket, Prefix=prefix):
                    for upload in page.get("Uploads", []):
                        if upload["Initiated"] >= cutoff:
                            continue
                        try:
                            self.client.abort_multipart_upload(
                                Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                            )
                            removed += 1
                        except ClientError as exc:
                            if _code(exc) != "NoSuchUpload":  # else it ended meanwhile
                                raise
        return removed


class _Upload:
    """Bytes on their way into the store, as a context manager that cleans up after them.

    Bytes are held in memory up to one part. Only when more follow does a multipart upload to
    a temporary key start; leaving the `with` block aborts it unless it was finished.
    """

    def __init__(self, store: S3BlobStore, size_hint: int) -> None:
        self._store = store
        self._client = store.client
        self._part_size = part_size_for(size_hint, store.part_size)
        self._buffer = bytearray()
        self._size = 0
        self._temp = store._key("tmp", uuid.uuid4().hex)
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._completed = False

    def __enter__(self) -> _Upload:
        return self

    def __exit__(self, *exc: object) -> None:
        from botocore import exceptions as boto

        # The first error is the one to report; anything left behind is for remove_temp.
        with contextlib.suppress(boto.BotoCoreError, boto.ClientError):
            if self._completed:
                self._client.delete_object(Bucket=self._store.bucket, Key=self._temp)
            elif self._upload_id is not None:
                self._client.abort_multipart_upload(
                    Bucket=self._store.bucket, Key=self._temp, UploadId=self._upload_id
                )

    def write(self, chunk: memoryview) -> None:
        """Take the next bytes (a `hashing.Sink`); sends a part each time one is full."""
        self._size += len(chunk)
        while chunk:
            if len(self._buffer) == self._part_size:
                self._send_part()
            room = self._part_size - len(self._buffer)
            self._buffer += chunk[:room]
            chunk = chunk[room:]

    def _send_part(self) -> None:
        bucket = self._store.bucket
        with self._store._calling("upload a part"):
            if self._upload_id is None:
                started = self._client.create_multipart_upload(Bucket=bucket, Key=self._temp)
                self._upload_id = started["UploadId"]
            number = len(self._parts) + 1
            response = self._client.upload_part(
                Bucket=bucket,
                Key=self._temp,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=self._buffer,
            )
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})
        self._buffer = bytearray()

    def finish(self, digest: str) -> None:
        """Store the bytes written under `digest`, unless that blob exists already."""
        key = self._store.key_of(digest)
        if self._store._exists_key(key):
            return  # the same bytes are stored; __exit__ aborts the upload, if any
        sha256 = _b64(bytes.fromhex(digest[len(PREFIX) :]))
        if self._upload_id is None:
            md5 = hashlib.md5(self._buffer, usedforsecurity=False).digest()
            with self._store._calling(f"store blob {digest}"):
                self._client.put_object(
                    Bucket=self._store.bucket,
                    Key=key,
                    Body=self._buffer,
                    ChecksumSHA256=sha256,
                    ContentMD5=_b64(md5),
                )
            return
        self._send_part()
        with self._store._calling(f"store blob {digest}"):
            self._client.complete_multipart_upload(
                Bucket=self._store.bucket,
                Key=self._temp,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
            self._completed = True
            if self._size > COPY_MAX:
                self._copy_in_parts(key)
            else:
                self._copy(key, digest, sha256)

    def _copy(self, key: str, digest: str, sha256: str) -> None:
        """Copy the temporary object under its name, asking the server for its SHA-256."""
        from botocore.exceptions import ClientError

        bucket = self._store.bucket
        copy = {"Bucket": bucket, "Key": key, "CopySource": {"Bucket": bucket, "Key": self._temp}}
        try:
            response = self._client.copy_object(**copy, ChecksumAlgorithm="SHA256")
        except ClientError as exc:
            if _code(exc) not in _UNSUPPORTED:
                raise
            response = self._client.copy_object(**copy)  # unchecked here; verify() checks it
        reported = response.get("CopyObjectResult", {}).get("ChecksumSHA256")
        if reported is not None and reported != sha256:
            # Not what was hashed: the bytes were damaged on the way. Remove them rather than
            # leave a name that lies.
            self._client.delete_object(Bucket=bucket, Key=key)
            actual = PREFIX + base64.b64decode(reported).hex()
            raise IntegrityError(
                f"the object store received bytes hashing to {actual} while storing {digest}; "
                "nothing was stored, attach the evidence again",
                failures=[digest],
            )

    def _copy_in_parts(self, key: str) -> None:
        """Copy part by part (CopyObject stops at 5 GiB); servers report no whole-object
        SHA-256 for such copies, so only verify() checks them."""
        bucket = self._store.bucket
        source = {"Bucket": bucket, "Key": self._temp}
        upload_id = self._client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, self._size, COPY_PART), start=1):
                end = min(start + COPY_PART, self._size) - 1
                response = self._client.upload_part_copy(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=source,
                    CopySourceRange=f"bytes={start}-{end}",
                )
                parts.append({"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]})
            self._client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            with contextlib.suppress(Exception):
                self._client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise


class _ObjectReader(io.RawIOBase):
    """An object's body as a raw binary stream: `readinto`, `readall`, `close`."""

    def __init__(self, body: Any, calling: Callable[[], contextlib.AbstractContextManager[None]]):
        super().__init__()
        self._body = body
        self._calling = calling

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        with memoryview(buffer) as view, view.cast("B") as target:
            with self._calling():
                data = self._body.read(len(target))
            target[: len(data)] = data
            return len(data)

    def readall(self) -> bytes:
        chunks = []
        with self._calling():
            while chunk := self._body.read(CHUNK):
                chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()
