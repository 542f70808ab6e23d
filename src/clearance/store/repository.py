"""Insert-only repositories: functions over a connection. They never commit or update."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clearance.core.digest import canonical_json
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


# systems ---------------------------------------------------------------------------------


def ensure_system(conn: Connection, system_id: str, name: str, owner: str, at: datetime) -> bool:
    """Record a system the first time it is seen; True when it was new."""
    exists = conn.execute(sa.select(t.systems.c.id).where(t.systems.c.id == system_id)).first()
    if exists:
        return False
    conn.execute(
        t.systems.insert().values(id=system_id, name=name, owner=owner, created_at=to_time(at))
    )
    return True


def list_systems(conn: Connection) -> list[str]:
    return list(conn.execute(sa.select(t.systems.c.id).order_by(t.systems.c.id)).scalars())


# plan revisions --------------------------------------------------------------------------


def insert_revision(conn: Connection, rev: RevisionRecord) -> None:
    conn.execute(
        t.revisions.insert().values(
            digest=rev.digest,
            system_id=rev.system_id,
            version=rev.version,
            author=rev.author,
            message=rev.message,
            filename=rev.filename,
            document=_dumps(rev.document),
            created_at=to_time(rev.created_at),
        )
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
    conn.execute(
        t.candidates.insert().values(
            digest=cand.digest,
            revision=cand.revision,
            system_id=cand.system_id,
            version=cand.version,
            components=_dumps([c.as_json() for c in cand.components]),
            created_by=cand.created_by,
            created_at=to_time(cand.created_at),
        )
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
        conn.execute(t.evidence.insert(), [{**r, "added_at": to_time(r["added_at"])} for r in rows])


def evidence_of(conn: Connection, candidate: str) -> list[EvidenceRecord]:
    rows = conn.execute(
        sa.select(t.evidence).where(t.evidence.c.candidate == candidate).order_by(t.evidence.c.id)
    )
    return [EvidenceRecord.from_row(r) for r in rows]


# approvals -------------------------------------------------------------------------------


def insert_approval(
    conn: Connection, system_id: str, version: str, approval: ApprovalRecord
) -> int:
    result = conn.execute(
        t.approvals.insert().values(
            system_id=system_id,
            version=version,
            candidate=approval.candidate,
            role=approval.role,
            person=approval.person,
            decision=approval.decision,
            comment=approval.comment,
            created_at=to_time(approval.at),
        )
    )
    return int(result.inserted_primary_key[0])


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
        )
        for r in rows
    ]


# decisions -------------------------------------------------------------------------------


def insert_decision(conn: Connection, values: dict[str, Any]) -> int:
    row = {
        **values,
        "results": _dumps(values["results"]),
        "metrics": _dumps(values["metrics"]),
        "evaluated_at": to_time(values["evaluated_at"]),
    }
    return int(conn.execute(t.decisions.insert().values(**row)).inserted_primary_key[0])


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
    return int(conn.execute(t.releases.insert().values(**row)).inserted_primary_key[0])


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


def event_leaf_hash(event: dict[str, Any]) -> str:
    """RFC 6962 leaf hash of an event: sha256(0x00 || canonical JSON)."""
    return hashlib.sha256(b"\x00" + canonical_json(event)).hexdigest()


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
    """Append an audit event inside the caller's transaction (so both commit or neither)."""
    seq = (conn.execute(sa.select(sa.func.max(t.events.c.seq))).scalar() or 0) + 1
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
    leaf = event_leaf_hash(record.as_json())
    conn.execute(
        t.events.insert().values(
            seq=seq,
            at=to_time(at),
            type=type,
            actor=actor,
            system_id=system_id,
            subject=subject,
            payload=_dumps(payload),
            leaf_hash=leaf,
        )
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
