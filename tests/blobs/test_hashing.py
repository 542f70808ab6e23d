"""Streaming digests equal hashlib's on every size, and failures leave no thread behind."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from pathlib import Path

import pytest

from clearance.blobs import check_digest, file_digest
from clearance.blobs.hashing import CHUNK, THREADED_MIN, stream
from clearance.errors import EvidenceError


class FailingSource:
    """A source that yields `good` bytes of zeros, then fails like a dying disk."""

    def __init__(self, good: int) -> None:
        self.left = good

    def readinto(self, buffer: bytearray, /) -> int:
        if self.left <= 0:
            raise OSError(errno.EIO, "Input/output error")
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


class ByteSource:
    """A source of `size` pseudo-random bytes that records how far it was read."""

    def __init__(self, size: int) -> None:
        self.data = os.urandom(size)
        self.offset = 0

    def readinto(self, buffer: bytearray, /) -> int:
        chunk = self.data[self.offset : self.offset + len(buffer)]
        buffer[: len(chunk)] = chunk
        self.offset += len(chunk)
        return len(chunk)


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, THREADED_MIN - 1, THREADED_MIN, 3 * THREADED_MIN]
)
def test_file_digest_equals_hashlib(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f"
    path.write_bytes(data)
    assert file_digest(path) == "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("size_hint", [CHUNK, THREADED_MIN], ids=["inline", "pipelined"])
def test_sink_receives_exactly_what_was_hashed(size_hint: int) -> None:
    received = bytearray()
    digest, size = stream(ByteSource(size_hint * 2), size_hint, sink=received.extend)
    assert size == size_hint * 2
    assert digest == "sha256:" + hashlib.sha256(bytes(received)).hexdigest()


@pytest.mark.parametrize("size_hint", [CHUNK, THREADED_MIN], ids=["inline", "pipelined"])
def test_read_error_propagates_and_stops_every_thread(size_hint: int) -> None:
    before = threading.active_count()
    written: list[int] = []
    with pytest.raises(OSError, match="Input/output error"):
        stream(FailingSource(good=5 * CHUNK), size_hint, sink=lambda c: written.append(len(c)))
    assert threading.active_count() == before
    assert sum(written) <= 5 * CHUNK


def test_sink_error_stops_reading_early() -> None:
    source = ByteSource(64 * CHUNK)

    def broken_sink(chunk: memoryview) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    before = threading.active_count()
    with pytest.raises(OSError, match="No space left"):
        stream(source, THREADED_MIN, sink=broken_sink)
    assert threading.active_count() == before
    assert source.offset < 64 * CHUNK


def test_unreadable_file_is_evidence_error(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match=r"cannot read .*: Is a directory"):
        file_digest(tmp_path)
    with pytest.raises(EvidenceError, match=r"cannot read .*: No such file or directory"):
        file_digest(tmp_path / "absent")


@pytest.mark.parametrize("digest", ["sha256:" + "0" * 64, "sha256:" + "0123456789abcdef" * 4])
def test_check_digest_accepts_canonical_digests(digest: str) -> None:
    assert check_digest(digest) == digest


@pytest.mark.parametrize("digest", [None, 42, b"sha256:" + b"0" * 64, "SHA256:" + "0" * 64])
def test_check_digest_refuses_anything_else(digest: object) -> None:
    with pytest.raises(EvidenceError, match="is not a blob digest"):
        check_digest(digest)
