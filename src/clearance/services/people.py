"""People, their roles (organisation-wide or per system) and their public keys.

A person is counted by identity: a name registered with a key some other name already holds
becomes another name of that identity, so two accounts or two keys never count twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from clearance.errors import NotFoundError, UsageError
from clearance.services.workspace import Workspace, record_event

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class RoleGrant:
    role: str
    system_id: str | None  # None: organisation-wide

    def __str__(self) -> str:
        return f"{self.system_id}:{self.role}" if self.system_id else self.role

    @classmethod
    def parse(cls, text: str) -> RoleGrant:
        """`ROLE` (organisation-wide) or `SYSTEM:ROLE` (one system)."""
        system, _, role = text.strip().rpartition(":")
        if not role or not all(c.isalnum() or c in "._-" for c in role):
            raise UsageError(f'"{text}" is not a role; write ROLE or SYSTEM:ROLE, e.g. model-risk')
        return cls(role.lower(), system or None)


@dataclass(frozen=True)
class PersonKey:
    key_id: str
    public_raw: bytes
    valid_from: str
    retired_at: str | None

    def valid_at(self, at: str) -> bool:
        return self.valid_from <= at and (self.retired_at is None or at < self.retired_at)


@dataclass
class Person:
    name: str
    identity: str
    roles: list[RoleGrant] = field(default_factory=list)
    keys: list[PersonKey] = field(default_factory=list)

    def holds(self, role: str, system_id: str) -> bool:
        return any(g.role == role and g.system_id in (None, system_id) for g in self.roles)


def _t() -> Any:
    from clearance.store import tables

    return tables


def add_person(
    ws: Workspace,
    name: str,
    roles: list[str],
    actor: str,
    public_raw: bytes | None = None,
    same_as: str | None = None,
) -> Person:
    """Register a person with roles and, optionally, a public key."""
    from clearance.signing import key_id
    from clearance.store.records import to_time

    name = name.strip()
    if not name:
        raise UsageError("a person needs a name, e.g. dana@example.com")
    grants = [RoleGrant.parse(r) for r in roles]
    t, now = _t(), to_time(ws.clock())
    with ws.transaction() as conn:
        if _row(conn, name) is not None:
            raise UsageError(
                f"{name} is already registered; use `clearance people grant` "
                "or `clearance keys add`"
            )
        identity, shared = name, False
        if same_as:
            other = _row(conn, same_as)
            if other is None:
                raise NotFoundError(f"--same-as {same_as}: no such person")
            identity = other.identity
        if public_raw is not None:
            holder = conn.execute(
                sa.select(t.people.c.identity)
                .join(t.person_keys, t.person_keys.c.person == t.people.c.name)
                .where(t.person_keys.c.key_id == key_id(public_raw))
            ).scalar()
            if holder is not None:
                identity, shared = holder, True  # the same key: the same person, any name
        _insert(
            conn,
            t.people,
            {"name": name, "identity": identity, "created_by": actor, "created_at": now},
        )
        record_event(conn, ws, "person.registered", actor, name, {"identity": identity})
        for grant in grants:
            _grant(conn, ws, name, grant, "grant", actor, now)
        if public_raw is not None and not shared:
            _add_key(conn, ws, name, public_raw, actor, now)
    return person(ws, name)


def grant_role(ws: Workspace, name: str, role: str, actor: str, action: str = "grant") -> Person:
    from clearance.store.records import to_time

    grant = RoleGrant.parse(role)
    with ws.transaction() as conn:
        if _row(conn, name) is None:
            raise NotFoundError(f"no person {name}; register them with `clearance people add`")
        _grant(conn, ws, name, grant, action, actor, to_time(ws.clock()))
    return person(ws, name)


def add_key(ws: Workspace, name: str, public_raw: bytes, actor: str) -> str:
    from clearance.signing import key_id
    from clearance.store.records import to_time

    with ws.transaction() as conn:
        if _row(conn, name) is None:
            raise NotFoundError(f"no person {name}; register them with `clearance people add`")
        _add_key(conn, ws, name, public_raw, actor, to_time(ws.clock()))
    return key_id(public_raw)


def retire_key(ws: Workspace, key: str, actor: str) -> None:
    """Stop a key from signing from now on; what it signed before still verifies."""
    from clearance.store.records import to_time

    t = _t()
    with ws.transaction() as conn:
        row = conn.execute(sa.select(t.person_keys).where(t.person_keys.c.key_id == key)).first()
        if row is None:
            raise NotFoundError(f"no registered key {key}")
        done = conn.execute(
            sa.select(t.key_retirements).where(t.key_retirements.c.key_id == key)
        ).first()
        if done is not None:
            raise UsageError(f"key {key} was already retired on {done.at}")
        _insert(conn, t.key_retirements, {"key_id": key, "by": actor, "at": to_time(ws.clock())})
        record_event(conn, ws, "key.retired", actor, key, {"person": row.person})


def person(ws: Workspace, name: str) -> Person:
    with ws.engine.connect() as conn:
        found = load_person(conn, name)
    if found is None:
        raise NotFoundError(f"no person {name}; register them with `clearance people add`")
    return found


def people(ws: Workspace) -> list[Person]:
    t = _t()
    with ws.engine.connect() as conn:
        names = conn.execute(sa.select(t.people.c.name).order_by(t.people.c.name)).scalars()
        return [p for n in list(names) if (p := load_person(conn, n)) is not None]


def load_person(conn: Connection, name: str) -> Person | None:
    """A person with the roles they hold now and all their keys (with validity windows)."""
    from clearance.signing import unb64

    t = _t()
    row = _row(conn, name)
    if row is None:
        return None
    held: dict[RoleGrant, bool] = {}
    grants = conn.execute(
        sa.select(t.role_grants).where(t.role_grants.c.person == name).order_by(t.role_grants.c.id)
    )
    for g in grants:
        held[RoleGrant(g.role, g.system_id)] = g.action == "grant"
    retired: dict[str, str] = {
        key: at
        for key, at in conn.execute(sa.select(t.key_retirements.c.key_id, t.key_retirements.c.at))
    }
    # every key of every name of this identity signs for it
    names = sa.select(t.people.c.name).where(t.people.c.identity == row.identity)
    keys = [
        PersonKey(k.key_id, unb64(k.public_key), k.valid_from, retired.get(k.key_id))
        for k in conn.execute(
            sa.select(t.person_keys)
            .where(t.person_keys.c.person.in_(names))
            .order_by(t.person_keys.c.valid_from)
        )
    ]
    return Person(name, row.identity, [g for g, on in held.items() if on], keys)


def identities(conn: Connection, names: set[str]) -> set[str]:
    """The identities behind these names (names not registered stand for themselves)."""
    t = _t()
    rows = conn.execute(
        sa.select(t.people.c.name, t.people.c.identity).where(t.people.c.name.in_(names))
    )
    found: dict[str, str] = {name: identity for name, identity in rows}
    return {found.get(n, n) for n in names}


def _row(conn: Connection, name: str) -> Any:
    t = _t()
    return conn.execute(sa.select(t.people).where(t.people.c.name == name)).first()


def _insert(conn: Connection, table: Any, values: dict[str, Any]) -> None:
    from clearance.store.repository import _insert as insert

    insert(conn, table, values)


def _grant(
    conn: Connection, ws: Workspace, name: str, grant: RoleGrant, action: str, actor: str, at: str
) -> None:
    _insert(
        conn,
        _t().role_grants,
        {
            "person": name,
            "role": grant.role,
            "system_id": grant.system_id,
            "action": action,
            "by": actor,
            "at": at,
        },
    )
    record_event(
        conn,
        ws,
        f"role.{action}ed" if action == "grant" else "role.revoked",
        actor,
        name,
        {"role": grant.role, "system_id": grant.system_id},
    )


def _add_key(
    conn: Connection, ws: Workspace, name: str, public_raw: bytes, actor: str, at: str
) -> None:
    from clearance.signing import b64, key_id

    t = _t()
    kid = key_id(public_raw)
    if conn.execute(sa.select(t.person_keys).where(t.person_keys.c.key_id == kid)).first():
        raise UsageError(f"key {kid} is already registered")
    _insert(
        conn,
        t.person_keys,
        {
            "key_id": kid,
            "person": name,
            "public_key": b64(public_raw),
            "valid_from": at,
            "created_at": at,
        },
    )
    record_event(
        conn, ws, "key.registered", actor, kid, {"person": name, "public_key": b64(public_raw)}
    )


def valid_keys(p: Person, at: datetime) -> dict[str, bytes]:
    from clearance.store.records import to_time

    moment = to_time(at)
    return {k.key_id: k.public_raw for k in p.keys if k.valid_at(moment)}
