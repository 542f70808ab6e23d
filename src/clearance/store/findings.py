"""Insert-only repositories for acceptances of findings and acknowledgements of interested
parties: each row keeps the signed statement it was recorded from, and its digest is what
the log must hold for it to count."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clearance.store import tables as t
from clearance.store.records import from_time, to_time
from clearance.store.repository import record_digest
from clearance.store.uow import Inserted, UnitOfWork


def _dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class AcceptanceRow:
    id: int
    candidate: str
    system_id: str
    criterion_id: str
    scope: str
    finding: str
    place: str
    person: str
    role: str
    justification: str
    expires_at: datetime
    envelope: dict[str, Any]
    created_at: datetime
    digest: str = ""


@dataclass(frozen=True)
class AcknowledgementRow:
    id: int
    candidate: str
    system_id: str
    version: str
    party: str
    party_digest: str
    person: str
    role: str
    comment: str
    envelope: dict[str, Any]
    created_at: datetime
    digest: str = ""


def insert_acceptance(uow: UnitOfWork, row: AcceptanceRow) -> Inserted:
    return uow.insert(
        t.finding_acceptances,
        {
            "candidate": row.candidate,
            "system_id": row.system_id,
            "criterion_id": row.criterion_id,
            "scope": row.scope,
            "finding": row.finding,
            "place": row.place,
            "person": row.person,
            "role": row.role,
            "justification": row.justification,
            "expires_at": to_time(row.expires_at),
            "envelope": _dumps(row.envelope),
            "created_at": to_time(row.created_at),
        },
    )


def acceptances_of(conn: Connection, candidate: str) -> list[AcceptanceRow]:
    """The acceptances recorded for a candidate, oldest first."""
    table = t.finding_acceptances
    rows = conn.execute(sa.select(table).where(table.c.candidate == candidate).order_by(table.c.id))
    return _acceptances(rows)


def acceptances_of_release(conn: Connection, system_id: str, version: str) -> list[AcceptanceRow]:
    """The acceptances recorded for every candidate of a release, oldest first: the gate
    counts only the current candidate's, and says that earlier ones do not carry over."""
    table = t.finding_acceptances
    rows = conn.execute(
        sa.select(table)
        .join(t.candidates, t.candidates.c.digest == table.c.candidate)
        .where(t.candidates.c.system_id == system_id)
        .where(t.candidates.c.version == version)
        .order_by(table.c.id)
    )
    return _acceptances(rows)


def _acceptances(rows: Any) -> list[AcceptanceRow]:
    table = t.finding_acceptances
    return [
        AcceptanceRow(
            id=r.id,
            candidate=r.candidate,
            system_id=r.system_id,
            criterion_id=r.criterion_id,
            scope=r.scope,
            finding=r.finding,
            place=r.place,
            person=r.person,
            role=r.role,
            justification=r.justification,
            expires_at=from_time(r.expires_at),
            envelope=json.loads(r.envelope),
            created_at=from_time(r.created_at),
            digest=record_digest(table.name, r._mapping),
        )
        for r in rows
    ]


def insert_acknowledgement(uow: UnitOfWork, row: AcknowledgementRow) -> Inserted:
    return uow.insert(
        t.acknowledgements,
        {
            "candidate": row.candidate,
            "system_id": row.system_id,
            "version": row.version,
            "party": row.party,
            "party_digest": row.party_digest,
            "person": row.person,
            "role": row.role,
            "comment": row.comment,
            "envelope": _dumps(row.envelope),
            "created_at": to_time(row.created_at),
        },
    )


def acknowledgements_of(conn: Connection, system_id: str, version: str) -> list[AcknowledgementRow]:
    """The acknowledgements recorded for a release (every candidate of it), oldest first:
    the gate counts only the current candidate's, and says why earlier ones do not."""
    table = t.acknowledgements
    rows = conn.execute(
        sa.select(table)
        .where(table.c.system_id == system_id)
        .where(table.c.version == version)
        .order_by(table.c.id)
    )
    return [
        AcknowledgementRow(
            id=r.id,
            candidate=r.candidate,
            system_id=r.system_id,
            version=r.version,
            party=r.party,
            party_digest=r.party_digest,
            person=r.person,
            role=r.role,
            comment=r.comment,
            envelope=json.loads(r.envelope),
            created_at=from_time(r.created_at),
            digest=record_digest(table.name, r._mapping),
        )
        for r in rows
    ]
