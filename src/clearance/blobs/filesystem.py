"""The workspace's evidence store: blobs in `root/sha256/ab/<rest-of-hex>`, written once.

A blob is streamed into `root/tmp/` while it is hashed, fsynced, made read-only and only
then renamed to its final name, so a name never points at partial or unverified bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from clearance.blobs.base import StoredBlob
from clearance.blobs.cache import DigestCache
from clearance.blobs.hashing import (
    PREFIX,
    Progress,
    check_digest,
    file_digest,
    open_regular,
    stream,
)
from clearance.errors import EvidenceError, NotFoundError

BLOB_MODE = 0o444
# Start writeback this often, so that the final fsync has little left to flush.
WRITEBACK_EVERY = 16 << 20
#: files smaller than this are stored in batches by `put_files`, larger ones one by one
BATCH_BELOW = 8 << 20
_SHARD = re.compile(r"[0-9a-f]{2}")
_REST = re.compile(r"[0-9a-f]{62}")


class _BlobWriter:
    """Writes chunks to a file descriptor, asking the kernel to start writeback as it goes."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.written = 0
        self._flushed = 0

    def __call__(self, chunk: memoryview) -> None:
        size = len(chunk)
        while chunk:
            chunk = chunk[os.write(self.fd, chunk) :]
        self.written += size
        if self.written - self._flushed >= WRITEBACK_EVERY and hasattr(os, "posix_fadvise"):
            # DONTNEED starts asynchronous writeback of the range (and keeps blobs from
            # crowding the page cache); it loses nothing.
            os.posix_fadvise(
                self.fd, self._flushed, self.written - self._flushed, os.POSIX_FADV_DONTNEED
            )
            self._flushed = self.written


def _syncfs(path: Path) -> bool:
    """Flush the whole filesystem holding `path` in one call (Linux syncfs); False if the
    platform has no syncfs, in which case the caller fsyncs file by file."""
    try:
        import ctypes

        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        return bool(syncfs(fd) == 0)
    finally:
        os.close(fd)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # directories cannot be opened on every platform
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unchanged(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)


class FilesystemBlobStore:
    """Content-addressed blobs under `root`; `cache` avoids re-hashing unchanged files."""

    def __init__(self, root: Path, cache: DigestCache | None = None) -> None:
        self.root = root
        self.cache = cache
        self._blobs = root / "sha256"
        self._tmp = root / "tmp"

    def path_of(self, digest: str) -> Path:
        """Where the blob named `digest` lives (whether or not it exists)."""
        hexdigest = check_digest(digest)[len(PREFIX) :]
        return self._blobs / hexdigest[:2] / hexdigest[2:]

    def exists(self, digest: str) -> bool:
        return self.path_of(digest).is_file()

    def open(self, digest: str) -> BinaryIO:
        """The blob's bytes, opened for reading."""
        path = self.path_of(digest)
        try:
            return path.open("rb")
        except FileNotFoundError as exc:
            raise NotFoundError(
                f"no blob {digest} in {self.root}; attach the evidence again"
            ) from exc
        except OSError as exc:
            raise EvidenceError(f"cannot read blob {digest}: {exc.strerror or exc}") from exc

    def put_bytes(self, data: bytes) -> StoredBlob:
        digest = PREFIX + hashlib.sha256(data).hexdigest()
        if not self.exists(digest):
            with self._temp() as (fd, temp):
                try:
                    _BlobWriter(fd)(memoryview(data))
                except OSError as exc:
                    raise EvidenceError(f"cannot store blob {digest}: {exc.strerror}") from exc
                self._commit(fd, temp, digest)
        return StoredBlob(digest, len(data))

    def put_file(
        self, path: str | os.PathLike[str], *, progress: Progress | None = None
    ) -> StoredBlob:
        """Store a copy of the file, hashing and copying it in one pass.

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
            with self._temp() as (fd, temp):
                try:
                    digest, size = stream(
                        source, before.st_size, sink=_BlobWriter(fd), progress=progress
                    )
                except OSError as exc:
                    raise EvidenceError(
                        f"cannot store {source_path}: {exc.strerror or exc}"
                    ) from exc
                if size != before.st_size or not _unchanged(before, os.fstat(source.fileno())):
                    raise EvidenceError(
                        f"{source_path} changed while it was being stored; attach it again "
                        "once whatever writes it has finished"
                    )
                self._commit(fd, temp, digest)
        if self.cache is not None:
            self.cache.put(source_path, before, digest, recorded_ns=started)
        return StoredBlob(digest, size)

    def put_files(self, paths: Sequence[str | os.PathLike[str]]) -> list[StoredBlob]:
        """Store many files, in order; same guarantees as `put_file`, cheaper in bulk.

        Small files are written to temporary names, made durable with one filesystem sync,
        renamed into place, and the renames made durable with a second sync: two syncs for
        the batch instead of two fsyncs per file. Unchanged files known to the cache are not
        read at all.
        """
        known = self.cache.get_many(paths) if self.cache is not None else {}
        results: dict[int, StoredBlob] = {}
        staged: list[tuple[int, Path, str, int]] = []
        remember: list[tuple[Path, os.stat_result, str, int]] = []
        try:
            for i, name in enumerate(paths):
                path = Path(name)
                digest = known.get(os.path.abspath(path))
                if digest is not None and self.exists(digest):
                    results[i] = StoredBlob(digest, path.stat().st_size)
                    continue
                started = time.time_ns()
                with open_regular(path) as source:
                    before = os.fstat(source.fileno())
                    if before.st_size >= BATCH_BELOW:
                        results[i] = self.put_file(path)
                        continue
                    temp, digest, size = self._write_unsynced(path, source, before)
                if temp is None:
                    results[i] = StoredBlob(digest, size)
                else:
                    staged.append((i, temp, digest, size))
                remember.append((path, before, digest, started))
            if staged:
                self._publish(staged, results)
            staged = []
        finally:
            for _, temp, _, _ in staged:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
        if self.cache is not None and remember:
            self.cache.put_many(remember)
        return [results[i] for i in range(len(paths))]

    def _write_unsynced(
        self, path: Path, source: io.FileIO, before: os.stat_result
    ) -> tuple[Path | None, str, int]:
        """Read a small file whole, hash it and, unless its blob exists, write it to a
        temporary name without syncing; returns (temp or None, digest, size)."""
        try:
            data = source.read(BATCH_BELOW)
        except OSError as exc:
            raise EvidenceError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if len(data) != before.st_size or not _unchanged(before, os.fstat(source.fileno())):
            raise EvidenceError(
                f"{path} changed while it was being stored; attach it again once whatever "
                "writes it has finished"
            )
        digest = PREFIX + hashlib.sha256(data).hexdigest()
        if self.exists(digest):
            return None, digest, len(data)
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="put-", dir=self._tmp)
        except OSError as exc:
            raise EvidenceError(
                f"cannot write to the blob store {self.root}: {exc.strerror or exc}"
            ) from exc
        temp = Path(name)
        try:
            _BlobWriter(fd)(memoryview(data))
            os.fchmod(fd, BLOB_MODE)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise EvidenceError(f"cannot store {path}: {exc.strerror or exc}") from exc
        finally:
            os.close(fd)
        return temp, digest, len(data)

    def _publish(
        self, staged: list[tuple[int, Path, str, int]], results: dict[int, StoredBlob]
    ) -> None:
        """Make staged temp files durable, rename them into place, make the names durable."""
        try:
            if not _syncfs(self._tmp):
                for _, temp, _, _ in staged:
                    _fsync_path(temp)
            touched: set[Path] = set()
            for i, temp, digest, size in staged:
                final = self.path_of(digest)
                if final.exists():
                    temp.unlink()
                else:
                    if not final.parent.is_dir():
                        final.parent.mkdir(parents=True, exist_ok=True)
                        touched.add(self._blobs)
                    os.replace(temp, final)
                    touched.add(final.parent)
                results[i] = StoredBlob(digest, size)
            if touched and not _syncfs(self._blobs):
                for folder in touched:
                    _fsync_dir(folder)
        except OSError as exc:
            raise EvidenceError(f"cannot store blobs: {exc.strerror or exc}") from exc

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

    @contextlib.contextmanager
    def _temp(self) -> Iterator[tuple[int, Path]]:
        """A new file in `root/tmp/`, removed unless it was renamed into place."""
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="put-", dir=self._tmp)
        except OSError as exc:
            raise EvidenceError(
                f"cannot write to the blob store {self.root}: {exc.strerror or exc}"
            ) from exc
        temp = Path(name)
        try:
            yield fd, temp
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    def _commit(self, fd: int, temp: Path, digest: str) -> None:
        final = self.path_of(digest)
        try:
            os.fsync(fd)
            os.fchmod(fd, BLOB_MODE)
            if final.exists():
                return  # the same bytes are already stored; the temp file is discarded
            if not final.parent.is_dir():
                final.parent.mkdir(parents=True, exist_ok=True)
                _fsync_dir(self._blobs)
            os.replace(temp, final)
            _fsync_dir(final.parent)
        except OSError as exc:
            raise EvidenceError(f"cannot store blob {digest}: {exc.strerror or exc}") from exc

    def verify(self) -> list[str]:
        """Re-hash every blob; describe each one that is unreadable or not what it is named.

        Files in `root/tmp/` are unfinished writes, not blobs, and are not looked at.
        """
        if not self._blobs.is_dir():
            return []
        problems: list[str] = []
        for shard in sorted(self._blobs.iterdir()):
            if not shard.is_dir() or not _SHARD.fullmatch(shard.name):
                problems.append(f"{shard}: not a blob (unexpected name in the blob store)")
                continue
            for entry in sorted(shard.iterdir()):
                problem = self._check(shard.name, entry)
                if problem:
                    problems.append(problem)
        return problems

    def _check(self, shard: str, entry: Path) -> str | None:
        if not _REST.fullmatch(entry.name):
            return f"{entry}: not a blob (unexpected name in the blob store)"
        digest = PREFIX + shard + entry.name
        if entry.is_symlink() or not entry.is_file():
            return f"{digest}: not a regular file"
        try:
            actual = file_digest(entry)
        except EvidenceError as exc:
            return f"{digest}: unreadable ({exc})"
        if actual != digest:
            return f"{digest}: content does not match its name (it hashes to {actual})"
        return None

    def verify_one(self, digest: str) -> bool:
        """Whether the blob exists and its content still matches its name."""
        path = self.path_of(digest)
        if path.is_symlink() or not path.is_file():
            return False
        try:
            return file_digest(path) == digest
        except EvidenceError:
            return False

    def remove_temp(self, older_than: float = 3600.0) -> int:
        """Delete unfinished writes left by crashed processes; return how many were removed."""
        if not self._tmp.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for entry in self._tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
        return removed
