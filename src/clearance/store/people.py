"""Repositories of who may act: people, their roles and keys, administrators' signed
statements, declared target environments and policies. Insert-only; never commit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clearance.core.identity import Person, PersonKey, RoleGrant
from clearance.store import tables as t
from clearance.store.records import from_time, to_time
from clearance.store.repository import _dumps, record_digest
from clearance.store.uow import Inserted, UnitOfWork


@dataclass(frozen=True)
class AdminStatement:
    id: int
    action: str
    actor: str
    subject: str
    envelope: dict[str, Any]
    created_at: datetime
    digest: str


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    declared_by: str
    created_at: datetime


@dataclass(frozen=True)
class PolicyRow:
    digest: str
    document: dict[str, Any]
    created_by: str
    created_at: datetime


# people ----------------------------------------------------------------------------------


def _row(conn: Connection, name: str) -> Any:
    return conn.execute(sa.select(t.people).where(t.people.c.name == name)).first()


def get_person(conn: Connection, name: str, *, keys: bool = True) -> Person | None:
    """A person with the roles they hold now and (unless `keys` is false: an API caller
    needs only their roles) every key of their identity."""
    from clearance.signing import unb64

    row = _row(conn, name)
    if row is None:
        return None
    held: dict[RoleGrant, bool] = {}
    grants = conn.execute(
        sa.select(t.role_grants).where(t.role_grants.c.person == name).order_by(t.role_grants.c.id)
    )
    for g in grants:
        held[RoleGrant(g.role, g.system_id)] = g.action == "grant"
    roles = [g for g, on in held.items() if on]
    if not keys:
        return Person(name, row.identity, roles, [], kind=row.kind or "person")
    names = sa.select(t.people.c.name).where(t.people.c.identity == row.identity)
    rows = conn.execute(
        sa.select(t.person_keys, t.key_retirements.c.at.label("retired_at"))
        .outerjoin(t.key_retirements, t.key_retirements.c.key_id == t.person_keys.c.key_id)
        .where(t.person_keys.c.person.in_(names))
        .order_by(t.person_keys.c.valid_from)
    )
    found = [PersonKey(k.key_id, unb64(k.public_key), k.valid_from, k.retired_at) for k in rows]
    return Person(name, row.identity, roles, found, kind=row.kind or "person")


def person_by_key(conn: Connection, key_id: str) -> Person | None:
    """The person a key is registered to."""
    name = conn.execute(
        sa.select(t.person_keys.c.person).where(t.person_keys.c.key_id == key_id)
    ).scalar()
    return get_person(conn, name) if name is not None else None


def all_people(conn: Connection) -> list[Person]:
    names = list(conn.execute(sa.select(t.people.c.name).order_by(t.people.c.name)).scalars())
    return [p for n in names if (p := get_person(conn, n)) is not None]


def count_people(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(t.people)).scalar() or 0)


def identities(conn: Connection, names: set[str]) -> set[str]:
    """The identities behind these names (names not registered stand for themselves)."""
    rows = conn.execute(
        sa.select(t.people.c.name, t.people.c.identity).where(t.people.c.name.in_(names))
    )
    found: dict[str, str] = {name: identity for name, identity in rows}
    return {found.get(n, n) for n in names}


def administrators(conn: Connection) -> list[str]:
    return sorted(p.name for p in all_people(conn) if p.admin)


def insert_person(
    uow: UnitOfWork, name: str, identity: str, by: str, at: datetime, kind: str = "person"
) -> Inserted:
    values = {"name": name, "identity": identity, "created_by": by, "created_at": to_time(at)}
    if kind != "person":  # NULL stands for a person, as in rows written before kinds existed
        values["kind"] = kind
    return uow.insert(t.people, values)


def insert_grant(
    uow: UnitOfWork, name: str, grant: RoleGrant, action: str, by: str, at: datetime
) -> Inserted:
    return uow.insert(
        t.role_grants,
        {
            "person": name,
            "role": grant.role,
            "system_id": grant.system_id,
            "action": action,
            "by": by,
            "at": to_time(at),
        },
    )


# keys ------------------------------------------------------------------------------------


def key_holder(conn: Connection, key_id: str) -> str | None:
    holder: str | None = conn.execute(
        sa.select(t.person_keys.c.person).where(t.person_keys.c.key_id == key_id)
    ).scalar()
    return holder


def keys_matching(conn: Connection, prefix: str) -> list[tuple[str, str]]:
    """(key id, person) of registered keys whose id starts with `prefix` (hex, with or
    without `sha256:`)."""
    prefix = prefix if prefix.startswith("sha256:") else "sha256:" + prefix
    rows = conn.execute(
        sa.select(t.person_keys.c.key_id, t.person_keys.c.person).where(
            t.person_keys.c.key_id.startswith(prefix, autoescape=True)
        )
    )
    return [(r.key_id, r.person) for r in rows]


def insert_person_key(
    uow: UnitOfWork, name: str, key_id: str, public_b64: str, at: datetime
) -> Inserted:
    moment = to_time(at)
    return uow.insert(
        t.person_keys,
        {
            "key_id": key_id,
            "person": name,
            "public_key": public_b64,
            "valid_from": moment,
            "created_at": moment,
        },
    )


def retired_at(conn: Connection, key_id: str) -> str | None:
    at: str | None = conn.execute(
        sa.select(t.key_retirements.c.at).where(t.key_retirements.c.key_id == key_id)
    ).scalar()
    return at


def insert_retirement(uow: UnitOfWork, key_id: str, by: str, at: datetime) -> Inserted:
    return uow.insert(t.key_retirements, {"key_id": key_id, "by": by, "at": to_time(at)})


def person_keys_with_holders(conn: Connection) -> list[dict[str, Any]]:
    """Every person key with its holder, identity and validity window (for packs)."""
    rows = conn.execute(
        sa.select(t.person_keys, t.people.c.identity, t.key_retirements.c.at.label("retired"))
        .join(t.people, t.people.c.name == t.person_keys.c.person)
        .outerjoin(t.key_retirements, t.key_retirements.c.key_id == t.person_keys.c.key_id)
        .order_by(t.person_keys.c.valid_from)
    )
    return [
        {
            "key_id": r.key_id,
            "person": r.person,
            "identity": r.identity,
            "public_key": r.public_key,
            "valid_from": r.valid_from,
            "valid_until": r.retired,
        }
        for r in rows
    ]


# administrators' statements, targets, policies ---------------------------------------------


def insert_admin_statement(
    uow: UnitOfWork, action: str, actor: str, subject: str, envelope: dict[str, Any], at: datetime
) -> Inserted:
    return uow.insert(
        t.admin_statements,
        {
            "action": action,
            "actor": actor,
            "subject": subject,
            "envelope": _dumps(envelope),
            "created_at": to_time(at),
        },
    )


def admin_statements(conn: Connection) -> list[AdminStatement]:
    rows = conn.execute(sa.select(t.admin_statements).order_by(t.admin_statements.c.id))
    return [
        AdminStatement(
            r.id,
            r.action,
            r.actor,
            r.subject,
            json.loads(r.envelope),
            from_time(r.created_at),
            record_digest("admin_statements", r._mapping),
        )
        for r in rows
    ]


def admin_statement_recorded(conn: Connection, envelope: dict[str, Any]) -> bool:
    """Whether exactly this signed statement was recorded already."""
    found = conn.execute(
        sa.select(t.admin_statements.c.id).where(t.admin_statements.c.envelope == _dumps(envelope))
    ).first()
    return found is not None


def insert_target(uow: UnitOfWork, name: str, description: str, by: str, at: datetime) -> Inserted:
    return uow.insert(
        t.targets,
        {"name": name, "description": description, "declared_by": by, "created_at": to_time(at)},
    )


def targets(conn: Connection) -> dict[str, Target]:
    rows = conn.execute(sa.select(t.targets).order_by(t.targets.c.name))
    return {
        r.name: Target(r.name, r.description, r.declared_by, from_time(r.created_at)) for r in rows
    }


def insert_policy(
    uow: UnitOfWork, digest: str, document: dict[str, Any], by: str, at: datetime
) -> Inserted:
    return uow.insert(
        t.policies,
        {
            "digest": digest,
            "document": _dumps(document),
            "created_by": by,
            "created_at": to_time(at),
        },
    )


def latest_policy(conn: Connection) -> PolicyRow | None:
    row = conn.execute(sa.select(t.policies).order_by(t.policies.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    return PolicyRow(
        row.digest, json.loads(row.document), row.created_by, from_time(row.created_at)
    )
