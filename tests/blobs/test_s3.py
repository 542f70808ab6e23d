"""The S3 blob store against moto's S3 server: the BlobStore protocol, run on both stores, then
what only object storage has (keys, parts, copies, endpoint errors), and blob stores by URL."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from tests.s3server import free_port

from clearance.blobs import (
    BlobStore,
    DigestCache,
    FilesystemBlobStore,
    S3BlobStore,
    file_digest,
    open_blob_store,
)
from clearance.blobs import hashing as hashing_module
from clearance.blobs import s3 as s3_module
from clearance.blobs.urls import FORMS, s3_client
from clearance.errors import (
    EvidenceError,
    IntegrityError,
    NotFoundError,
    StoreError,
    UsageError,
)

MiB = 1 << 20
#: the smallest part S3 (and moto) accept, so that multipart files stay small
PART = s3_module.MIN_PART_SIZE
HOUR_AGO_NS = time.time_ns() - 3600 * 1_000_000_000


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_old(path: Path, data: bytes) -> Path:
    """Write a file whose mtime is an hour old, so the cache trusts it (it is not racy)."""
    path.write_bytes(data)
    os.utime(path, ns=(HOUR_AGO_NS, HOUR_AGO_NS))
    return path


def keys(client: Any, bucket: str, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [entry["Key"] for page in pages for entry in page.get("Contents", [])]


def blob_count(store: BlobStore) -> int:
    if isinstance(store, FilesystemBlobStore):
        return sum(p.is_file() for p in (store.root / "sha256").rglob("*"))
    assert isinstance(store, S3BlobStore)
    return len(keys(store.client, store.bucket, "evidence/sha256/"))


def leftovers(store: BlobStore) -> list[str]:
    """Unfinished writes: files in root/tmp, or temporary objects and multipart uploads."""
    if isinstance(store, FilesystemBlobStore):
        tmp = store.root / "tmp"
        return sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []
    assert isinstance(store, S3BlobStore)
    uploads = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    return keys(store.client, store.bucket, "evidence/tmp/") + [u["Key"] for u in uploads]


class Calls:
    """The S3 operations a client makes, with the key of each, seen through botocore's events."""

    def __init__(self, client: Any) -> None:
        self.seen: list[tuple[str, str | None]] = []
        client.meta.events.register("provide-client-params.s3", self._record)

    def _record(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        self.seen.append((model.name, params.get("Key")))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.seen]


@pytest.fixture
def client(s3_endpoint: str, s3_session: Any, s3_environment: None) -> Any:
    """A client to the test server, configured as `open_blob_store` configures its own."""
    return s3_client(endpoint_url=s3_endpoint, session=s3_session)


@pytest.fixture
def s3_store(s3_bucket: str, client: Any, tmp_path: Path) -> S3BlobStore:
    cache = DigestCache(tmp_path / "cache.sqlite")
    return S3BlobStore(s3_bucket, "evidence", client, cache, part_size=PART)


@pytest.fixture(params=["filesystem", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """Each protocol test runs on the filesystem store and on the S3 store."""
    if request.param == "filesystem":
        return FilesystemBlobStore(tmp_path / "blobs", DigestCache(tmp_path / "d.sqlite"))
    store: S3BlobStore = request.getfixturevalue("s3_store")
    return store


@pytest.fixture(params=["small", "parts"])
def payload(request: pytest.FixtureRequest) -> bytes:
    """Small files go in one request; bigger ones in three parts (and the threaded hasher)."""
    return os.urandom(1000 if request.param == "small" else 2 * PART + 12345)


# -- the protocol, on both stores ---------------------------------------------------------


def test_put_file_round_trips_and_names_blob_by_sha256(
    store: BlobStore, tmp_path: Path, payload: bytes
) -> None:
    source = tmp_path / "model.onnx"
    source.write_bytes(payload)
    blob = store.put_file(source)
    assert blob.digest == sha(payload) == file_digest(source)
    assert blob.size == len(payload)
    with store.open(blob.digest) as stored:
        assert stored.read() == payload
    assert store.exists(blob.digest)
    assert store.verify_one(blob.digest)
    assert leftovers(store) == []


def test_put_bytes_round_trips_and_dedupes(store: BlobStore) -> None:
    first = store.put_bytes(b'{"auc": 0.91}')
    second = store.put_bytes(b'{"auc": 0.91}')
    assert first == second
    with store.open(first.digest) as stored:
        assert stored.read() == b'{"auc": 0.91}'
    assert blob_count(store) == 1
    assert leftovers(store) == []


def test_empty_blob_round_trips(store: BlobStore, tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    assert store.put_file(tmp_path / "empty") == store.put_bytes(b"")
    with store.open(sha(b"")) as stored:
        assert stored.read() == b""


def test_same_content_from_two_files_is_stored_once(store: BlobStore, tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(b"same")
    (tmp_path / "b.json").write_bytes(b"same")
    assert store.put_file(tmp_path / "a.json") == store.put_file(tmp_path / "b.json")
    assert blob_count(store) == 1
    assert leftovers(store) == []


def test_put_files_returns_blobs_in_order(store: BlobStore, tmp_path: Path) -> None:
    contents = [b"one", b"two", b"one", b"three"]
    paths = [write_old(tmp_path / f"f{i}", data) for i, data in enumerate(contents)]
    blobs = store.put_files(paths)
    assert [blob.digest for blob in blobs] == [sha(data) for data in contents]
    assert store.put_files(paths) == blobs
    assert blob_count(store) == 3


def test_cache_hit_returns_cached_digest_without_reading_the_file(
    store: BlobStore, tmp_path: Path
) -> None:
    """Rewriting the bytes but restoring size, inode and mtime is invisible: the file was not
    hashed again (a re-hash would have given the new digest)."""
    source = write_old(tmp_path / "weights.bin", b"A" * 4096)
    original = store.put_file(source)
    before = os.stat(source)
    with open(source, "r+b") as f:
        f.write(b"B" * 4096)
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    seen: list[int] = []
    assert store.put_file(source, progress=seen.append) == original
    assert seen == [4096]


def test_progress_is_called_with_bytes_done_per_chunk(
    store: BlobStore, tmp_path: Path, payload: bytes
) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(payload)
    seen: list[int] = []
    store.put_file(source, progress=seen.append)
    digest_seen: list[int] = []
    file_digest(source, progress=digest_seen.append)
    assert seen == digest_seen
    assert len(seen) == -(-len(payload) // hashing_module.CHUNK)


def test_failure_midway_leaves_no_blob_and_no_temp(
    store: BlobStore, tmp_path: Path, payload: bytes
) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(payload)

    def crash(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.put_file(source, progress=crash)
    assert not store.exists(sha(payload))
    assert leftovers(store) == []
    assert store.verify() == []


def test_source_changing_while_stored_is_refused(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "growing.log"
    source.write_bytes(b"x" * 10)

    def append_once(done: int) -> None:
        if done == 10:
            with open(source, "ab") as f:
                f.write(b"more")

    with pytest.raises(EvidenceError, match="changed while it was being stored"):
        store.put_file(source, progress=append_once)
    assert blob_count(store) == 0
    assert leftovers(store) == []


def test_missing_or_special_source_is_evidence_error(store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="cannot read"):
        store.put_file(tmp_path / "absent.json")
    with pytest.raises(EvidenceError, match=str(tmp_path)):
        store.put_file(tmp_path)  # a directory
    assert leftovers(store) == []


@pytest.mark.parametrize(
    "digest", ["sha256:" + "A" * 64, "sha256:" + "a" * 63, "a" * 64, "sha256:../../etc/passwd"]
)
def test_invalid_digest_is_refused(store: BlobStore, digest: str) -> None:
    for call in (store.exists, store.open, store.verify_one):
        with pytest.raises(EvidenceError, match="is not a blob digest"):
            call(digest)


def test_open_missing_blob_is_not_found(store: BlobStore) -> None:
    with pytest.raises(NotFoundError, match=r"no blob sha256:0{64}"):
        store.open("sha256:" + "0" * 64)
    assert not store.exists("sha256:" + "0" * 64)
    assert not store.verify_one("sha256:" + "0" * 64)


def test_verify_of_clean_store_finds_nothing(store: BlobStore) -> None:
    assert store.verify() == []
    for i in range(4):
        store.put_bytes(b"blob %d" % i)
    assert store.verify() == []
    assert store.remove_temp() == 0


# -- what only the S3 store has -------------------------------------------------------------


def test_blob_key_is_prefix_sha256_shard_hex(s3_store: S3BlobStore, client: Any) -> None:
    blob = s3_store.put_bytes(b"content")
    hexdigest = blob.digest.removeprefix("sha256:")
    assert keys(client, s3_store.bucket, "") == [f"evidence/sha256/{hexdigest[:2]}/{hexdigest}"]
    assert s3_store.key_of(blob.digest) == f"evidence/sha256/{hexdigest[:2]}/{hexdigest}"


def test_small_blob_is_put_under_its_name_with_checksums(
    s3_store: S3BlobStore, client: Any, tmp_path: Path
) -> None:
    """One PUT straight to the final key, carrying the SHA-256 and MD5 for the server to check."""
    headers: list[dict[str, str]] = []

    def record(request: Any, **_: Any) -> None:
        headers.append(
            {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        )

    client.meta.events.register("before-send.s3.PutObject", record)
    calls = Calls(client)
    data = os.urandom(PART)  # exactly one part still goes in one request
    blob = s3_store.put_file(write_old(tmp_path / "one-part.bin", data))
    # A missing blob is trusted to be missing once the bucket is known to exist.
    assert calls.names == ["HeadObject", "HeadBucket", "PutObject"]
    assert calls.seen[-1][1] == s3_store.key_of(blob.digest)
    assert (
        headers[0]["x-amz-checksum-sha256"]
        == base64.b64encode(hashlib.sha256(data).digest()).decode()
    )
    assert headers[0]["Content-MD5"] == base64.b64encode(hashlib.md5(data).digest()).decode()


def test_big_file_goes_in_parts_to_a_temporary_key_then_is_copied(
    s3_store: S3BlobStore, client: Any, tmp_path: Path
) -> None:
    calls = Calls(client)
    blob = s3_store.put_file(write_old(tmp_path / "big.bin", os.urandom(2 * PART + 1)))
    temp = calls.seen[0][1]
    assert temp is not None and temp.startswith("evidence/tmp/")
    assert calls.seen == [
        ("CreateMultipartUpload", temp),
        ("UploadPart", temp),
        ("UploadPart", temp),
        ("HeadObject", s3_store.key_of(blob.digest)),
        ("HeadBucket", None),
        ("UploadPart", temp),
        ("CompleteMultipartUpload", temp),
        ("CopyObject", s3_store.key_of(blob.digest)),
        ("DeleteObject", temp),
    ]
    assert leftovers(s3_store) == []


def test_existing_blob_is_not_uploaded_again(
    s3_store: S3BlobStore, client: Any, tmp_path: Path
) -> None:
    """Known from the cache: one HEAD. Hashed again: the parts are dropped, never completed."""
    data = os.urandom(PART + 1)
    source = write_old(tmp_path / "big.bin", data)
    s3_store.put_file(source)
    s3_store.put_bytes(b"small")
    calls = Calls(client)
    s3_store.put_file(source)
    assert calls.names == ["HeadObject"]
    calls.seen.clear()
    s3_store.put_bytes(b"small")
    assert calls.names == ["HeadObject"]
    calls.seen.clear()
    s3_store.put_file(write_old(tmp_path / "copy.bin", data))
    assert "CompleteMultipartUpload" not in calls.names and "CopyObject" not in calls.names
    assert calls.names[-1] == "AbortMultipartUpload"
    assert blob_count(s3_store) == 2
    assert leftovers(s3_store) == []


def test_cache_is_not_used_when_the_blob_is_gone(
    s3_store: S3BlobStore, client: Any, tmp_path: Path
) -> None:
    source = write_old(tmp_path / "weights.bin", b"payload")
    blob = s3_store.put_file(source)
    client.delete_object(Bucket=s3_store.bucket, Key=s3_store.key_of(blob.digest))
    assert s3_store.put_file(source) == blob
    assert s3_store.verify_one(blob.digest)


def test_failing_part_upload_aborts_and_leaves_nothing(
    s3_store: S3BlobStore, client: Any, tmp_path: Path
) -> None:
    parts: list[int] = []

    def fail_second_part(**_: Any) -> None:
        parts.append(1)
        if len(parts) == 2:
            error = {"Error": {"Code": "InternalError", "Message": "We encountered an error"}}
            raise ClientError(error, "UploadPart")

    client.meta.events.register("before-call.s3.UploadPart", fail_second_part)
    data = os.urandom(2 * PART + 1)
    with pytest.raises(StoreError, match="InternalError: We encountered an error"):
        s3_store.put_file(write_old(tmp_path / "big.bin", data))
    assert not s3_store.exists(sha(data))
    assert leftovers(s3_store) == []


def test_interruption_after_parts_were_sent_aborts_the_upload(
    s3_store: S3BlobStore, client: Any, tmp_path: Path
) -> None:
    """Hashing runs at most hashing.BUFFERS chunks ahead of the upload, so by 13 MiB hashed at
    least one part has gone out; the upload is aborted all the same."""
    calls = Calls(client)
    data = os.urandom(3 * PART)

    def interrupt(done: int) -> None:
        if done >= PART + (hashing_module.BUFFERS + 2) * MiB:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        s3_store.put_file(write_old(tmp_path / "big.bin", data), progress=interrupt)
    assert "UploadPart" in calls.names and calls.names[-1] == "AbortMultipartUpload"
    assert leftovers(s3_store) == []
    assert not s3_store.exists(sha(data))


def test_bytes_damaged_on_the_way_are_not_kept(
    s3_store: S3BlobStore, client: Any, tmp_path: Path
) -> None:
    """When the server's SHA-256 of the copy is not the digest, the copy is removed."""
    wrong = base64.b64encode(hashlib.sha256(b"other bytes").digest()).decode()

    def damage(parsed: dict[str, Any], **_: Any) -> None:
        parsed["CopyObjectResult"]["ChecksumSHA256"] = wrong

    client.meta.events.register("after-call.s3.CopyObject", damage)
    data = os.urandom(PART + 1)
    with pytest.raises(IntegrityError, match=sha(b"other bytes")) as caught:
        s3_store.put_file(write_old(tmp_path / "big.bin", data))
    assert caught.value.failures == [sha(data)]
    assert not s3_store.exists(sha(data))
    assert leftovers(s3_store) == []


def test_server_that_cannot_checksum_a_copy_gets_a_plain_copy(
    s3_store: S3BlobStore, client: Any, tmp_path: Path
) -> None:
    with_checksum: list[bool] = []

    def refuse_checksums(params: dict[str, Any], **_: Any) -> None:
        with_checksum.append("ChecksumAlgorithm" in params)
        if with_checksum[-1]:
            error = {"Error": {"Code": "NotImplemented", "Message": "not implemented"}}
            raise ClientError(error, "CopyObject")

    client.meta.events.register("provide-client-params.s3.CopyObject", refuse_checksums)
    blob = s3_store.put_file(write_old(tmp_path / "big.bin", os.urandom(PART + 1)))
    assert with_checksum == [True, False]
    assert s3_store.verify_one(blob.digest)
    assert leftovers(s3_store) == []


def test_blob_over_the_copy_limit_is_copied_in_parts(
    s3_store: S3BlobStore, client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "COPY_MAX", PART)
    monkeypatch.setattr(s3_module, "COPY_PART", PART)
    calls = Calls(client)
    data = os.urandom(2 * PART + 1)
    blob = s3_store.put_file(write_old(tmp_path / "huge.bin", data))
    assert calls.names.count("UploadPartCopy") == 3
    assert "CopyObject" not in calls.names
    with s3_store.open(blob.digest) as stored:
        assert stored.read() == data
    assert leftovers(s3_store) == []


def test_failing_copy_in_parts_is_aborted(
    s3_store: S3BlobStore, client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "COPY_MAX", PART)
    monkeypatch.setattr(s3_module, "COPY_PART", PART)

    def fail(**_: Any) -> None:
        error = {"Error": {"Code": "InternalError", "Message": "copy failed"}}
        raise ClientError(error, "UploadPartCopy")

    client.meta.events.register("before-call.s3.UploadPartCopy", fail)
    data = os.urandom(2 * PART + 1)
    with pytest.raises(StoreError, match="InternalError: copy failed"):
        s3_store.put_file(write_old(tmp_path / "huge.bin", data))
    assert not s3_store.exists(sha(data))
    assert leftovers(s3_store) == []


def test_body_that_breaks_off_is_unreadable(s3_store: S3BlobStore, client: Any) -> None:
    """A connection lost mid-body: open() raises StoreError, verify reports it, verify_one
    says not intact."""
    blob = s3_store.put_bytes(b"x" * 100)

    def truncate(parsed: dict[str, Any], **_: Any) -> None:
        parsed["Body"] = StreamingBody(io.BytesIO(b"x" * 40), 100)

    client.meta.events.register("after-call.s3.GetObject", truncate)
    with (
        pytest.raises(StoreError, match=f"cannot read blob {blob.digest} in s3://"),
        s3_store.open(blob.digest) as stored,
    ):
        stored.read()
    [problem] = s3_store.verify()
    assert problem.startswith(f"{blob.digest}: unreadable (cannot read blob")
    assert not s3_store.verify_one(blob.digest)


def test_open_gives_a_buffered_binary_stream(s3_store: S3BlobStore) -> None:
    blob = s3_store.put_bytes(b"0123456789" * 1000)
    with s3_store.open(blob.digest) as stored:
        assert isinstance(stored, io.BufferedReader)
        assert stored.read(4) == b"0123"
        buffer = bytearray(6)
        assert stored.readinto(buffer) == 6 and buffer == b"456789"
        assert len(stored.read()) == 9990
        assert stored.read() == b""
    assert stored.closed


def test_verify_reports_replaced_content_and_stray_keys(s3_store: S3BlobStore, client: Any) -> None:
    """Objects are listed page by page (three keys a page on the test server), and each one
    whose content or name is wrong is reported; temporary objects are not looked at."""
    blobs = sorted(s3_store.put_bytes(b"blob %d" % i).digest for i in range(5))
    bad = blobs[-1]  # the last key listed, on the last page
    client.put_object(Bucket=s3_store.bucket, Key=s3_store.key_of(bad), Body=b"tampered")
    misfiled = "evidence/sha256/zz/" + blobs[0].removeprefix("sha256:")
    client.put_object(Bucket=s3_store.bucket, Key=misfiled, Body=b"x")
    client.put_object(Bucket=s3_store.bucket, Key="evidence/tmp/unfinished", Body=b"half")
    problems = s3_store.verify()
    assert problems == [
        f"{bad}: content does not match its name (it hashes to {sha(b'tampered')})",
        f"s3://{s3_store.bucket}/{misfiled}: not a blob (unexpected name in the blob store)",
    ]
    assert not s3_store.verify_one(bad)
    assert all(s3_store.verify_one(digest) for digest in blobs[:-1])


def test_remove_temp_deletes_old_temp_objects_and_stale_uploads(
    s3_store: S3BlobStore, client: Any
) -> None:
    blob = s3_store.put_bytes(b"kept")
    bucket = s3_store.bucket
    client.put_object(Bucket=bucket, Key="evidence/tmp/crashed", Body=b"half a blob")
    assert s3_store.remove_temp(older_than=3600) == 0
    assert leftovers(s3_store) == ["evidence/tmp/crashed"]
    client.create_multipart_upload(Bucket=bucket, Key="evidence/tmp/crashed-upload")
    assert s3_store.remove_temp(older_than=0) == 2
    assert leftovers(s3_store) == []
    assert s3_store.exists(blob.digest)


def test_remove_temp_does_not_count_an_upload_that_ended_meanwhile(
    s3_store: S3BlobStore, client: Any
) -> None:
    """Another process may finish or abort an upload between listing and aborting."""
    key = "evidence/tmp/finishing"
    upload_id = client.create_multipart_upload(Bucket=s3_store.bucket, Key=key)["UploadId"]
    ended: list[str] = []

    def end_it_first(**_: Any) -> None:
        if not ended:
            ended.append(upload_id)
            client.abort_multipart_upload(Bucket=s3_store.bucket, Key=key, UploadId=upload_id)

    client.meta.events.register("before-call.s3.AbortMultipartUpload", end_it_first)
    assert s3_store.remove_temp(older_than=0) == 0
    assert ended == [upload_id]
    assert leftovers(s3_store) == []


def test_memory_stays_bounded_for_a_big_file(s3_bucket: str, client: Any, tmp_path: Path) -> None:
    """Storing and verifying a 64 MiB file holds about one part and the hashing buffers."""
    store = S3BlobStore(s3_bucket, "evidence", client)
    source = tmp_path / "weights.bin"
    with source.open("wb") as f:
        for _ in range(64):
            f.write(os.urandom(MiB))
    bound = s3_module.PART_SIZE + hashing_module.BUFFERS * hashing_module.CHUNK + 4 * MiB
    tracemalloc.start()
    try:
        blob = store.put_file(source)
        _, stored_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        assert store.verify_one(blob.digest)
        _, verify_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert blob.size == 64 * MiB
    assert stored_peak < bound, f"put_file peaked at {stored_peak / MiB:.1f} MiB"
    assert verify_peak < bound, f"verify_one peaked at {verify_peak / MiB:.1f} MiB"


@pytest.mark.parametrize(
    ("size", "part_size"),
    [
        (0, PART),
        (PART * s3_module.MAX_PARTS, PART),
        (PART * s3_module.MAX_PARTS + 1, PART + MiB),
        (5 << 40, 525 * MiB),  # S3's largest object
    ],
)
def test_parts_grow_so_that_no_file_needs_more_than_s3_allows(size: int, part_size: int) -> None:
    assert s3_module.part_size_for(size, PART) == part_size
    assert part_size * s3_module.MAX_PARTS >= size


def test_part_size_below_the_s3_minimum_is_refused(client: Any) -> None:
    with pytest.raises(UsageError, match="part size of 1048576 bytes is too small"):
        S3BlobStore("bucket", "evidence", client, part_size=MiB)


# -- errors from the object store -------------------------------------------------------------


def test_unreachable_endpoint_is_a_store_error(s3_environment: None) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    store = open_blob_store("s3://evidence-bucket/blobs", endpoint_url=endpoint)
    message = f"cannot reach the object store at {endpoint} to .* in s3://evidence-bucket/blobs"
    with pytest.raises(StoreError, match=message) as caught:
        store.exists(sha(b"x"))
    assert (caught.value.exit_code, caught.value.http_status) == (2, 503)
    assert "CLEARANCE_S3_ENDPOINT_URL" in caught.value.message
    with pytest.raises(StoreError, match="cannot reach"):
        store.put_bytes(b"x")


def test_unknown_bucket_is_a_store_error(client: Any, tmp_path: Path) -> None:
    store = S3BlobStore("no-such-bucket", "evidence", client)
    source = write_old(tmp_path / "f", b"x")
    calls: list[Any] = [
        lambda: store.exists(sha(b"x")),
        lambda: store.open(sha(b"x")),
        lambda: store.put_bytes(b"x"),
        lambda: store.put_file(source),
        store.verify,
        store.remove_temp,
    ]
    for call in calls:
        with pytest.raises(StoreError, match="the bucket 'no-such-bucket' does not exist at http"):
            call()


def test_access_denied_is_a_store_error(client: Any) -> None:
    store = S3BlobStore("locked-bucket", "evidence", client)
    with Stubber(client) as stub:
        stub.add_client_error("head_object", "AccessDenied", "Access Denied", 403)
        stub.add_client_error("get_object", "AccessDenied", "Access Denied", 403)
        stub.add_client_error("head_object", "404", "Not Found", 404)
        stub.add_client_error("head_bucket", "403", "Forbidden", 403)
        with pytest.raises(StoreError, match=r"access to s3://locked-bucket/evidence at .* denied"):
            store.exists(sha(b"x"))
        with pytest.raises(StoreError, match=r"denied \(AccessDenied\) while trying to read"):
            store.open(sha(b"x"))
        with pytest.raises(StoreError, match=r"denied \(403\) while trying to look up the bucket"):
            store.exists(sha(b"x"))


def test_other_refusals_name_the_code_and_message(client: Any) -> None:
    store = S3BlobStore("slow-bucket", "evidence", client)
    with Stubber(client) as stub:
        stub.add_client_error("head_object", "SlowDown", "Please reduce your request rate", 503)
        with pytest.raises(StoreError, match="SlowDown: Please reduce your request rate"):
            store.exists(sha(b"x"))


def test_blob_store_settings_problem_is_a_store_error(client: Any) -> None:
    """botocore's other errors, here a checksum it refuses, also become StoreErrors."""
    from botocore.exceptions import ChecksumError

    def refuse(**_: Any) -> None:
        raise ChecksumError(checksum_type="sha256", expected_checksum="a", actual_checksum="b")

    client.meta.events.register("before-call.s3.HeadObject", refuse)
    store = S3BlobStore("bucket", "evidence", client)
    with pytest.raises(StoreError, match=r"cannot look up .* check the blob store settings"):
        store.exists(sha(b"x"))


def test_missing_credentials_are_a_store_error(
    s3_endpoint: str, s3_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = open_blob_store("s3://evidence-bucket", endpoint_url=s3_endpoint)
    with pytest.raises(StoreError, match=r"no usable S3 credentials .* AWS_ACCESS_KEY_ID"):
        store.exists(sha(b"x"))


# -- blob stores by URL -------------------------------------------------------------------


def test_file_url_opens_a_filesystem_store(tmp_path: Path) -> None:
    cache = DigestCache(tmp_path / "d.sqlite")
    store = open_blob_store((tmp_path / "my blobs").as_uri(), cache=cache)
    assert isinstance(store, FilesystemBlobStore)
    assert store.root == tmp_path / "my blobs"
    assert store.cache is cache
    local = open_blob_store(f"file://localhost{tmp_path}")
    assert isinstance(local, FilesystemBlobStore) and local.root == tmp_path


def test_s3_url_opens_an_s3_store_at_the_endpoint_from_the_environment(
    s3_bucket: str, s3_endpoint: str, s3_environment: None
) -> None:
    env = {"CLEARANCE_S3_ENDPOINT_URL": s3_endpoint, "AWS_REGION": "eu-west-1"}
    store = open_blob_store(f"s3://{s3_bucket}/team/evidence/", env=env)
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == (s3_bucket, "team/evidence")
    assert store.client.meta.endpoint_url == s3_endpoint
    assert store.client.meta.region_name == "eu-west-1"
    blob = store.put_bytes(b"by url")
    assert keys(store.client, s3_bucket, "team/evidence/sha256/") == [store.key_of(blob.digest)]


def test_endpoint_argument_wins_over_the_environment(s3_environment: None) -> None:
    env = {"CLEARANCE_S3_ENDPOINT_URL": "http://127.0.0.1:1"}
    store = open_blob_store("s3://bucket", endpoint_url="http://127.0.0.1:2", env=env)
    assert isinstance(store, S3BlobStore)
    assert store.client.meta.endpoint_url == "http://127.0.0.1:2"
    assert store.client.meta.region_name == "us-east-1"
    assert store.key_of(sha(b"")).startswith("sha256/")


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/var/blobs",
        "blobs",
        "file:relative/blobs",
        "file://server/share/blobs",
        "s3://",
        "s3:///prefix",
        "s3://key:secret@bucket/prefix",
        "s3://bucket/prefix?versioning=1",
        "gs://bucket/prefix",
    ],
)
def test_bad_url_is_a_usage_error_naming_the_accepted_forms(url: str) -> None:
    with pytest.raises(UsageError) as caught:
        open_blob_store(url, env={})
    assert repr(url) in caught.value.message and FORMS in caught.value.message


def test_s3_url_without_boto3_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # as if it were not installed
    with pytest.raises(UsageError, match=r"pip install 'clearance\[s3\]'"):
        open_blob_store("s3://bucket/prefix")


def test_bad_endpoint_is_a_usage_error(s3_environment: None) -> None:
    with pytest.raises(UsageError, match=r"not an S3 endpoint URL .* CLEARANCE_S3_ENDPOINT_URL"):
        open_blob_store("s3://bucket/prefix", endpoint_url="not a url")


def test_importing_clearance_blobs_does_not_load_boto3() -> None:
    probe = "import sys, clearance.blobs; print(sorted({'boto3', 'botocore'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
