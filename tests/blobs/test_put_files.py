"""Batched storage: same names and guarantees as put_file, with two syncs per batch."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path

import pytest

from clearance.blobs import DigestCache, FilesystemBlobStore
from clearance.blobs import filesystem as filesystem_module
from clearance.errors import EvidenceError

HOUR_AGO_NS = time.time_ns() - 3600 * 1_000_000_000


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs", DigestCache(tmp_path / "cache.sqlite"))


def files(root: Path, contents: list[bytes]) -> list[Path]:
    root.mkdir(exist_ok=True)
    paths = []
    for i, data in enumerate(contents):
        path = root / f"f{i}"
        path.write_bytes(data)
        os.utime(path, ns=(HOUR_AGO_NS, HOUR_AGO_NS))
        paths.append(path)
    return paths


def test_results_are_in_order_and_blobs_read_only(
    store: FilesystemBlobStore, tmp_path: Path
) -> None:
    contents = [b"alpha", b"beta", b"alpha", b""]
    blobs = store.put_files(files(tmp_path / "in", contents))
    assert [b.digest for b in blobs] == [sha(c) for c in contents]
    assert [b.size for b in blobs] == [5, 4, 5, 0]
    for blob, data in zip(blobs, contents, strict=True):
        path = store.path_of(blob.digest)
        assert path.read_bytes() == data
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


def test_second_batch_reads_nothing(
    store: FilesystemBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unchanged files known to the cache are not opened at all."""
    paths = files(tmp_path / "in", [b"one", b"two"])
    store.put_files(paths)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached file was opened")

    monkeypatch.setattr(filesystem_module, "open_regular", refuse)
    assert [b.digest for b in store.put_files(paths)] == [sha(b"one"), sha(b"two")]


def test_large_files_go_through_put_file(
    store: FilesystemBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filesystem_module, "BATCH_BELOW", 4)
    blobs = store.put_files(files(tmp_path / "in", [b"tiny", b"larger than four"]))
    assert blobs[1].digest == sha(b"larger than four")
    assert store.verify() == []


def test_failure_leaves_no_temp_files_and_no_blobs(
    store: FilesystemBlobStore, tmp_path: Path
) -> None:
    paths = files(tmp_path / "in", [b"kept out"])
    with pytest.raises(EvidenceError, match="missing"):
        store.put_files([*paths, tmp_path / "missing"])
    tmp = tmp_path / "blobs" / "tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []
    assert not store.exists(sha(b"kept out"))


def test_without_syncfs_each_file_is_fsynced(
    store: FilesystemBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    monkeypatch.setattr(filesystem_module, "_syncfs", lambda path: False)
    monkeypatch.setattr(filesystem_module, "_fsync_path", synced.append)
    store.put_files(files(tmp_path / "in", [b"a", b"b"]))
    assert len(synced) == 2
