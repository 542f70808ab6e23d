"""The digest cache: trusted only for unchanged, non-racy files; cheap in bulk; rebuildable."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from clearance.blobs import DigestCache
from clearance.errors import EvidenceError

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
OLD_NS = time.time_ns() - 3600 * 1_000_000_000


def old_file(path: Path, data: bytes = b"data") -> Path:
    path.write_bytes(data)
    os.utime(path, ns=(OLD_NS, OLD_NS))
    return path


@pytest.fixture
def cache(tmp_path: Path) -> DigestCache:
    return DigestCache(tmp_path / "deep" / "cache" / "digests.sqlite")


def test_creates_parent_directories_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "digests.sqlite"
    with DigestCache(path):
        assert path.exists()
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_get_returns_digest_of_unchanged_file(cache: DigestCache, tmp_path: Path) -> None:
    path = old_file(tmp_path / "f")
    assert cache.get(path) is None
    cache.put(path, os.stat(path), DIGEST_A)
    assert cache.get(path) == DIGEST_A
    assert cache.get(str(path)) == DIGEST_A


def test_entry_is_keyed_by_absolute_path(
    cache: DigestCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = old_file(tmp_path / "f")
    monkeypatch.chdir(tmp_path)
    cache.put(Path("f"), os.stat(path), DIGEST_A)
    assert cache.get(path) == DIGEST_A


@pytest.mark.parametrize("change", ["size", "mtime", "inode"])
def test_changed_file_is_a_miss(cache: DigestCache, tmp_path: Path, change: str) -> None:
    path = old_file(tmp_path / "f")
    cache.put(path, os.stat(path), DIGEST_A)
    if change == "size":
        old_file(path, b"longer data")
    elif change == "mtime":
        os.utime(path, ns=(OLD_NS, OLD_NS + 1))
    else:
        replacement = old_file(tmp_path / "g")
        keep = tmp_path / "keep"  # holds the old inode so it cannot be reused
        os.link(path, keep)
        os.replace(replacement, path)
    assert cache.get(path) is None


def test_recently_modified_file_is_not_trusted(cache: DigestCache, tmp_path: Path) -> None:
    """An mtime within the racy window of the recording time could hide a later rewrite."""
    path = tmp_path / "fresh"
    path.write_bytes(b"data")
    cache.put(path, os.stat(path), DIGEST_A)
    assert cache.get(path) is None
    cache.put(path, os.stat(path), DIGEST_A, recorded_ns=time.time_ns() + 3_000_000_000)
    assert cache.get(path) == DIGEST_A


def test_missing_file_is_a_miss(cache: DigestCache, tmp_path: Path) -> None:
    path = old_file(tmp_path / "f")
    cache.put(path, os.stat(path), DIGEST_A)
    path.unlink()
    assert cache.get(path) is None
    assert cache.get_many([path]) == {}


def test_get_many_answers_thousands_of_files(cache: DigestCache, tmp_path: Path) -> None:
    paths = [old_file(tmp_path / f"f{i}", str(i).encode()) for i in range(2500)]
    for i, path in enumerate(paths):
        cache.put(path, os.stat(path), DIGEST_A if i % 2 else DIGEST_B)
    old_file(paths[0], b"changed size")
    found = cache.get_many([*paths, tmp_path / "absent"])
    assert len(found) == 2499
    assert str(paths[0]) not in found
    assert found[str(paths[1])] == DIGEST_A
    assert found[str(paths[2])] == DIGEST_B


def test_put_refuses_invalid_digest(cache: DigestCache, tmp_path: Path) -> None:
    path = old_file(tmp_path / "f")
    with pytest.raises(EvidenceError):
        cache.put(path, os.stat(path), "md5:abc")


def test_damaged_cache_file_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "digests.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with DigestCache(path) as cache:
        assert len(cache) == 0
        target = old_file(tmp_path / "f")
        cache.put(target, os.stat(target), DIGEST_A)
        assert cache.get(target) == DIGEST_A


def test_entries_survive_reopening(tmp_path: Path) -> None:
    path = old_file(tmp_path / "f")
    with DigestCache(tmp_path / "c.sqlite") as cache:
        cache.put(path, os.stat(path), DIGEST_A)
    with DigestCache(tmp_path / "c.sqlite") as cache:
        assert cache.get(path) == DIGEST_A


def test_threads_can_share_one_cache(cache: DigestCache, tmp_path: Path) -> None:
    paths = [old_file(tmp_path / f"f{i}") for i in range(200)]
    errors: list[BaseException] = []

    def work(part: list[Path]) -> None:
        try:
            for path in part:
                cache.put(path, os.stat(path), DIGEST_A)
                assert cache.get(path) == DIGEST_A
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(paths[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) == 200
