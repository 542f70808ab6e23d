"""Repositories of browser sign-in: password hashes (the newest row of a person wins),
OpenID Connect subjects linked to people, and web sessions (stored by the digest of their
id, ended by inserting a row). Insert-only; never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clearance.store import tables as t
from clearance.store.records import from_time, to_time
from clearance.store.uow import Inserted, UnitOfWork


@dataclass(frozen=True)
class SessionRow:
    id: int
    session_hash: str
    person: str
    method: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None


def insert_password(
    uow: UnitOfWork, person: str, hashed: str, set_by: str, at: datetime
) -> Inserted:
    return uow.insert(
        t.passwords,
        {"person": person, "hash": hashed, "set_by": set_by, "created_at": to_time(at)},
    )


def current_password(conn: Connection, person: str) -> str | None:
    """The argon2 hash of the person's newest password row, if they have one."""
    found: str | None = conn.execute(
        sa.select(t.passwords.c.hash)
        .where(t.passwords.c.person == person)
        .order_by(t.passwords.c.id.desc())
        .limit(1)
    ).scalar()
    return found


def insert_oidc_link(
    uow: UnitOfWork, issuer: str, subject: str, person: str, by: str, at: datetime
) -> Inserted:
    return uow.insert(
        t.oidc_links,
        {
            "issuer": issuer,
            "subject": subject,
            "person": person,
            "created_by": by,
            "created_at": to_time(at),
        },
    )


def linked_person(conn: Connection, issuer: str, subject: str) -> str | None:
    found: str | None = conn.execute(
        sa.select(t.oidc_links.c.person).where(
            t.oidc_links.c.issuer == issuer, t.oidc_links.c.subject == subject
        )
    ).scalar()
    return found


def insert_session(
    uow: UnitOfWork,
    session_hash: str,
    person: str,
    method: str,
    at: datetime,
    expires_at: datetime,
) -> Inserted:
    return uow.insert(
        t.web_sessions,
        {
            "session_hash": session_hash,
            "person": person,
            "method": method,
            "created_at": to_time(at),
            "expires_at": to_time(expires_at),
        },
    )


def get_session(conn: Connection, session_hash: str) -> SessionRow | None:
    s, e = t.web_sessions, t.web_session_ends
    row = conn.execute(
        sa.select(s, e.c.at.label("ended_at"))
        .outerjoin(e, e.c.session_id == s.c.id)
        .where(s.c.session_hash == session_hash)
    ).first()
    if row is None:
        return None
    m = row._mapping
    return SessionRow(
        id=int(m["id"]),
        session_hash=str(m["session_hash"]),
        person=str(m["person"]),
        method=str(m["method"]),
        created_at=from_time(str(m["created_at"])),
        expires_at=from_time(str(m["expires_at"])),
        ended_at=from_time(str(m["ended_at"])) if m["ended_at"] else None,
    )


def insert_session_end(uow: UnitOfWork, session_id: int, reason: str, at: datetime) -> Inserted:
    return uow.insert(
        t.web_session_ends, {"session_id": session_id, "reason": reason, "at": to_time(at)}
    )
