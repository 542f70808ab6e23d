"""Verification of the audit log in one streaming pass over its events, a batch at a time:
each event against its own entry and leaf hash, the tree recomputed level by level and
compared with every stored node (a cache of the leaves), each checkpoint's root and
signature at its size, and nothing stored beyond the tree. Memory is one batch.

From a kept checkpoint (`incremental`) only the events after it are read, with the O(log n)
stored nodes of its frontier, which must fold into its signed root.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from clearance.core.levels import StreamingTree, perfect_subtrees
from clearance.errors import IntegrityError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from clearance.core.checkpoint import Checkpoint
    from clearance.services.log import LogReport

#: events read, hashed and compared per batch
BATCH = 1 << 14
_COLUMNS = ("seq", "at", "type", "actor", "system_id", "subject")
_encode: Callable[[str], str] = json.encoder.encode_basestring
_sha256 = hashlib.sha256
_EVENTS = (
    "SELECT seq, at, type, actor, system_id, subject, payload, entry, leaf_hash FROM events "
    "WHERE seq > {0} ORDER BY seq LIMIT {0}"
)

Keys = dict[str, dict[str, Any]]


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only connection that sees one state of the database throughout, so appends
    made while verifying neither show half-written nor count as inserted rows."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")  # WAL: one read snapshot until ROLLBACK
            try:
                yield conn
            finally:
                conn.exec_driver_sql("ROLLBACK")
            return
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin() as transaction:
            yield conn
            transaction.rollback()


def verify_stream(
    conn: Connection,
    report: LogReport,
    keys: Keys,
    since: Checkpoint | None,
    *,
    incremental: bool = False,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Fill `report`: events and checkpoints checked, and the first failure found."""
    from clearance.store import repository as repo
    from clearance.store import tree as nodes_repo

    start = _seed(conn, report, keys, since) if incremental and since is not None else None
    if report.failures:
        return
    tree, last_at = start if start is not None else (StreamingTree(), "")
    report.events = tree.size
    if since is not None and since.size == 0 and not incremental:
        _check_checkpoint(tree, since, "the kept checkpoint", keys, report)
    while not report.failures:
        after = tree.size
        rows = nodes_repo.raw_rows(conn, _EVENTS, (after, BATCH))
        leaves: list[bytes] = []
        last_at = _check_events(rows, after, last_at, leaves, report)
        if not leaves:
            break
        tree.extend(leaves)
        # signed roots first: an event rewritten shows as the checkpoint it breaks, and a
        # stored node as itself only when every root the leaves give holds
        for cp in repo.checkpoints_between(conn, after, tree.size):
            report.checkpoints += 1
            _check_checkpoint(tree, cp, f"checkpoint {cp.size}", keys, report)
            if report.failures:
                break
        if since is not None and not incremental and after < since.size <= tree.size:
            _check_checkpoint(tree, since, "the kept checkpoint", keys, report)
        if not report.failures:
            _compare_nodes(conn, tree, report)
        report.events = tree.size
        if progress is not None:
            progress(tree.size)
        if len(rows) < BATCH:
            break
    if report.failures:
        return
    size = tree.size
    beyond = repo.first_checkpoint_after(conn, size)
    if since is not None and since.size > size:
        beyond = since.size if beyond is None else min(beyond, since.size)
    if beyond is not None:
        report.fail(
            f"checkpoint {beyond}: the log has only {size} events "
            "(events were removed from its end)"
        )
        return
    expected = sum(size >> level for level in range(1, size.bit_length()))
    if nodes_repo.count(conn) != expected:
        report.fail(_stray_node(conn, size))


def _seed(
    conn: Connection, report: LogReport, keys: Keys, since: Checkpoint
) -> tuple[StreamingTree, str] | None:
    """The tree at the kept checkpoint's size from its stored frontier, bound to its root."""
    from clearance.core.levels import fold
    from clearance.services.log import checkpoint_signature_problem
    from clearance.store import repository as repo
    from clearance.store import tree as nodes_repo

    problem = checkpoint_signature_problem(since, keys)
    if problem:
        report.fail(f"the kept checkpoint: {problem}")
        return None
    last = repo.event_tuples(conn, after=since.size - 1, limit=1) if since.size else []
    if since.size and (not last or last[0][0] != since.size):
        have = repo.event_count(conn)
        report.fail(
            f"checkpoint {since.size}: the log has only {have} events "
            "(events were removed from its end)"
        )
        return None
    frontier = perfect_subtrees(0, since.size)
    try:
        found = nodes_repo.nodes(conn, frontier)
    except IntegrityError as exc:
        report.fail(f"the kept checkpoint: {exc}")
        return None
    hashes = [found[n] for n in frontier]
    if fold(hashes).hex() != since.root:
        report.fail(
            f"event {since.size}: the kept checkpoint has a different root; "
            "the log up to it changed"
        )
        return None
    report.checkpoints += 1
    return StreamingTree(since.size, hashes), last[0][1] if last else ""


def _check_events(
    rows: list[Any], after: int, last_at: str, leaves: list[bytes], report: LogReport
) -> str:
    """Hash each row's entry into `leaves`; stop at the first row that fails its checks."""
    sha, enc, append = _sha256, _encode, leaves.append
    expected = after
    for row in rows:
        seq, at, kind, actor, system_id, subject, payload, entry, stored = row
        expected += 1
        if seq != expected:
            report.fail(f"event {expected}: missing (the log jumps to {seq})")
            break
        leaf = sha(b"\x00" + entry.encode()).digest()
        # the columns are indexes over the entry: rebuilt as the entry's canonical JSON
        # they must be it; only when they are not is the entry parsed to say what differs
        rebuilt = (
            f'{{"actor":{enc(actor)},"at":{enc(at)},"payload":{payload},"seq":{seq},'
            f'"subject":{enc(subject)},"system_id":'
            f'{"null" if system_id is None else enc(system_id)},"type":{enc(kind)}}}'
        )
        if rebuilt != entry or leaf.hex() != stored or at < last_at:
            problem = _event_problem(row, leaf, last_at)
            if problem:
                report.fail(f"event {seq}: {problem}")
                break
        last_at = at
        append(leaf)
    return last_at


def _event_problem(row: tuple[Any, ...], leaf: bytes, last_at: str) -> str | None:
    """What is wrong with one log row (columns as in `repo.event_tuples`), or None."""
    if leaf.hex() != row[8]:
        return "stored leaf hash does not match the event's content"
    try:
        entry = json.loads(row[7])
    except ValueError:
        return "content is not JSON"
    for i, column in enumerate(_COLUMNS):
        if entry.get(column) != row[i]:
            return f"column {column} was changed (the log says {entry.get(column)!r})"
    if json.loads(row[6]) != entry.get("payload"):
        return "column payload was changed"
    if row[1] < last_at:
        return f"recorded at {row[1]}, before the event preceding it ({last_at}): backdated"
    return None


def _compare_nodes(conn: Connection, tree: StreamingTree, report: LogReport) -> None:
    """Every node the batch completed must be stored, as recomputed from the leaves."""
    from clearance.store import tree as nodes_repo

    for level, (first, hashes) in enumerate(tree.levels[1:], start=1):
        end = first + len(hashes)
        if nodes_repo.level_hashes(conn, level, first, end) == hashes:
            continue
        # the slow path, only for a batch that differs: which node, and how
        stored = nodes_repo.level_nodes(conn, level, first, end)
        for position, h in enumerate(hashes, start=first):
            lo, hi = (position << level) + 1, (position + 1) << level
            if position not in stored:
                report.fail(
                    f"tree node {level}/{position}: missing (the node over events {lo} to "
                    f"{hi} was deleted behind Clearance's back)"
                )
                return
            if stored[position] != h:
                report.fail(
                    f"tree node {level}/{position}: the stored hash differs from the one "
                    f"recomputed from events {lo} to {hi} (changed behind Clearance's back)"
                )
                return


def _check_checkpoint(
    tree: StreamingTree, cp: Checkpoint, label: str, keys: Keys, report: LogReport
) -> None:
    from clearance.services.log import checkpoint_signature_problem

    if tree.root_at(cp.size).hex() != cp.root:
        report.fail(f"event {cp.size}: {label} has a different root; the log up to it changed")
        return
    problem = checkpoint_signature_problem(cp, keys)
    if problem:
        report.fail(f"{label}: {problem}")


def _stray_node(conn: Connection, size: int) -> str:
    """Name a stored node that no tree of `size` leaves has."""
    from clearance.store import tree as nodes_repo

    level, position = nodes_repo.first_outside(conn, size)
    return (
        f"tree node {level}/{position}: not a node of the log's {size} events "
        "(inserted behind Clearance's back)"
    )
