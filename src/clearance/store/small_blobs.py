"""Small evidence held in the database (`small_blobs`): insert-only rows, digest → bytes.

Functions over a connection; they never commit. Inserting a digest already held is a no-op
(the bytes are the same, named by their content).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clearance.store import tables as t

_BATCH = 500


def insert(conn: Connection, blobs: Iterable[tuple[str, bytes]]) -> None:
    """Store (digest, bytes) pairs not held yet. The caller has checked the digests."""
    rows = [{"digest": d, "size": len(data), "data": data} for d, data in blobs]
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    conn.execute(dialect_insert(t.small_blobs).on_conflict_do_nothing(), rows)


def held(conn: Connection, digests: Iterable[str]) -> set[str]:
    """Which of `digests` the database holds."""
    wanted = list(dict.fromkeys(digests))
    found: set[str] = set()
    column = t.small_blobs.c.digest
    for start in range(0, len(wanted), _BATCH):
        batch = wanted[start : start + _BATCH]
        found.update(conn.execute(sa.select(column).where(column.in_(batch))).scalars())
    return found


def read(conn: Connection, digest: str) -> bytes | None:
    data = conn.execute(
        sa.select(t.small_blobs.c.data).where(t.small_blobs.c.digest == digest)
    ).scalar()
    return None if data is None else bytes(data)


def read_many(conn: Connection, digests: Iterable[str]) -> dict[str, bytes]:
    """The bytes of each of `digests` the database holds."""
    wanted = list(dict.fromkeys(digests))
    found: dict[str, bytes] = {}
    c = t.small_blobs.c
    for start in range(0, len(wanted), _BATCH):
        batch = wanted[start : start + _BATCH]
        for digest, data in conn.execute(sa.select(c.digest, c.data).where(c.digest.in_(batch))):
            found[digest] = bytes(data)
    return found


def every(conn: Connection) -> Iterator[tuple[str, int, bytes]]:
    """(digest, size as recorded, bytes) of every row, streamed in digest order."""
    c = t.small_blobs.c
    query = sa.select(c.digest, c.size, c.data).order_by(c.digest)
    for digest, size, data in conn.execution_options(yield_per=_BATCH).execute(query):
        yield digest, size, bytes(data)
