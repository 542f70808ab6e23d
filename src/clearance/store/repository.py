"""Insert-only repositories: functions over a connection. They never commit or update."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clearance.core.checkpoint import Checkpoint
from clearance.core.digest import canonical_json, json_digest
from clearance.core.results import ApprovalRecord
from clearance.store import tables as t
from clearance.store.records import (
    CandidateRecord,
    DecisionRecord,
    EventRecord,
    EvidenceRecord,
    ReleaseRecord,
    RevisionRecord,
    from_time,
    to_time,
)


def _dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_digest(table: str, values: Mapping[str, Any]) -> str:
    """Digest of a record row as stored (every column but the surrogate id)."""
    return json_digest({"table": table, **{k: v for k, v in values.items() if k != "id"}})


def _insert(conn: Connection, table: sa.Table, values: Mapping[str, Any]) -> int:
    """Insert one record row and remember its digest for the event that records it."""
    result = conn.execute(table.insert().values(**values))
    conn.info.setdefault("clearance_records", []).append(
        [table.name, record_digest(table.name, values)]
    )
    key = result.inserted_primary_key
    return int(key[0]) if key and isinstance(key[0], int) else 0


# systems ---------------------------------------------------------------------------------


def ensure_system(conn: Connection, system_id: str, name: str, owner: str, at: datetime) -> bool:
    """Record a system the first time it is seen; True when it was new."""
    exists = conn.execute(sa.select(t.systems.c.id).where(t.systems.c.id == system_id)).first()
    if exists:
        return False
    _insert(
        conn, t.systems, {"id": system_id, "name": name, "owner": owner, "created_at": to_time(at)}
    )
    return True


def list_systems(conn: Connection) -> list[str]:
    return list(conn.execute(sa.select(t.systems.c.id).order_by(t.systems.c.id)).scalars())


# plan revisions --------------------------------------------------------------------------


def insert_revision(conn: Connection, rev: RevisionRecord) -> None:
    _insert(
        conn,
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


def insert_candidate(conn: Connection, cand: CandidateRecord) -> None:
    _insert(
        conn,
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


def insert_evidence(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert evidence rows (dicts with the table's columns; times as datetimes)."""
    if rows:
        for r in rows:
            _insert(conn, t.evidence, {**r, "added_at": to_time(r["added_at"])})


def evidence_of(conn: Connection, candidate: str) -> list[EvidenceRecord]:
    rows = conn.execute(
        sa.select(t.evidence).where(t.evidence.c.candidate == candidate).order_by(t.evidence.c.id)
    )
    return [EvidenceRecord.from_row(r) for r in rows]


# approvals -------------------------------------------------------------------------------


def insert_approval(
    conn: Connection,
    system_id: str,
    version: str,
    approval: ApprovalRecord,
    envelope: dict[str, Any] | None = None,
) -> int:
    return _insert(
        conn,
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
            "envelope": _dumps(envelope) if envelope is not None else None,
        },
    )


def approvals_of(conn: Connection, system_id: str, version: str) -> list[ApprovalRecord]:
    rows = conn.execute(
        sa.select(t.approvals)
        .where(t.approvals.c.system_id == system_id, t.approvals.c.version == version)
        .order_by(t.approvals.c.id)
    )
    return [
        ApprovalRecord(
            person=r.person,
            role=r.role,
            decision=r.decision,
            candidate=r.candidate,
            at=from_time(r.created_at),
            comment=r.comment,
            identity=r.identity,
            evidence_set=r.evidence_set,
        )
        for r in rows
    ]


def approval_envelopes(
    conn: Connection, system_id: str, version: str
) -> list[tuple[str, dict[str, Any]]]:
    """(candidate, signed statement) of a release's approvals, rejections and withdrawals."""
    rows = conn.execute(
        sa.select(t.approvals.c.candidate, t.approvals.c.envelope)
        .where(t.approvals.c.system_id == system_id, t.approvals.c.version == version)
        .order_by(t.approvals.c.id)
    )
    return [(r.candidate, json.loads(r.envelope)) for r in rows if r.envelope]


def insert_waiver(conn: Connection, values: dict[str, Any]) -> int:
    row = {
        **values,
        "envelope": _dumps(values["envelope"]),
        "expires_at": to_time(values["expires_at"]),
        "created_at": to_time(values["created_at"]),
    }
    return _insert(conn, t.waivers, row)


def waivers_of(conn: Connection, candidate: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(t.waivers).where(t.waivers.c.candidate == candidate).order_by(t.waivers.c.id)
    )
    return [
        {
            **r._mapping,
            "envelope": json.loads(r.envelope),
            "expires_at": from_time(r.expires_at),
            "created_at": from_time(r.created_at),
        }
        for r in rows
    ]


def insert_attestation(
    conn: Connection, decision_id: int, candidate: str, envelope: dict[str, Any], at: datetime
) -> int:
    return _insert(
        conn,
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


def insert_decision(conn: Connection, values: dict[str, Any]) -> int:
    row = {
        **values,
        "results": _dumps(values["results"]),
        "metrics": _dumps(values["metrics"]),
        "evaluated_at": to_time(values["evaluated_at"]),
    }
    return _insert(conn, t.decisions, row)


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


def insert_release(conn: Connection, values: dict[str, Any]) -> int:
    row = {
        **values,
        "components": _dumps([c.as_json() for c in values["components"]]),
        "released_at": to_time(values["released_at"]),
    }
    return _insert(conn, t.releases, row)


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


def append_event(
    conn: Connection,
    *,
    type: str,
    actor: str,
    subject: str,
    payload: dict[str, Any],
    at: datetime,
    system_id: str | None = None,
) -> EventRecord:
    """Append an audit event inside the caller's transaction (so both commit or neither).

    The event's canonical JSON (RFC 8785, `seq` included) is stored as written and is what
    its Merkle leaf hashes; the other columns are indexes over it.
    """
    seq = (conn.execute(sa.select(sa.func.max(t.events.c.seq))).scalar() or 0) + 1
    records = conn.info.pop("clearance_records", [])
    if records:
        payload = {**payload, "records": records}
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
        t.events.insert().values(
            seq=seq,
            at=to_time(at),
            type=type,
            actor=actor,
            system_id=system_id,
            subject=subject,
            payload=_dumps(payload),
            entry=entry.decode(),
            leaf_hash=leaf,
        )
    )
    conn.info.setdefault("clearance_events", []).append(seq)
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


def leaf_hashes(conn: Connection, upto: int) -> list[bytes]:
    """The stored leaf hashes of events 1..upto, in order."""
    rows = conn.execute(
        sa.select(t.events.c.leaf_hash).where(t.events.c.seq <= upto).order_by(t.events.c.seq)
    )
    return [bytes.fromhex(h) for h in rows.scalars()]


# checkpoints and keys ---------------------------------------------------------------------


def insert_checkpoint(conn: Connection, cp: Checkpoint, frontier: Any) -> None:
    conn.execute(
        t.checkpoints.insert().values(
            size=cp.size,
            root=cp.root,
            at=cp.at,
            key_id=cp.key_id,
            signature=cp.signature,
            frontier=_dumps(frontier),
        )
    )


def latest_checkpoint(conn: Connection) -> tuple[Checkpoint, Any] | None:
    row = conn.execute(sa.select(t.checkpoints).order_by(t.checkpoints.c.size.desc())).first()
    if row is None:
        return None
    return _checkpoint(row), json.loads(row.frontier)


def checkpoints(conn: Connection) -> list[Checkpoint]:
    rows = conn.execute(sa.select(t.checkpoints).order_by(t.checkpoints.c.size))
    return [_checkpoint(r) for r in rows]


def _checkpoint(row: Any) -> Checkpoint:
    return Checkpoint(row.size, row.root, row.at, row.key_id, row.signature)


def insert_key(conn: Connection, key_id: str, purpose: str, public_key: str, at: datetime) -> None:
    _insert(
        conn,
        t.keys,
        {
            "key_id": key_id,
            "purpose": purpose,
            "public_key": public_key,
            "valid_from": to_time(at),
            "created_at": to_time(at),
        },
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
