"""Repositories of the team server's access records: API tokens (only their hashes),
revocations, and the responses kept for idempotent retries. Insert-only; never commit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clearance.core.identity import Person
from clearance.store import tables as t
from clearance.store.records import from_time, to_time
from clearance.store.uow import Inserted, UnitOfWork


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    person: str
    scopes: tuple[str, ...]
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None


def _select() -> sa.Select[tuple[object, ...]]:
    r = t.token_revocations
    return sa.select(
        t.api_tokens, r.c.at.label("revoked_at"), r.c.by.label("revoked_by")
    ).outerjoin(r, r.c.token_id == t.api_tokens.c.id)


def _row(row: sa.Row[tuple[object, ...]]) -> TokenRow:
    m = row._mapping
    return TokenRow(
        id=int(m["id"]),
        name=str(m["name"]),
        person=str(m["person"]),
        scopes=tuple(json.loads(str(m["scopes"]))),
        created_by=str(m["created_by"]),
        created_at=from_time(str(m["created_at"])),
        expires_at=from_time(str(m["expires_at"])),
        revoked_at=from_time(str(m["revoked_at"])) if m["revoked_at"] else None,
        revoked_by=str(m["revoked_by"]) if m["revoked_by"] else None,
    )


def insert_token(
    uow: UnitOfWork,
    name: str,
    person: str,
    scopes: list[str],
    token_hash: str,
    by: str,
    expires_at: datetime,
) -> Inserted:
    return uow.insert(
        t.api_tokens,
        {
            "name": name,
            "person": person,
            "scopes": json.dumps(sorted(scopes)),
            "token_hash": token_hash,
            "created_by": by,
            "created_at": to_time(uow.clock()),
            "expires_at": to_time(expires_at),
        },
    )


def token_by_hash(conn: Connection, token_hash: str) -> TokenRow | None:
    row = conn.execute(_select().where(t.api_tokens.c.token_hash == token_hash)).first()
    return _row(row) if row is not None else None


def token_and_holder(conn: Connection, token_hash: str) -> tuple[TokenRow, Person] | None:
    """A token and the roles of the person it acts for, in one query (every API request
    asks this first)."""
    from clearance.core.identity import RoleGrant

    g = t.role_grants
    query = (
        _select()
        .add_columns(
            t.people.c.identity,
            t.people.c.kind,
            g.c.role,
            g.c.system_id,
            g.c.action,
        )
        .join(t.people, t.people.c.name == t.api_tokens.c.person)
        .outerjoin(g, g.c.person == t.api_tokens.c.person)
        .where(t.api_tokens.c.token_hash == token_hash)
        .order_by(g.c.id)
    )
    rows = conn.execute(query).all()
    if not rows:
        return None
    held: dict[RoleGrant, bool] = {}
    for r in rows:
        if r.role is not None:
            held[RoleGrant(r.role, r.system_id)] = r.action == "grant"
    token, first = _row(rows[0]), rows[0]
    roles = [grant for grant, on in held.items() if on]
    return token, Person(token.person, first.identity, roles, [], kind=first.kind or "person")


def token_by_name(conn: Connection, name: str) -> TokenRow | None:
    row = conn.execute(_select().where(t.api_tokens.c.name == name)).first()
    return _row(row) if row is not None else None


def tokens(conn: Connection) -> list[TokenRow]:
    return [_row(r) for r in conn.execute(_select().order_by(t.api_tokens.c.id))]


def insert_revocation(uow: UnitOfWork, token_id: int, by: str) -> Inserted:
    return uow.insert(
        t.token_revocations, {"token_id": token_id, "by": by, "at": to_time(uow.clock())}
    )


# idempotent retries ----------------------------------------------------------------------


@dataclass(frozen=True)
class KeptResponse:
    request: str
    status: int
    body: str


def kept_response(conn: Connection, caller: str, key: str) -> KeptResponse | None:
    c = t.idempotent_responses.c
    row = conn.execute(
        sa.select(c.request, c.status, c.body).where(c.caller == caller, c.key == key)
    ).first()
    return KeptResponse(row.request, int(row.status), row.body) if row is not None else None


def keep_response(
    conn: Connection, caller: str, key: str, request: str, status: int, body: str, at: datetime
) -> None:
    conn.execute(
        t.idempotent_responses.insert().values(
            caller=caller,
            key=key,
            request=request,
            status=status,
            body=body,
            created_at=to_time(at),
        )
    )
