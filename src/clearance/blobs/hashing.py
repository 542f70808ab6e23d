"""Streaming SHA-256 of files, optionally copying the same bytes to a sink in the same pass.

Big files go through a three-stage pipeline (read, hash, write) over a few reusable buffers,
so reading and writing overlap with hashing; hashlib and file I/O release the GIL.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import queue
import re
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from clearance.errors import EvidenceError

PREFIX = "sha256:"
CHUNK = 1 << 20
BUFFERS = 6
# Below this size starting threads costs more than overlapping saves.
THREADED_MIN = 8 << 20
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

Progress = Callable[[int], None]
Sink = Callable[[memoryview], None]


class Source(Protocol):
    """Anything read with `readinto`, such as a file opened with `buffering=0`."""

    def readinto(self, buffer: bytearray, /) -> int | None: ...


def check_digest(digest: object) -> str:
    """Return `digest` if it is "sha256:" and 64 lowercase hex digits; raise EvidenceError."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise EvidenceError(
            f"{digest!r} is not a blob digest; expected 'sha256:' followed by 64 lowercase "
            "hex digits"
        )
    return digest


def open_regular(path: str | os.PathLike[str]) -> io.FileIO:
    """Open a regular file for unbuffered reading; anything else raises EvidenceError.

    Opened non-blocking, so a FIFO is refused instead of waiting for a writer.
    """
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    try:
        source = io.FileIO(path, "rb", opener=lambda p, flags: os.open(p, flags | nonblocking))
    except OSError as exc:
        raise EvidenceError(
            f"cannot read {Path(path)}: {exc.strerror or exc}; check that it exists and is readable"
        ) from exc
    if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
        source.close()
        raise EvidenceError(f"{Path(path)} is not a regular file; give the path of a file")
    return source


def file_digest(path: str | os.PathLike[str], *, progress: Progress | None = None) -> str:
    """The "sha256:<hex>" digest of a file, read in chunks; `progress(bytes_done)` per chunk."""
    with open_regular(path) as source:
        try:
            digest, _ = stream(source, os.fstat(source.fileno()).st_size, progress=progress)
        except OSError as exc:
            raise EvidenceError(f"cannot read {Path(path)}: {exc.strerror or exc}") from exc
    return digest


def stream(
    source: Source,
    size_hint: int,
    *,
    sink: Sink | None = None,
    progress: Progress | None = None,
) -> tuple[str, int]:
    """Hash everything `source` yields, handing each chunk to `sink` after hashing it.

    Returns the digest and the number of bytes read. What the sink receives is exactly
    what was hashed, even if the source changes meanwhile.
    """
    if size_hint < THREADED_MIN:
        return _stream_inline(source, sink, progress)
    return _stream_threaded(source, sink, progress)


def _stream_inline(source: Source, sink: Sink | None, progress: Progress | None) -> tuple[str, int]:
    hasher = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    done = 0
    while n := source.readinto(buffer):
        chunk = view[:n]
        hasher.update(chunk)
        if sink is not None:
            sink(chunk)
        done += n
        if progress is not None:
            progress(done)
    return PREFIX + hasher.hexdigest(), done


class _Writer:
    """A thread handing chunks to the sink; after a failure it only recycles buffers."""

    def __init__(self, sink: Sink, free: queue.SimpleQueue[bytearray | None]) -> None:
        self._sink = sink
        self._free = free
        self._queue: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="clearance-blob-write")
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            buffer, n = item
            if self.error is None:
                try:
                    self._sink(memoryview(buffer)[:n])
                except BaseException as exc:  # re-raised in the hashing thread
                    self.error = exc
            self._free.put(buffer)

    def put(self, buffer: bytearray, n: int) -> None:
        if self.error is not None:
            raise self.error
        self._queue.put((buffer, n))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error


def _stream_threaded(
    source: Source, sink: Sink | None, progress: Progress | None
) -> tuple[str, int]:
    free: queue.SimpleQueue[bytearray | None] = queue.SimpleQueue()
    for _ in range(BUFFERS):
        free.put(bytearray(CHUNK))
    filled: queue.SimpleQueue[tuple[bytearray, int] | BaseException] = queue.SimpleQueue()
    stop = threading.Event()

    def read() -> None:
        try:
            while (buffer := free.get()) is not None and not stop.is_set():
                n = source.readinto(buffer) or 0
                filled.put((buffer, n))
                if n == 0:
                    return
        except BaseException as exc:  # re-raised in the hashing thread
            filled.put(exc)

    reader = threading.Thread(target=read, name="clearance-blob-read")
    writer = _Writer(sink, free) if sink is not None else None
    reader.start()
    hasher = hashlib.sha256()
    done = 0
    try:
        while True:
            item = filled.get()
            if isinstance(item, BaseException):
                raise item
            buffer, n = item
            if n == 0:
                break
            hasher.update(memoryview(buffer)[:n])
            done += n
            if writer is not None:
                writer.put(buffer, n)
            else:
                free.put(buffer)
            if progress is not None:
                progress(done)
    except BaseException:
        stop.set()
        free.put(None)  # wakes the reader if it waits for a buffer
        if writer is not None:
            with contextlib.suppress(BaseException):  # the first error is the one to report
                writer.close()
        reader.join()
        raise
    reader.join()
    if writer is not None:
        writer.close()
    return PREFIX + hasher.hexdigest(), done
