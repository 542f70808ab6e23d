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

from clearance.core.checkpoint import Checkpoint, Receipt
from clearance.core.merkle import leaf_hash
from clearance.errors import IntegrityError, NotFoundError, UsageError
from clearance.services import logtree
from clearance.services.workspace import Workspace

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.signing import SigningKey
    from clearance.store.uow import UnitOfWork

CONSISTENCY_FORMAT = "clearance-consistency-proof/v1"


def seal(uow: UnitOfWork, ws: Workspace) -> Receipt | None:
    """Sign a checkpoint covering the events this transaction appended; None if it had none."""
    from clearance.store import repository as repo
    from clearance.store.records import to_time

    appended, conn = uow.appended, uow.conn
    if not appended:
        return None
    latest = repo.latest_signed_root(conn)
    # O(log n): the stored nodes of the new tree's frontier, checked against the last root
    frontier = logtree.frontier(conn, max(appended), latest)
    key = ws.signing_key
    current = repo.current_workspace_key(conn)
    if current is not None and current != key.key_id:
        raise IntegrityError(
            f"this process signs with workspace key {key.key_id[:19]}…, but the workspace's "
            f"current key is {current[:19]}…; nothing was recorded. Point "
            "CLEARANCE_WORKSPACE_KEY at the workspace's key"
        )
    # the last event's own time (kept by the unit of work): a checkpoint never precedes it
    assert uow.last_at is not None, "events were appended without their time"
    at = max(to_time(ws.clock()), uow.last_at, *([latest.at] if latest is not None else []))
    checkpoint = sign_checkpoint(log_origin(ws, conn), frontier.size, frontier.root(), at, key)
    repo.insert_checkpoint(conn, checkpoint, frontier.to_json())
    return Receipt(max(appended), checkpoint)


def log_origin(ws: Workspace, conn: Connection) -> str:
    """The origin line of this workspace's checkpoints: `log_origin` in the settings
    (CLEARANCE_LOG_ORIGIN) or the workspace's config.json, else `clearance.local/` and the
    first 16 hex digits of the workspace's first key, which is unique and never changes."""
    from clearance.core.checkpoint import origin_problem
    from clearance.store import repository as repo

    if ws.log_origin_cache is None:
        configured = ws.settings.log_origin or ws.config.get("log_origin")
        if configured is None:
            first = [k for k in repo.public_keys(conn) if k["purpose"] == "workspace"]
            kid = first[0]["key_id"] if first else ws.signing_key.key_id
            configured = "clearance.local/" + kid.removeprefix("sha256:")[:16]
        problem = origin_problem(str(configured))
        if problem:
            raise UsageError(
                f"{problem}; set log_origin (CLEARANCE_LOG_ORIGIN or the workspace's "
                "config.json) to a name like example.com/clearance, with no spaces or plus signs"
            )
        ws.log_origin_cache = str(configured)
    return ws.log_origin_cache


def sign_checkpoint(origin: str, size: int, top: bytes, at: str, key: SigningKey) -> Checkpoint:
    """A checkpoint note of the tree (`size`, root `top`) signed by `key` under `origin`,
    dated `at` truncated to the second (the cosignature's timestamp is in seconds)."""
    from clearance.core.checkpoint import seconds, sign_lines, whole_second

    at = whole_second(at)
    unsigned = Checkpoint(size, top.hex(), at, key.key_id, "", origin)
    lines = sign_lines(origin, unsigned.body(), seconds(at), key.sign, key.public_raw)
    return Checkpoint(size, top.hex(), at, key.key_id, lines, origin)


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
    ws: Workspace,
    since: Checkpoint | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    incremental: bool = False,
) -> LogReport:
    """Recompute every leaf, the tree and every checkpoint's root in one streaming pass;
    check signatures (once per checkpoint), order, times and every stored tree node.

    `since` is a checkpoint kept from earlier: the log must still contain it (same root at
    its size), which catches a cut tail or a rewritten history. With `incremental`, only
    the events after it are read, bound to it by the stored nodes of its frontier.
    """
    from clearance.services.logverify import snapshot, verify_stream
    from clearance.store import repository as repo

    report = LogReport()
    with snapshot(ws.engine) as conn:
        keys = {k["key_id"]: k for k in repo.public_keys(conn)}
        verify_stream(conn, report, keys, since, incremental=incremental, progress=progress)
    return report


def checkpoint_signature_problem(cp: Checkpoint, keys: dict[str, dict[str, Any]]) -> str | None:
    """Why the checkpoint's signature does not hold with the keys given, or None.

    A note must carry, from the key its `key_id` names (or, read from a file, the key whose
    note key ID it carries), a valid Ed25519 note signature and a valid cosignature whose
    timestamp is the checkpoint's time; the key must be valid at that time.
    """
    from clearance.core.checkpoint import resolve_signer
    from clearance.signing import unb64

    if not cp.legacy and not cp.key_id:
        cp = resolve_signer(cp, {k: unb64(v["public_key"]) for k, v in keys.items()})
    key = keys.get(cp.key_id)
    if key is None:
        return f"signed by unknown key {cp.key_id or '(no signature by a key given)'}"
    if cp.legacy:
        window = cp.at < key["valid_from"] or (key["valid_until"] and cp.at >= key["valid_until"])
    else:  # a note's time is whole seconds: the window is compared to the second
        until = key["valid_until"]
        window = cp.at < key["valid_from"][:19] or bool(until and cp.at[:19] > until[:19])
    if window:
        return f"signed by key {cp.key_id[:19]} outside its validity window"
    return note_signature_problem(cp, unb64(key["public_key"]))


def note_signature_problem(cp: Checkpoint, public: bytes) -> str | None:
    """Why `cp` (a note, or legacy) is not signed by the raw Ed25519 key `public`, or None."""
    from clearance.core.checkpoint import COSIGNATURE, ED25519, note_key_hash, seconds
    from clearance.signing import unb64, verify

    if cp.legacy:
        try:
            signature = unb64(cp.signature)
        except ValueError:
            return "signature is not base64"
        return None if verify(public, cp.message(), signature) else "signature does not verify"
    try:
        lines = cp.signatures()
    except ValueError as exc:
        return f"malformed note: {exc}"
    note_id = note_key_hash(cp.origin, ED25519, public)
    cosig_id = note_key_hash(cp.origin, COSIGNATURE, public)
    # signed-note: lines of other keys are ignored; one of this key that fails rejects all
    signed = timed = False
    for line in lines:
        if line.name != cp.origin:
            continue
        if line.key_hash == note_id:
            if not verify(public, cp.body(), line.signature):
                return "note signature does not verify"
            signed = True
        elif line.key_hash == cosig_id:
            stamp = int.from_bytes(line.signature[:8], "big")
            if len(line.signature) != 72 or not verify(
                public, cp.cosigned_message(stamp), line.signature[8:]
            ):
                return "timestamped cosignature does not verify"
            if not cp.at or stamp != seconds(cp.at):
                return "the checkpoint's time is not the one its cosignature signs"
            timed = True
    if not signed:
        return "no note signature by this key (the key hash names another key)"
    if not timed:
        return "no timestamped cosignature by this key: its time is not signed"
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
        row = repo.event_rows(conn, after=seq - 1, limit=1)[0]
        proof = logtree.inclusion(conn, seq - 1, leaf_hash(row.entry.encode()), checkpoint)
    path = [h.hex() for h in proof]
    return Proof(json.loads(row.entry), seq - 1, path, checkpoint)


def consistency(ws: Workspace, old_size: int, new_size: int | None = None) -> dict[str, Any]:
    """A consistency proof (RFC 9162, 2.1.4) from the tree of `old_size` events to the signed
    checkpoint of `new_size` events (default: the latest): proves the log kept everything up
    to `old_size` unchanged."""
    from clearance.store import repository as repo

    with ws.engine.connect() as conn:
        found = repo.latest_checkpoint(conn)
        if found is None or not 1 <= old_size <= found[0].size:
            size = found[0].size if found else 0
            raise NotFoundError(f"no tree of size {old_size}: the log holds events 1 to {size}")
        checkpoint = found[0]
        if new_size is not None and new_size != checkpoint.size:
            checkpoint = _checkpoint_of_size(conn, old_size, new_size, checkpoint.size)
        old_root, proof = logtree.consistency(conn, old_size, checkpoint)
    return {
        "format": CONSISTENCY_FORMAT,
        "old_size": old_size,
        "old_root": old_root.hex(),
        "tree_size": checkpoint.size,
        "proof": [h.hex() for h in proof],
        "checkpoint": checkpoint.as_json(),
    }


def _checkpoint_of_size(conn: Connection, old_size: int, new_size: int, latest: int) -> Checkpoint:
    from clearance.store import repository as repo

    if not old_size <= new_size <= latest:
        raise NotFoundError(
            f"no proof from {old_size} to {new_size} events: TO must be between FROM and "
            f"the log's {latest} events"
        )
    found = repo.checkpoint_of_size(conn, new_size)
    if found is None:
        raise NotFoundError(
            f"no signed checkpoint of {new_size} events (a write of several events is signed "
            "once, after its last); leave TO out to prove against the latest checkpoint"
        )
    return found
