"""Signed revocations of release attestations (insert-only): rows in, rows out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clearance.store import tables as t
from clearance.store.records import from_time, to_time

if TYPE_CHECKING:
    from clearance.store.uow import Inserted, UnitOfWork


@dataclass(frozen=True)
class RevocationRecord:
    id: int
    candidate: str
    system_id: str
    target: str
    attestations: tuple[str, ...]  # attestation ids (sha256 of the signed statement)
    reason: str
    revoked_by: str
    envelope: dict[str, Any]
    created_at: datetime


def insert_revocation(uow: UnitOfWork, r: RevocationRecord) -> Inserted:
    return uow.insert(
        t.attestation_revocations,
        {
            "candidate": r.candidate,
            "system_id": r.system_id,
            "target": r.target,
            "attestations": json.dumps(list(r.attestations)),
            "reason": r.reason,
            "revoked_by": r.revoked_by,
            "envelope": json.dumps(r.envelope, sort_keys=True, separators=(",", ":")),
            "created_at": to_time(r.created_at),
        },
    )


def revocations(conn: Connection, candidate: str | None = None) -> list[RevocationRecord]:
    """Every revocation (of `candidate` only, if given), oldest first."""
    query = sa.select(t.attestation_revocations).order_by(t.attestation_revocations.c.id)
    if candidate is not None:
        query = query.where(t.attestation_revocations.c.candidate == candidate)
    return [
        RevocationRecord(
            id=row.id,
            candidate=row.candidate,
            system_id=row.system_id,
            target=row.target,
            attestations=tuple(json.loads(row.attestations)),
            reason=row.reason,
            revoked_by=row.revoked_by,
            envelope=json.loads(row.envelope),
            created_at=from_time(row.created_at),
        )
        for row in conn.execute(query)
    ]
