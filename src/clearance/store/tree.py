"""The log's stored tree levels: nodes written with each event, in its transaction, and read
a few at a time for roots and proofs. Level 0 is the events' own leaf hashes; the nodes
above it live in `log_nodes`, insert-only, since a complete subtree never changes."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clearance.core.levels import Node, nodes_completed_by
from clearance.core.merkle import node_hash
from clearance.errors import IntegrityError
from clearance.store import tables as t

__all__ = ["insert_nodes", "nodes", "record_leaf"]

_SLICE = 400
_RUN = "run `clearance log verify` to find what changed"


def record_leaf(conn: Connection, size: int, leaf: bytes, previous: bytes | None) -> None:
    """Write the nodes that the leaf of event `size` completes; `previous` is the leaf of
    event `size - 1` (the caller just read it). O(log n): one read and one insert at most."""
    completed = nodes_completed_by(size)
    if not completed:
        return
    if previous is None:
        raise IntegrityError(f"event {size - 1} has no leaf hash; {_RUN}")
    # the left sibling of each completed node, above the first (whose left is `previous`)
    lefts = nodes(conn, [(level - 1, 2 * position) for level, position in completed[1:]])
    right = node_hash(previous, leaf)
    rows = [{"level": 1, "position": completed[0][1], "hash": right}]
    for level, position in completed[1:]:
        right = node_hash(lefts[(level - 1, 2 * position)], right)
        rows.append({"level": level, "position": position, "hash": right})
    conn.execute(t.log_nodes.insert(), rows)


def insert_nodes(conn: Connection, found: Iterable[tuple[int, int, bytes]]) -> int:
    """Insert nodes (level, position, hash) computed in bulk (a migration, a loader)."""
    rows = [{"level": lv, "position": p, "hash": h} for lv, p, h in found]
    if rows:
        conn.execute(t.log_nodes.insert(), rows)
    return len(rows)


def nodes(conn: Connection, wanted: Collection[Node]) -> dict[Node, bytes]:
    """The stored hashes of `wanted` nodes; IntegrityError names one that is missing."""
    found: dict[Node, bytes] = {}
    leaves = sorted(int(p) + 1 for level, p in wanted if level == 0)
    inner = sorted((int(lv), int(p)) for lv, p in wanted if lv > 0)
    # A proof's 40-odd lookups are hot: the SQL is written out from integers (nothing else
    # can reach it), sparing SQLAlchemy's per-value expression building on every proof.
    for i in range(0, len(leaves), _SLICE):
        listed = ",".join(map(str, leaves[i : i + _SLICE]))
        sql = f"SELECT seq, leaf_hash FROM events WHERE seq IN ({listed})"
        for seq, hex_hash in conn.exec_driver_sql(sql):
            found[(0, int(seq) - 1)] = bytes.fromhex(hex_hash)
    for i in range(0, len(inner), _SLICE):
        by_level: dict[int, list[str]] = {}
        for level, position in inner[i : i + _SLICE]:
            by_level.setdefault(level, []).append(str(position))
        # one primary-key search per level (a row-value IN list is a full scan in SQLite)
        terms = " OR ".join(
            f"(level = {lv} AND position IN ({','.join(ps)}))" for lv, ps in by_level.items()
        )
        for row in conn.exec_driver_sql(
            f"SELECT level, position, hash FROM log_nodes WHERE {terms}"
        ):
            found[(int(row[0]), int(row[1]))] = bytes(row[2])
    missing = [node for node in wanted if node not in found]
    if missing:
        level, position = min(missing)
        what = f"event {position + 1}" if level == 0 else f"tree node {level}/{position}"
        raise IntegrityError(f"the log's {what} is missing from the database; {_RUN}")
    return found


def count(conn: Connection) -> int:
    """How many nodes are stored (verification compares it with the tree's size)."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(t.log_nodes)).scalar_one())


def level_hashes(conn: Connection, level: int, first: int, end: int) -> list[bytes]:
    """The stored hashes of level `level`, positions first..end-1, in order (a gap shortens
    the list, so it no longer equals the recomputed one). Read through the driver's own
    cursor in one fetch: verification reads every node, and per-row wrapping would double
    its time."""
    sql = (
        "SELECT hash FROM log_nodes WHERE level = {0} AND position >= {0} AND position < {0} "
        "ORDER BY position"
    )
    rows = raw_rows(conn, sql, (level, first, end))
    return [h if type(h) is bytes else bytes(h) for (h,) in rows]


def raw_rows(conn: Connection, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
    """Rows of `sql` (its parameters marked {0}) as the driver gives them, in this
    connection's transaction."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql.format(mark), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def first_outside(conn: Connection, size: int) -> Node:
    """The first stored node that no tree of `size` leaves has (level 0 or below, above the
    tree's height, or past a level's last complete position); (-1, -1) if there is none."""
    n = t.log_nodes.c
    height = size.bit_length()
    query = sa.select(n.level, n.position).where(
        sa.or_(n.level < 1, n.level >= max(height, 1), n.position < 0)
    )
    found = conn.execute(query.order_by(n.level, n.position).limit(1)).first()
    if found is not None:
        return int(found[0]), int(found[1])
    for level in range(1, height):
        query = sa.select(n.position).where(n.level == level, n.position >= size >> level)
        position = conn.execute(query.order_by(n.position).limit(1)).scalar()
        if position is not None:
            return level, int(position)
    return -1, -1


def level_nodes(conn: Connection, level: int, first: int, end: int) -> dict[int, bytes]:
    """The stored hashes of level `level`, positions first..end-1, by position."""
    n = t.log_nodes.c
    query = sa.select(n.position, n.hash).where(
        n.level == level, n.position >= first, n.position < end
    )
    return {int(p): bytes(h) for p, h in conn.execute(query)}
