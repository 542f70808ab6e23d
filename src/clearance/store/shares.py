"""Repositories of reviewer links: the links (only their token's SHA-256), their
revocations, and the events that log each use. Insert-only; never commit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clearance.store import tables as t
from clearance.store.records import CandidateRecord, EventRecord, from_time, to_time
from clearance.store.uow import Inserted, UnitOfWork

#: the subject of every event about a link: its id, never its token
SUBJECT = "share:{id}"
#: events that record a use of a link (a page viewed, a file downloaded)
ACCESS_EVENTS = ("share.viewed", "share.downloaded")


@dataclass(frozen=True)
class SharedRelease:
    """One release a link shows, pinned to the candidate current when it was shared."""

    system_id: str
    version: str
    candidate: str

    def as_json(self) -> dict[str, str]:
        return {"system_id": self.system_id, "version": self.version, "candidate": self.candidate}

    @property
    def label(self) -> str:
        return f"{self.system_id}@{self.version}"


@dataclass(frozen=True)
class LinkRow:
    id: int
    releases: tuple[SharedRelease, ...]
    note: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None

    @property
    def subject(self) -> str:
        return SUBJECT.format(id=self.id)

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"

    def usable(self, now: datetime) -> bool:
        return self.state(now) == "active"


def _select() -> sa.Select[tuple[object, ...]]:
    r = t.share_revocations
    return sa.select(
        t.share_links, r.c.at.label("revoked_at"), r.c.by.label("revoked_by")
    ).outerjoin(r, r.c.link_id == t.share_links.c.id)


def _row(row: sa.Row[tuple[object, ...]]) -> LinkRow:
    m = row._mapping
    return LinkRow(
        id=int(m["id"]),
        releases=tuple(SharedRelease(**r) for r in json.loads(str(m["releases"]))),
        note=str(m["note"]),
        created_by=str(m["created_by"]),
        created_at=from_time(str(m["created_at"])),
        expires_at=from_time(str(m["expires_at"])),
        revoked_at=from_time(str(m["revoked_at"])) if m["revoked_at"] else None,
        revoked_by=str(m["revoked_by"]) if m["revoked_by"] else None,
    )


def insert_link(
    uow: UnitOfWork,
    token_hash: str,
    releases: list[SharedRelease],
    note: str,
    by: str,
    expires_at: datetime,
) -> Inserted:
    return uow.insert(
        t.share_links,
        {
            "token_hash": token_hash,
            "releases": json.dumps([r.as_json() for r in releases], sort_keys=True),
            "note": note,
            "created_by": by,
            "created_at": to_time(uow.clock()),
            "expires_at": to_time(expires_at),
        },
    )


def insert_revocation(uow: UnitOfWork, link_id: int, by: str) -> Inserted:
    return uow.insert(
        t.share_revocations, {"link_id": link_id, "by": by, "at": to_time(uow.clock())}
    )


def link_by_hash(conn: Connection, token_hash: str) -> LinkRow | None:
    row = conn.execute(_select().where(t.share_links.c.token_hash == token_hash)).first()
    return _row(row) if row is not None else None


def link_by_id(conn: Connection, link_id: int) -> LinkRow | None:
    row = conn.execute(_select().where(t.share_links.c.id == link_id)).first()
    return _row(row) if row is not None else None


def links(conn: Connection) -> list[LinkRow]:
    return [_row(r) for r in conn.execute(_select().order_by(t.share_links.c.id))]


def latest_candidate(conn: Connection, system_id: str, version: str) -> CandidateRecord | None:
    """The release's most recent candidate (the one its latest check or submission made)."""
    row = conn.execute(
        sa.select(t.candidates)
        .where(t.candidates.c.system_id == system_id, t.candidates.c.version == version)
        .order_by(t.candidates.c.id.desc())
        .limit(1)
    ).first()
    return CandidateRecord.from_row(row) if row is not None else None


def versions_of(conn: Connection, system_id: str) -> list[str]:
    rows = conn.execute(
        sa.select(t.candidates.c.version)
        .where(t.candidates.c.system_id == system_id)
        .group_by(t.candidates.c.version)
        .order_by(sa.func.min(t.candidates.c.id))
    )
    return [str(v) for (v,) in rows]


def access_events(conn: Connection, link_ids: list[int]) -> list[EventRecord]:
    """The events logging uses of these links, oldest first."""
    if not link_ids:
        return []
    subjects = [SUBJECT.format(id=i) for i in link_ids]
    rows = conn.execute(
        sa.select(t.events)
        .where(t.events.c.subject.in_(subjects), t.events.c.type.in_(ACCESS_EVENTS))
        .order_by(t.events.c.seq)
    )
    return [EventRecord.from_row(r) for r in rows]


def access_counts(conn: Connection) -> dict[str, int]:
    """How many logged uses each link subject has."""
    rows = conn.execute(
        sa.select(t.events.c.subject, sa.func.count())
        .where(t.events.c.type.in_(ACCESS_EVENTS), t.events.c.subject.startswith("share:"))
        .group_by(t.events.c.subject)
    )
    return {str(subject): int(count) for subject, count in rows}
