"""The filesystem blob store: round trips, dedupe, cache use, verification, crash safety."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import time
from pathlib import Path

import pytest

from clearance.blobs import DigestCache, FilesystemBlobStore, file_digest
from clearance.blobs import filesystem as filesystem_module
from clearance.blobs import hashing as hashing_module
from clearance.errors import EvidenceError, NotFoundError

HOUR_AGO_NS = time.time_ns() - 3600 * 1_000_000_000


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_old(path: Path, data: bytes) -> Path:
    """Write a file whose mtime is an hour old, so the cache trusts it (it is not racy)."""
    path.write_bytes(data)
    os.utime(path, ns=(HOUR_AGO_NS, HOUR_AGO_NS))
    return path


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs", DigestCache(tmp_path / "cache" / "d.sqlite"))


@pytest.fixture(params=["small", "pipelined"])
def payload(request: pytest.FixtureRequest) -> bytes:
    """Small files are hashed inline, big ones through the threaded pipeline."""
    size = 1000 if request.param == "small" else hashing_module.THREADED_MIN + 12345
    return os.urandom(size)


def test_put_file_round_trips_and_names_blob_by_sha256(
    store: FilesystemBlobStore, tmp_path: Path, payload: bytes
) -> None:
    source = tmp_path / "model.onnx"
    source.write_bytes(payload)
    blob = store.put_file(source)
    assert blob.digest == sha(payload)
    assert blob.size == len(payload)
    with store.open(blob.digest) as stored:
        assert stored.read() == payload
    hexdigest = blob.digest.removeprefix("sha256:")
    assert (
        store.path_of(blob.digest) == tmp_path / "blobs" / "sha256" / hexdigest[:2] / hexdigest[2:]
    )
    assert stat.S_IMODE(store.path_of(blob.digest).stat().st_mode) == 0o444
    assert file_digest(source) == blob.digest


def test_put_bytes_round_trips_and_dedupes(store: FilesystemBlobStore) -> None:
    first = store.put_bytes(b'{"auc": 0.91}')
    second = store.put_bytes(b'{"auc": 0.91}')
    assert first == second
    assert store.exists(first.digest)
    with store.open(first.digest) as stored:
        assert stored.read() == b'{"auc": 0.91}'
    assert list((store.root / "tmp").iterdir()) == []


def test_same_content_from_two_files_is_stored_once(
    store: FilesystemBlobStore, tmp_path: Path
) -> None:
    (tmp_path / "a.json").write_bytes(b"same")
    (tmp_path / "b.json").write_bytes(b"same")
    assert store.put_file(tmp_path / "a.json") == store.put_file(tmp_path / "b.json")
    blobs = [p for p in (store.root / "sha256").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    assert list((store.root / "tmp").iterdir()) == []


def test_cache_hit_returns_cached_digest_without_reading_the_file(
    store: FilesystemBlobStore, tmp_path: Path
) -> None:
    """Rewriting the bytes but restoring size, inode and mtime is invisible: the file was not
    hashed again (a re-hash would have given the new digest)."""
    source = write_old(tmp_path / "weights.bin", b"A" * 4096)
    original = store.put_file(source)
    before = os.stat(source)
    with open(source, "r+b") as f:
        f.write(b"B" * 4096)
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(source).st_ino == before.st_ino
    seen: list[int] = []
    assert store.put_file(source, progress=seen.append) == original
    assert seen == [4096]


def test_cache_miss_after_mtime_change(store: FilesystemBlobStore, tmp_path: Path) -> None:
    source = write_old(tmp_path / "weights.bin", b"A" * 4096)
    store.put_file(source)
    source.write_bytes(b"B" * 4096)
    os.utime(source, ns=(HOUR_AGO_NS, HOUR_AGO_NS + 1))
    assert store.put_file(source).digest == sha(b"B" * 4096)


def test_cache_is_not_used_when_the_blob_is_gone(
    store: FilesystemBlobStore, tmp_path: Path
) -> None:
    source = write_old(tmp_path / "weights.bin", b"payload")
    blob = store.put_file(source)
    path = store.path_of(blob.digest)
    path.chmod(0o644)
    path.unlink()
    assert store.put_file(source) == blob
    assert store.verify_one(blob.digest)


def test_freshly_written_file_is_hashed_again(store: FilesystemBlobStore, tmp_path: Path) -> None:
    """A file modified in the same clock tick as it was hashed could keep its mtime, so an
    entry recorded within the racy window is not trusted."""
    source = tmp_path / "report.xml"
    source.write_bytes(b"first")
    store.put_file(source)
    mtime = os.stat(source).st_mtime_ns
    source.write_bytes(b"secnd")
    os.utime(source, ns=(mtime, mtime))
    assert store.put_file(source).digest == sha(b"secnd")


def test_progress_is_called_with_bytes_done_per_chunk(
    store: FilesystemBlobStore, tmp_path: Path, payload: bytes
) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(payload)
    seen: list[int] = []
    store.put_file(source, progress=seen.append)
    assert seen == sorted(seen)
    assert seen[-1] == len(payload)
    assert len(seen) == -(-len(payload) // hashing_module.CHUNK)
    digest_seen: list[int] = []
    file_digest(source, progress=digest_seen.append)
    assert digest_seen == seen


def test_blob_is_never_visible_under_its_name_before_it_is_complete(
    store: FilesystemBlobStore, tmp_path: Path, payload: bytes
) -> None:
    """While bytes are being written they live in root/tmp; the final name appears only
    after the whole content has been hashed and synced."""
    source = tmp_path / "data.bin"
    source.write_bytes(payload)
    final = store.path_of(sha(payload))
    observed: list[tuple[bool, int]] = []

    def progress(done: int) -> None:
        observed.append((final.exists(), len(list((store.root / "tmp").iterdir()))))

    store.put_file(source, progress=progress)
    assert observed and all(exists is False and temps == 1 for exists, temps in observed)
    assert final.exists()
    assert list((store.root / "tmp").iterdir()) == []


def test_failure_midway_leaves_no_blob_and_no_temp(
    store: FilesystemBlobStore, tmp_path: Path, payload: bytes
) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(payload)

    def crash(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.put_file(source, progress=crash)
    assert not store.exists(sha(payload))
    assert list((store.root / "tmp").iterdir()) == []
    assert store.verify() == []


def test_write_error_is_reported_as_evidence_error(
    store: FilesystemBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: bytes
) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(payload)

    def full_disk(self: object, chunk: memoryview) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(filesystem_module._BlobWriter, "__call__", full_disk)
    with pytest.raises(EvidenceError, match="No space left on device"):
        store.put_file(source)
    with pytest.raises(EvidenceError, match="No space left on device"):
        store.put_bytes(payload)
    assert not store.exists(sha(payload))
    assert list((store.root / "tmp").iterdir()) == []


def test_leftover_temp_files_are_not_blobs(store: FilesystemBlobStore, tmp_path: Path) -> None:
    """A temp file left by a crashed process is neither a blob nor a verification problem."""
    blob = store.put_bytes(b"kept")
    leftover = store.root / "tmp" / "put-crashed"
    leftover.write_bytes(b"half a blob")
    os.utime(leftover, (time.time() - 7200, time.time() - 7200))
    assert store.verify() == []
    assert store.remove_temp(older_than=3600) == 1
    assert not leftover.exists()
    assert store.exists(blob.digest)


def test_verify_reports_corrupt_blob(store: FilesystemBlobStore) -> None:
    good = store.put_bytes(b"good")
    bad = store.put_bytes(b"original")
    path = store.path_of(bad.digest)
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    problems = store.verify()
    assert len(problems) == 1
    assert bad.digest in problems[0] and sha(b"tampered") in problems[0]
    assert store.verify_one(good.digest)
    assert not store.verify_one(bad.digest)


def test_verify_reports_unreadable_blob_and_stray_files(store: FilesystemBlobStore) -> None:
    blob = store.put_bytes(b"content")
    path = store.path_of(blob.digest)
    path.unlink()
    path.mkdir()  # a directory under a blob's name cannot be read as a blob
    (store.root / "sha256" / "zz").mkdir()
    (path.parent / "not-a-digest").write_bytes(b"x")
    problems = store.verify()
    assert len(problems) == 3
    assert any(blob.digest in p and "not a regular file" in p for p in problems)
    assert sum("unexpected name" in p for p in problems) == 2
    assert not store.verify_one(blob.digest)


def test_verify_reports_blob_that_cannot_be_read(
    store: FilesystemBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    blob = store.put_bytes(b"content")

    def unreadable(path: Path) -> str:
        raise EvidenceError(f"cannot read {path}: Input/output error")

    monkeypatch.setattr(filesystem_module, "file_digest", unreadable)
    assert store.verify() == [
        f"{blob.digest}: unreadable (cannot read {store.path_of(blob.digest)}: Input/output error)"
    ]
    assert not store.verify_one(blob.digest)


def test_verify_of_empty_store_finds_nothing(tmp_path: Path) -> None:
    assert FilesystemBlobStore(tmp_path / "nowhere").verify() == []


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 65,
        "sha512:" + "a" * 64,
        "a" * 64,
        "sha256:../../../etc/passwd",
        "sha256:" + "a" * 62 + "/x",
        "sha256:" + "a" * 64 + "\n",
        "",
    ],
)
def test_invalid_digest_is_refused(store: FilesystemBlobStore, digest: str) -> None:
    for call in (store.path_of, store.exists, store.open, store.verify_one):
        with pytest.raises(EvidenceError, match="is not a blob digest"):
            call(digest)


def test_open_missing_blob_is_not_found(store: FilesystemBlobStore) -> None:
    with pytest.raises(NotFoundError, match="no blob"):
        store.open("sha256:" + "0" * 64)
    assert not store.exists("sha256:" + "0" * 64)
    assert not store.verify_one("sha256:" + "0" * 64)


def test_missing_or_special_source_is_evidence_error(
    store: FilesystemBlobStore, tmp_path: Path
) -> None:
    with pytest.raises(EvidenceError, match="cannot read"):
        store.put_file(tmp_path / "absent.json")
    with pytest.raises(EvidenceError, match="cannot read"):
        file_digest(tmp_path / "absent.json")
    with pytest.raises(EvidenceError):
        store.put_file(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # with no writer: opening it must not block
    with pytest.raises(EvidenceError, match="not a regular file"):
        store.put_file(fifo)
    with pytest.raises(EvidenceError, match="not a regular file"):
        file_digest(fifo)


def test_source_changing_while_stored_is_refused(
    store: FilesystemBlobStore, tmp_path: Path
) -> None:
    source = tmp_path / "growing.log"
    source.write_bytes(b"x" * 10)

    def append_once(done: int) -> None:
        if done == 10:
            with open(source, "ab") as f:
                f.write(b"more")

    with pytest.raises(EvidenceError, match="changed while it was being stored"):
        store.put_file(source, progress=append_once)
    assert list((store.root / "tmp").iterdir()) == []
    assert store.verify() == []


def test_store_works_without_cache(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    source = write_old(tmp_path / "f", b"abc")
    assert store.put_file(source).digest == sha(b"abc")
    assert store.put_file(source).digest == sha(b"abc")
