"""A local SQLite cache of file digests, so unchanged files are not hashed again.

An entry is keyed by absolute path and trusted only while the file's device, inode, size
and mtime are unchanged. Like git's index, an entry whose mtime is too close to when it
was recorded is "racy" (a same-size rewrite in the same clock tick would keep the mtime)
and is not trusted.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from clearance.blobs.hashing import check_digest

# Coarser than any common filesystem's mtime resolution (FAT: 2 s).
RACY_NS = 2_000_000_000
_BATCH = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS digests (
    path TEXT PRIMARY KEY,
    device INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    recorded_ns INTEGER NOT NULL,
    digest TEXT NOT NULL
) WITHOUT ROWID
"""
_TRUSTED = "mtime_ns < recorded_ns - ?"


def _key(path: str | os.PathLike[str]) -> str:
    return os.path.abspath(path)


class DigestCache:
    """Digests of local files by (device, inode, size, mtime_ns, absolute path).

    One connection guarded by a lock: safe to share between threads of one process;
    WAL lets other processes read while one writes.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._connect()
        except sqlite3.DatabaseError:
            # A cache can always be rebuilt: a damaged file is discarded, not reported.
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{self.path}{suffix}")
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            db.execute(_SCHEMA)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def get(self, path: str | os.PathLike[str], stat: os.stat_result | None = None) -> str | None:
        """The cached digest of `path` if the file is unchanged since it was recorded."""
        try:
            st = stat or os.stat(path)
        except OSError:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT digest FROM digests WHERE path = ? AND device = ? AND inode = ? "
                f"AND size = ? AND mtime_ns = ? AND {_TRUSTED}",
                (_key(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, RACY_NS),
            ).fetchone()
        return None if row is None else str(row[0])

    def get_many(
        self,
        paths: Iterable[str | os.PathLike[str]],
        stats: dict[str, os.stat_result] | None = None,
    ) -> dict[str, str]:
        """Cached digests of unchanged files among `paths`, keyed by absolute path; `stats`
        (by absolute path) are stats already taken, so those files are not stat'ed again."""
        taken = stats or {}
        stats = {}
        for path in paths:
            key = _key(path)
            if key in taken:
                stats[key] = taken[key]
                continue
            with contextlib.suppress(OSError):
                stats[key] = os.stat(path)
        found: dict[str, str] = {}
        keys = list(stats)
        for start in range(0, len(keys), _BATCH):
            batch = keys[start : start + _BATCH]
            marks = ",".join("?" * len(batch))
            with self._lock:
                rows = self._db.execute(
                    "SELECT path, device, inode, size, mtime_ns, digest FROM digests "
                    f"WHERE path IN ({marks}) AND {_TRUSTED}",
                    (*batch, RACY_NS),
                ).fetchall()
            for key, device, inode, size, mtime_ns, digest in rows:
                st = stats[key]
                if (device, inode, size, mtime_ns) == (
                    st.st_dev,
                    st.st_ino,
                    st.st_size,
                    st.st_mtime_ns,
                ):
                    found[key] = digest
        return found

    def put(
        self,
        path: str | os.PathLike[str],
        stat: os.stat_result,
        digest: str,
        *,
        recorded_ns: int | None = None,
    ) -> None:
        """Remember `digest` for `path` as it was when `stat` was taken, before reading it."""
        check_digest(digest)
        recorded = time.time_ns() if recorded_ns is None else recorded_ns
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    _key(path),
                    stat.st_dev,
                    stat.st_ino,
                    stat.st_size,
                    stat.st_mtime_ns,
                    recorded,
                    digest,
                ),
            )

    def put_many(
        self, entries: Iterable[tuple[str | os.PathLike[str], os.stat_result, str, int]]
    ) -> None:
        """`put` for many (path, stat, digest, recorded_ns) entries in one transaction."""
        rows = [
            (
                _key(path),
                st.st_dev,
                st.st_ino,
                st.st_size,
                st.st_mtime_ns,
                recorded,
                check_digest(digest),
            )
            for path, st, digest, recorded in entries
        ]
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?, ?, ?)", rows
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM digests").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> DigestCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
