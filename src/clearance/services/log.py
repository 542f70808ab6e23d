"""The audit log: signed checkpoints after every write, verification, inclusion proofs.

Events form an RFC 6962 Merkle tree (leaf = hash of the event's canonical JSON). Each
write transaction ends with a checkpoint (size, root, time) signed by the workspace key,
so every write returns a receipt a client can keep and check later.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clearance.core.checkpoint import Checkpoint, Receipt, checkpoint_message
from clearance.core.merkle import Frontier, inclusion_proof, leaf_hash, root
from clearance.errors import IntegrityError, NotFoundError
from clearance.services.workspace import Workspace

if TYPE_CHECKING:
    from clearance.store.uow import UnitOfWork

PAGE = 10_000
_COLUMNS = ("seq", "at", "type", "actor", "system_id", "subject")


def seal(uow: UnitOfWork, ws: Workspace) -> Receipt | None:
    """Sign a checkpoint covering the events this transaction appended; None if it had none."""
    from clearance.signing import b64
    from clearance.store import repository as repo
    from clearance.store.records import to_time

    appended, conn = uow.appended, uow.conn
    if not appended:
        return None
    latest = repo.latest_checkpoint(conn)
    frontier = Frontier.empty() if latest is None else Frontier.from_json(latest[1])
    frontier = frontier.extended(repo.leaf_hashes_after(conn, frontier.size))
    key = ws.signing_key
    current = repo.current_workspace_key(conn)
    if current is not None and current != key.key_id:
        raise IntegrityError(
            f"this process signs with workspace key {key.key_id[:19]}…, but the workspace's "
            f"current key is {current[:19]}…; nothing was recorded. Point "
            "CLEARANCE_WORKSPACE_KEY at the workspace's key"
        )
    last_event = repo.event_rows(conn, after=max(appended) - 1, limit=1)
    at = max(
        to_time(ws.clock()),
        *(r.at for r in last_event),
        *([latest[0].at] if latest is not None else []),
    )
    root_hex = frontier.root().hex()
    signature = b64(key.sign(checkpoint_message(frontier.size, root_hex, at)))
    checkpoint = Checkpoint(frontier.size, root_hex, at, key.key_id, signature)
    repo.insert_checkpoint(conn, checkpoint, frontier.to_json())
    return Receipt(max(appended), checkpoint)


def latest(ws: Workspace) -> Checkpoint:
    from clearance.store import repository as repo

    with ws.engine.connect() as conn:
        found = repo.latest_checkpoint(conn)
    if found is None:
        raise NotFoundError("the log is empty: nothing has been recorded yet")
    return found[0]


@dataclass
class LogReport:
    events: int = 0
    checkpoints: int = 0
    failures: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failures.append(message)


def verify_log(
    ws: Workspace, since: Checkpoint | None = None, progress: Callable[[int], None] | None = None
) -> LogReport:
    """Recompute every leaf and every checkpoint's root; check signatures, order and times.

    `since` is a checkpoint kept from earlier: the log must still contain it (same root at
    its size), which catches a cut tail or a rewritten history.
    """
    from clearance.store import repository as repo

    report = LogReport()
    with ws.engine.connect() as conn:
        keys = {k["key_id"]: k for k in repo.public_keys(conn)}
        stored = repo.checkpoints(conn)
        wanted: dict[int, list[Checkpoint]] = {}
        for cp in [*stored, *([since] if since is not None else [])]:
            wanted.setdefault(cp.size, []).append(cp)
        frontier = Frontier.empty()
        last_at = ""
        _check_at(frontier, wanted, report, keys, since)
        sizes = sorted(wanted)
        after = 0
        while not report.failures:
            rows = repo.event_tuples(conn, after=after, limit=PAGE)
            leaves: list[bytes] = []
            for row in rows:
                seq = row[0]
                expected = after + len(leaves) + 1
                if seq != expected:
                    report.fail(f"event {expected}: missing (the log jumps to {seq})")
                    break
                leaf = leaf_hash(row[7].encode())
                problem = _check_event(row, leaf, last_at)
                if problem:
                    report.fail(f"event {seq}: {problem}")
                    break
                last_at = row[1]
                leaves.append(leaf)
            # extend checkpoint by checkpoint, so each stored root is compared at its size
            start = 0
            for size in sizes:
                if frontier.size < size <= frontier.size + len(leaves) - start:
                    take = size - frontier.size
                    frontier = frontier.extended(leaves[start : start + take])
                    start += take
                    _check_at(frontier, wanted, report, keys, since)
                    if report.failures:
                        break
            frontier = frontier.extended(leaves[start:])
            report.events = frontier.size
            if progress is not None:
                progress(frontier.size)
            if len(rows) < PAGE or report.failures:
                break
            after = rows[-1][0]
        if report.failures:
            return report
        beyond = [size for size in wanted if size > frontier.size]
        if beyond:
            report.fail(
                f"checkpoint {min(beyond)}: the log has only {frontier.size} events "
                "(events were removed from its end)"
            )
        report.checkpoints = len(stored)
    return report


def _check_event(row: tuple[Any, ...], leaf: bytes, last_at: str) -> str | None:
    """Check one log row (columns as in `repo.event_tuples`) against its own entry."""
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


def _check_at(
    frontier: Frontier,
    wanted: dict[int, list[Checkpoint]],
    report: LogReport,
    keys: dict[str, dict[str, Any]],
    since: Checkpoint | None,
) -> None:
    size = frontier.size
    for cp in wanted.get(size, []):
        label = "the kept checkpoint" if cp is since else f"checkpoint {size}"
        if frontier.root().hex() != cp.root:
            report.fail(f"event {size}: {label} has a different root; the log up to it changed")
            return
        problem = checkpoint_signature_problem(cp, keys)
        if problem:
            report.fail(f"{label}: {problem}")
            return


def checkpoint_signature_problem(cp: Checkpoint, keys: dict[str, dict[str, Any]]) -> str | None:
    """Why the checkpoint's signature does not hold with the keys given, or None."""
    from clearance.signing import unb64, verify

    key = keys.get(cp.key_id)
    if key is None:
        return f"signed by unknown key {cp.key_id}"
    if cp.at < key["valid_from"] or (key["valid_until"] and cp.at >= key["valid_until"]):
        return f"signed by key {cp.key_id[:19]} outside its validity window"
    try:
        signature = unb64(cp.signature)
    except ValueError:
        return "signature is not base64"
    if not verify(unb64(key["public_key"]), cp.message(), signature):
        return "signature does not verify"
    return None


@dataclass(frozen=True)
class Proof:
    event: dict[str, Any]
    index: int
    path: list[str]
    checkpoint: Checkpoint

    def as_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "leaf_index": self.index,
            "tree_size": self.checkpoint.size,
            "inclusion_path": self.path,
            "checkpoint": self.checkpoint.as_json(),
        }


def prove(ws: Workspace, seq: int) -> Proof:
    """An inclusion proof of event `seq` against the latest signed checkpoint."""
    from clearance.store import repository as repo

    with ws.engine.connect() as conn:
        found = repo.latest_checkpoint(conn)
        if found is None or not 1 <= seq <= found[0].size:
            size = found[0].size if found else 0
            raise NotFoundError(f"no event {seq}: the log holds events 1 to {size}")
        checkpoint = found[0]
        leaves = repo.leaf_hashes(conn, checkpoint.size)
        row = repo.event_rows(conn, after=seq - 1, limit=1)[0]
    if root(leaves).hex() != checkpoint.root:
        raise IntegrityError(
            "the stored log does not match its latest checkpoint; run `clearance log verify`"
        )
    path = [h.hex() for h in inclusion_proof(leaves, seq - 1)]
    return Proof(json.loads(row.entry), seq - 1, path, checkpoint)


def consistency(ws: Workspace, old_size: int) -> dict[str, Any]:
    """A consistency proof (RFC 6962) from the tree of `old_size` events to the latest
    signed checkpoint: proves the log kept everything up to `old_size` unchanged."""
    from clearance.core.merkle import consistency_proof
    from clearance.store import repository as repo

    with ws.engine.connect() as conn:
        found = repo.latest_checkpoint(conn)
        if found is None or not 1 <= old_size <= found[0].size:
            size = found[0].size if found else 0
            raise NotFoundError(f"no tree of size {old_size}: the log holds events 1 to {size}")
        checkpoint = found[0]
        leaves = repo.leaf_hashes(conn, checkpoint.size)
    if root(leaves).hex() != checkpoint.root:
        raise IntegrityError(
            "the stored log does not match its latest checkpoint; run `clearance log verify`"
        )
    return {
        "old_size": old_size,
        "old_root": root(leaves[:old_size]).hex(),
        "tree_size": checkpoint.size,
        "proof": [h.hex() for h in consistency_proof(leaves, old_size)],
        "checkpoint": checkpoint.as_json(),
    }
