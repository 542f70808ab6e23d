"""Insert-only repositories: functions over a connection. They never commit or update."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clearance.core.checkpoint import Checkpoint
from clearance.core.digest import canonical_json, json_digest
from clearance.core.results import ApprovalRecord
from clearance.store import tables as t
from clearance.store import tree
from clearance.store.records import (
    CandidateRecord,
    DecisionRecord,
    EventRecord,
    EvidenceRecord,
    ReleaseRecord,
    RevisionRecord,
    RevocationRow,
    SignedApproval,
    WaiverRow,
    from_time,
    to_time,
)
from clearance.store.uow import Inserted, RecordRef, UnitOfWork


def _dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_digest(table: str, values: Mapping[str, Any]) -> str:
    """Digest of a record row as stored: every column but the surrogate id; an empty (NULL)
    column counts as absent, so a row digests the same as written and as read back."""
    kept = {k: v for k, v in values.items() if k != "id" and v is not None}
    return json_digest({"table": table, **kept})


def logged_records(conn: Connection, subject: str) -> set[tuple[str, str]]:
    """(table, digest) of every record the log's events about `subject` recorded."""
    rows = conn.execute(sa.select(t.events.c.payload).where(t.events.c.subject == subject))
    return {(table, digest) for (p,) in rows for table, digest in json.loads(p).get("records", [])}


def _insert(uow: UnitOfWork, table: sa.Table, values: Mapping[str, Any]) -> Inserted:
    return uow.insert(table, values)


# systems ---------------------------------------------------------------------------------


def get_system_owner(conn: Connection, system_id: str) -> str | None:
    return conn.execute(sa.select(t.systems.c.owner).where(t.systems.c.id == system_id)).scalar()


def insert_system(
    uow: UnitOfWork, system_id: str, name: str, owner: str, at: datetime
) -> Inserted | None:
    """Record a system the first time it is seen; None when it was already known."""
    if get_system_owner(uow.conn, system_id) is not None:
        return None
    return _insert(
        uow, t.systems, {"id": system_id, "name": name, "owner": owner, "created_at": to_time(at)}
    )


def list_systems(conn: Connection) -> list[str]:
    return list(conn.execute(sa.select(t.systems.c.id).order_by(t.systems.c.id)).scalars())


# plan revisions --------------------------------------------------------------------------


def insert_revision(uow: UnitOfWork, rev: RevisionRecord) -> Inserted:
    return _insert(
        uow,
        t.revisions,
        {
            "digest": rev.digest,
            "system_id": rev.system_id,
            "version": rev.version,
            "author": rev.author,
            "message": rev.message,
            "filename": rev.filename,
            "document": _dumps(rev.document),
            "created_at": to_time(rev.created_at),
        },
    )


def get_revision(conn: Connection, digest: str) -> RevisionRecord | None:
    row = conn.execute(sa.select(t.revisions).where(t.revisions.c.digest == digest)).first()
    return RevisionRecord.from_row(row) if row else None


def find_revisions(conn: Connection, prefix: str) -> list[RevisionRecord]:
    """Revisions whose digest starts with `prefix` (with or without `sha256:`)."""
    if not prefix.startswith("sha256:"):
        prefix = "sha256:" + prefix
    rows = conn.execute(
        sa.select(t.revisions).where(t.revisions.c.digest.startswith(prefix, autoescape=True))
    )
    return [RevisionRecord.from_row(r) for r in rows]


def revisions_of(conn: Connection, system_id: str) -> list[RevisionRecord]:
    rows = conn.execute(
        sa.select(t.revisions)
        .where(t.revisions.c.system_id == system_id)
        .order_by(t.revisions.c.id)
    )
    return [RevisionRecord.from_row(r) for r in rows]


# candidates ------------------------------------------------------------------------------


def insert_candidate(uow: UnitOfWork, cand: CandidateRecord) -> Inserted:
    return _insert(
        uow,
        t.candidates,
        {
            "digest": cand.digest,
            "revision": cand.revision,
            "system_id": cand.system_id,
            "version": cand.version,
            "components": _dumps([c.as_json() for c in cand.components]),
            "created_by": cand.created_by,
            "created_at": to_time(cand.created_at),
        },
    )


def get_candidate(conn: Connection, digest: str) -> CandidateRecord | None:
    row = conn.execute(sa.select(t.candidates).where(t.candidates.c.digest == digest)).first()
    return CandidateRecord.from_row(row) if row else None


def candidates_of_revision(conn: Connection, revision: str) -> list[CandidateRecord]:
    rows = conn.execute(
        sa.select(t.candidates)
        .where(t.candidates.c.revision == revision)
        .order_by(t.candidates.c.id)
    )
    return [CandidateRecord.from_row(r) for r in rows]


def authors_of_candidate(conn: Connection, candidate: CandidateRecord) -> set[str]:
    """Who submitted the candidate's revision or created the candidate."""
    rev = get_revision(conn, candidate.revision)
    return {candidate.created_by} | ({rev.author} if rev else set())


# evidence --------------------------------------------------------------------------------


def _evidence_row(record: EvidenceRecord) -> dict[str, Any]:
    return {
        "candidate": record.candidate,
        "system_id": record.system_id,
        "criterion_id": record.criterion_id,
        "name": record.name,
        "digest": record.digest,
        "size": record.size,
        "added_by": record.added_by,
        "role": record.role,
        "source": record.source,
        "added_at": to_time(record.added_at),
        "envelope": _dumps(record.envelope) if record.envelope is not None else None,
    }


def insert_evidence(uow: UnitOfWork, record: EvidenceRecord) -> Inserted:
    return _insert(uow, t.evidence, _evidence_row(record))


def insert_evidence_many(uow: UnitOfWork, records: Sequence[EvidenceRecord]) -> list[RecordRef]:
    """Insert many evidence rows in one statement; the refs go into the event recording them."""
    rows = [_evidence_row(r) for r in records]
    if rows:
        uow.conn.execute(t.evidence.insert(), rows)
    return [RecordRef("evidence", record_digest("evidence", row)) for row in rows]


def evidence_names(conn: Connection, candidate: str) -> set[tuple[str, str, str]]:
    """(criterion id, name, digest) of every file attached to the candidate."""
    e = t.evidence.c
    rows = conn.execute(sa.select(e.criterion_id, e.name, e.digest).where(e.candidate == candidate))
    return {(r.criterion_id, r.name, r.digest) for r in rows}


def evidence_of(conn: Connection, candidate: str) -> list[EvidenceRecord]:
    rows = conn.execute(
        sa.select(t.evidence).where(t.evidence.c.candidate == candidate).order_by(t.evidence.c.id)
    )
    return [EvidenceRecord.from_row(r, record_digest("evidence", r._mapping)) for r in rows]


def get_evidence(conn: Connection, evidence_id: int) -> EvidenceRecord | None:
    row = conn.execute(sa.select(t.evidence).where(t.evidence.c.id == evidence_id)).first()
    if row is None:
        return None
    return EvidenceRecord.from_row(row, record_digest("evidence", row._mapping))


# approvals, waivers and attestations -------------------------------------------------------


def insert_approval(
    uow: UnitOfWork,
    system_id: str,
    version: str,
    approval: ApprovalRecord,
    envelope: dict[str, Any],
) -> Inserted:
    return _insert(
        uow,
        t.approvals,
        {
            "system_id": system_id,
            "version": version,
            "candidate": approval.candidate,
            "role": approval.role,
            "person": approval.person,
            "decision": approval.decision,
            "comment": approval.comment,
            "created_at": to_time(approval.at),
            "identity": approval.identity,
            "evidence_set": approval.evidence_set,
            "envelope": _dumps(envelope),
        },
    )


def signed_approvals(conn: Connection, system_id: str, version: str) -> list[SignedApproval]:
    """A release's approvals, rejections and withdrawals, each with its signed statement and
    the digest its row has as stored (what the log must hold)."""
    rows = conn.execute(
        sa.select(t.approvals)
        .where(t.approvals.c.system_id == system_id, t.approvals.c.version == version)
        .order_by(t.approvals.c.id)
    )
    return [
        SignedApproval(
            id=r.id,
            record=ApprovalRecord(
                person=r.person,
                role=r.role,
                decision=r.decision,
                candidate=r.candidate,
                at=from_time(r.created_at),
                comment=r.comment,
                identity=r.identity,
                evidence_set=r.evidence_set,
            ),
            envelope=json.loads(r.envelope) if r.envelope else None,
            digest=record_digest("approvals", r._mapping),
        )
        for r in rows
    ]


def approval_signed_as(
    conn: Connection, system_id: str, version: str, envelope: dict[str, Any]
) -> SignedApproval | None:
    """The approval already recorded from exactly this signed statement, if any."""
    text = _dumps(envelope)
    for signed in signed_approvals(conn, system_id, version):
        if signed.envelope is not None and _dumps(signed.envelope) == text:
            return signed
    return None


def approvals_of(conn: Connection, system_id: str, version: str) -> list[ApprovalRecord]:
    return [a.record for a in signed_approvals(conn, system_id, version)]


def insert_waiver(uow: UnitOfWork, waiver: WaiverRow) -> Inserted:
    return _insert(
        uow,
        t.waivers,
        {
            "candidate": waiver.candidate,
            "system_id": waiver.system_id,
            "criterion_id": waiver.criterion_id,
            "person": waiver.person,
            "role": waiver.role,
            "justification": waiver.justification,
            "expires_at": to_time(waiver.expires_at),
            "envelope": _dumps(waiver.envelope),
            "created_at": to_time(waiver.created_at),
        },
    )


def waivers_of(conn: Connection, candidate: str) -> list[WaiverRow]:
    rows = conn.execute(
        sa.select(t.waivers).where(t.waivers.c.candidate == candidate).order_by(t.waivers.c.id)
    )
    return [
        WaiverRow(
            id=r.id,
            candidate=r.candidate,
            system_id=r.system_id,
            criterion_id=r.criterion_id,
            person=r.person,
            role=r.role,
            justification=r.justification,
            expires_at=from_time(r.expires_at),
            envelope=json.loads(r.envelope),
            created_at=from_time(r.created_at),
            digest=record_digest("waivers", r._mapping),
        )
        for r in rows
    ]


def insert_waiver_revocation(
    uow: UnitOfWork,
    waiver_id: int,
    person: str,
    reason: str,
    envelope: dict[str, Any],
    at: datetime,
) -> Inserted:
    return _insert(
        uow,
        t.waiver_revocations,
        {
            "waiver_id": waiver_id,
            "person": person,
            "reason": reason,
            "envelope": _dumps(envelope),
            "created_at": to_time(at),
        },
    )


def waiver_revocations(conn: Connection, waiver_ids: Iterable[int]) -> list[RevocationRow]:
    rows = conn.execute(
        sa.select(t.waiver_revocations).where(
            t.waiver_revocations.c.waiver_id.in_(list(waiver_ids))
        )
    )
    return [
        RevocationRow(
            waiver_id=r.waiver_id,
            person=r.person,
            reason=r.reason,
            envelope=json.loads(r.envelope),
            created_at=from_time(r.created_at),
            digest=record_digest("waiver_revocations", r._mapping),
        )
        for r in rows
    ]


def insert_attestation(
    uow: UnitOfWork, decision_id: int, candidate: str, envelope: dict[str, Any], at: datetime
) -> Inserted:
    return _insert(
        uow,
        t.attestations,
        {
            "decision_id": decision_id,
            "candidate": candidate,
            "envelope": _dumps(envelope),
            "created_at": to_time(at),
        },
    )


def attestations_of(conn: Connection, candidate: str) -> list[tuple[int, dict[str, Any]]]:
    rows = conn.execute(
        sa.select(t.attestations.c.decision_id, t.attestations.c.envelope)
        .where(t.attestations.c.candidate == candidate)
        .order_by(t.attestations.c.id)
    )
    return [(r.decision_id, json.loads(r.envelope)) for r in rows]


# decisions -------------------------------------------------------------------------------


def insert_decision(uow: UnitOfWork, decision: DecisionRecord) -> Inserted:
    return _insert(
        uow,
        t.decisions,
        {
            "candidate": decision.candidate,
            "system_id": decision.system_id,
            "version": decision.version,
            "target": decision.target,
            "outcome": decision.outcome,
            "results": _dumps(decision.results),
            "metrics": _dumps(decision.metrics),
            "evaluator_version": decision.evaluator_version,
            "actor": decision.actor,
            "evaluated_at": to_time(decision.evaluated_at),
            "policy": decision.policy,
        },
    )


def get_decision(conn: Connection, decision_id: int) -> DecisionRecord | None:
    row = conn.execute(sa.select(t.decisions).where(t.decisions.c.id == decision_id)).first()
    return DecisionRecord.from_row(row) if row else None


def decisions_of(conn: Connection, candidate: str) -> list[DecisionRecord]:
    rows = conn.execute(
        sa.select(t.decisions)
        .where(t.decisions.c.candidate == candidate)
        .order_by(t.decisions.c.id)
    )
    return [DecisionRecord.from_row(r) for r in rows]


def latest_decisions(conn: Connection) -> list[DecisionRecord]:
    """The latest decision of every candidate."""
    latest = sa.select(sa.func.max(t.decisions.c.id)).group_by(t.decisions.c.candidate)
    rows = conn.execute(
        sa.select(t.decisions).where(t.decisions.c.id.in_(latest)).order_by(t.decisions.c.id)
    )
    return [DecisionRecord.from_row(r) for r in rows]


# releases --------------------------------------------------------------------------------


def insert_release(uow: UnitOfWork, release: ReleaseRecord) -> Inserted:
    return _insert(
        uow,
        t.releases,
        {
            "candidate": release.candidate,
            "decision_id": release.decision_id,
            "system_id": release.system_id,
            "version": release.version,
            "target": release.target,
            "components": _dumps([c.as_json() for c in release.components]),
            "released_by": release.released_by,
            "released_at": to_time(release.released_at),
        },
    )


def releases_to(conn: Connection, system_id: str, target: str) -> list[ReleaseRecord]:
    rows = conn.execute(
        sa.select(t.releases)
        .where(t.releases.c.system_id == system_id, t.releases.c.target == target)
        .order_by(t.releases.c.id)
    )
    return [ReleaseRecord.from_row(r) for r in rows]


def all_releases(conn: Connection) -> list[ReleaseRecord]:
    rows = conn.execute(sa.select(t.releases).order_by(t.releases.c.id))
    return [ReleaseRecord.from_row(r) for r in rows]


def releases_of_candidate(conn: Connection, candidate: str) -> list[ReleaseRecord]:
    rows = conn.execute(
        sa.select(t.releases).where(t.releases.c.candidate == candidate).order_by(t.releases.c.id)
    )
    return [ReleaseRecord.from_row(r) for r in rows]


# audit events ----------------------------------------------------------------------------


def event_leaf_hash(entry: bytes) -> str:
    """RFC 6962 leaf hash of an event's canonical JSON: sha256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).hexdigest()


_LAST_EVENT = (
    sa.select(t.events.c.seq, t.events.c.at, t.events.c.leaf_hash)
    .order_by(t.events.c.seq.desc())
    .limit(1)
)


def append_event(
    conn: Connection,
    *,
    type: str,
    actor: str,
    subject: str,
    payload: dict[str, Any],
    at: datetime,
    system_id: str | None = None,
    records: Sequence[list[str]] = (),
) -> EventRecord:
    """Append an audit event inside the caller's transaction (so both commit or neither);
    `records` are the [table, digest] of the rows it records.

    The event's canonical JSON (RFC 8785, `seq` included) is stored as written and is what
    its Merkle leaf hashes; the other columns are indexes over it.
    """
    last = conn.execute(_LAST_EVENT).first()
    seq = (last.seq if last else 0) + 1
    if last is not None and to_time(at) < last.at:
        # Another process's clock ran ahead: under the write lock, time never goes back,
        # so a host a little behind cannot make the log look backdated.
        at = from_time(last.at)
    if records:
        payload = {**payload, "records": [list(r) for r in records]}
    record = EventRecord(
        seq=seq,
        at=from_time(to_time(at)),
        type=type,
        actor=actor,
        system_id=system_id,
        subject=subject,
        payload=payload,
        leaf_hash="",
    )
    entry = canonical_json(record.as_json())
    leaf = event_leaf_hash(entry)
    conn.execute(
        t.events.insert(),
        {
            "seq": seq,
            "at": to_time(at),
            "type": type,
            "actor": actor,
            "system_id": system_id,
            "subject": subject,
            "payload": _dumps(payload),
            "entry": entry.decode(),
            "leaf_hash": leaf,
        },
    )
    # the tree levels this leaf completes, in the same transaction as the event
    tree.record_leaf(
        conn, seq, bytes.fromhex(leaf), bytes.fromhex(last.leaf_hash) if last else None
    )
    return EventRecord(**{**record.__dict__, "leaf_hash": leaf})


def events(
    conn: Connection, *, subjects: Iterable[str] | None = None, after: int = 0, limit: int = 1000
) -> list[EventRecord]:
    """A page of the audit log in order, optionally only events about `subjects`."""
    query = sa.select(t.events).where(t.events.c.seq > after)
    if subjects is not None:
        query = query.where(t.events.c.subject.in_(list(subjects)))
    rows = conn.execute(query.order_by(t.events.c.seq).limit(limit))
    return [EventRecord.from_row(r) for r in rows]


def event_rows(conn: Connection, *, after: int = 0, limit: int = 10_000) -> list[Any]:
    """Raw rows of the log in order (seq, entry and the indexed columns), for verification."""
    return list(
        conn.execute(
            sa.select(t.events).where(t.events.c.seq > after).order_by(t.events.c.seq).limit(limit)
        )
    )


def event_tuples(conn: Connection, *, after: int = 0, limit: int = 10_000) -> list[Any]:
    """Log rows as plain tuples (seq, at, type, actor, system_id, subject, payload, entry,
    leaf_hash): the fast path for verifying many events."""
    columns = [
        t.events.c[name]
        for name in (
            "seq",
            "at",
            "type",
            "actor",
            "system_id",
            "subject",
            "payload",
            "entry",
            "leaf_hash",
        )
    ]
    query = sa.select(*columns).where(t.events.c.seq > after).order_by(t.events.c.seq)
    return [tuple(r) for r in conn.execute(query.limit(limit))]


def leaf_hashes_after(conn: Connection, size: int) -> list[bytes]:
    """Stored leaf hashes of the events after the first `size`, in order."""
    rows = conn.execute(
        sa.select(t.events.c.leaf_hash).where(t.events.c.seq > size).order_by(t.events.c.seq)
    )
    return [bytes.fromhex(h) for h in rows.scalars()]


def leaf_hash_lines(conn: Connection, upto: int) -> bytes:
    """The stored leaf hashes of events 1..upto in hex, one per line, as a pack's
    log/leaves.txt holds them: a million in one fetch, never turned into bytes and back."""
    sql = "SELECT leaf_hash FROM events WHERE seq <= {0} ORDER BY seq"
    hexes = [h for (h,) in tree.raw_rows(conn, sql, (upto,))]
    return ("\n".join(hexes) + "\n").encode() if hexes else b""


# checkpoints and keys ---------------------------------------------------------------------


def insert_checkpoint(conn: Connection, cp: Checkpoint, frontier: Any) -> None:
    conn.execute(
        t.checkpoints.insert(),
        {
            "size": cp.size,
            "root": cp.root,
            "at": cp.at,
            "key_id": cp.key_id,
            # a note is kept whole (its origin is in it); a legacy row holds its signature
            "signature": cp.signature if cp.legacy else cp.note(),
            "frontier": _dumps(frontier),
        },
    )


class SignedRoot(NamedTuple):
    """The size, root and time of a stored checkpoint, as its columns hold them (what a
    write checks its frontier against; the note itself is checked by `log verify`)."""

    size: int
    root: str
    at: str


_LATEST_ROOT = (
    sa.select(t.checkpoints.c.size, t.checkpoints.c.root, t.checkpoints.c.at)
    .order_by(t.checkpoints.c.size.desc())
    .limit(1)
)


def latest_signed_root(conn: Connection) -> SignedRoot | None:
    row = conn.execute(_LATEST_ROOT).first()
    return SignedRoot(int(row.size), row.root, row.at) if row is not None else None


def latest_checkpoint(conn: Connection) -> tuple[Checkpoint, Any] | None:
    row = conn.execute(
        sa.select(t.checkpoints).order_by(t.checkpoints.c.size.desc()).limit(1)
    ).first()
    if row is None:
        return None
    return _checkpoint(row), json.loads(row.frontier)


def checkpoint_of_size(conn: Connection, size: int) -> Checkpoint | None:
    row = conn.execute(sa.select(t.checkpoints).where(t.checkpoints.c.size == size)).first()
    return _checkpoint(row) if row is not None else None


def checkpoints(conn: Connection) -> list[Checkpoint]:
    rows = conn.execute(sa.select(t.checkpoints).order_by(t.checkpoints.c.size))
    return [_checkpoint(r) for r in rows]


def checkpoints_between(conn: Connection, after: int, upto: int) -> list[Checkpoint]:
    """The checkpoints of sizes after+1..upto, in order (a streaming verifier's batch)."""
    c = t.checkpoints.c
    rows = conn.execute(
        sa.select(t.checkpoints).where(c.size > after, c.size <= upto).order_by(c.size)
    )
    return [_checkpoint(r) for r in rows]


def first_checkpoint_after(conn: Connection, size: int) -> int | None:
    """The smallest checkpoint size above `size`, if any (one for events cut from the end)."""
    found: int | None = conn.execute(
        sa.select(sa.func.min(t.checkpoints.c.size)).where(t.checkpoints.c.size > size)
    ).scalar()
    return found


def event_count(conn: Connection) -> int:
    """How many events the log holds (its highest index when nothing is missing)."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(t.events)).scalar_one())


def _checkpoint(row: Any) -> Checkpoint:
    """A stored checkpoint: a signed note (rows since notes), or a legacy one."""
    if "\n" not in row.signature:
        return Checkpoint(row.size, row.root, row.at, row.key_id, row.signature)
    try:
        note = Checkpoint.from_note(row.signature)
    except ValueError:  # verification names it: its signature lines do not parse
        return Checkpoint(row.size, row.root, row.at, row.key_id, row.signature, "unreadable")
    if (note.size, note.root) != (row.size, row.root):
        # the columns are what proofs are served against: they must be what the note signs
        return Checkpoint(row.size, row.root, row.at, row.key_id, note.signature, note.origin)
    return replace(note, key_id=row.key_id, at=row.at)


def insert_key(
    uow: UnitOfWork, key_id: str, purpose: str, public_key: str, at: datetime
) -> Inserted:
    return _insert(
        uow,
        t.keys,
        {
            "key_id": key_id,
            "purpose": purpose,
            "public_key": public_key,
            "valid_from": to_time(at),
            "created_at": to_time(at),
        },
    )


def current_workspace_key(conn: Connection) -> str | None:
    """The id of the workspace key that signs now (the latest registered), if any."""
    found: str | None = conn.execute(_CURRENT_KEY).scalar()
    return found


_CURRENT_KEY = (
    sa.select(t.keys.c.key_id)
    .where(t.keys.c.purpose == "workspace")
    .order_by(t.keys.c.valid_from.desc())
    .limit(1)
)


def public_keys(conn: Connection) -> list[dict[str, Any]]:
    """Every recorded public key with its validity window (until the next key's start)."""
    rows = list(conn.execute(sa.select(t.keys).order_by(t.keys.c.valid_from)))
    keys = []
    for i, row in enumerate(rows):
        later = [r.valid_from for r in rows[i + 1 :] if r.purpose == row.purpose]
        keys.append(
            {
                "key_id": row.key_id,
                "purpose": row.purpose,
                "public_key": row.public_key,
                "valid_from": row.valid_from,
                "valid_until": later[0] if later else None,
            }
        )
    return keys
