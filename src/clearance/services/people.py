"""People, their roles (organisation-wide or per system) and their public keys.

Names are normalised e-mail addresses. A key belongs to one person: registering it under
another name is refused. Two names of one person are linked only on purpose (`same_as`),
and then count as one identity. Every change is a signed statement (see `admin`); the
very first administrator is made by `init`, before anyone can sign.
"""

from __future__ import annotations

import binascii
from typing import TYPE_CHECKING, Any

from clearance.core.identity import (
    InvalidName,
    Permission,
    Person,
    RoleGrant,
    Scope,
    normalise_name,
    valid_name,
)
from clearance.errors import ForbiddenError, NotFoundError, UsageError
from clearance.services.admin import accept, accept_admin, args, store
from clearance.services.auth import Principal, parse_role, require
from clearance.services.workspace import Workspace
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.store.uow import UnitOfWork


def _name(text: Any) -> str:
    try:
        return valid_name(str(text))
    except InvalidName as exc:
        raise UsageError(str(exc)) from None


def _public(text: Any) -> bytes:
    from clearance.signing import unb64

    try:
        raw = unb64(str(text))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise UsageError("the public key is not a raw 32-byte Ed25519 key in base64")
    return raw


def _existing(conn: Connection, name: str) -> Person:
    from clearance.store import people as repo

    found = repo.get_person(conn, name)
    if found is None:
        raise NotFoundError(f"no person {name}; an administrator registers them with `people add`")
    return found


def _register_key(
    uow: UnitOfWork, name: str, raw: bytes, actor: str, statement: Any = None
) -> list[Any]:
    from clearance.signing import b64, key_id
    from clearance.store import people as repo

    kid = key_id(raw)
    holder = repo.key_holder(uow.conn, kid)
    if holder is not None:
        raise UsageError(
            f"key {kid[:19]}… is already registered to {holder}; a key belongs to one person, "
            "so each person registers their own (`clearance keys generate`)"
        )
    inserted = repo.insert_person_key(uow, name, kid, b64(raw), uow.clock())
    records = [inserted, *([statement] if statement is not None else [])]
    uow.append(
        "key.registered",
        actor=actor,
        subject=kid,
        payload={"person": name, "public_key": b64(raw)},
        records=records,
    )
    return records


def bootstrap_admin(ws: Workspace, name: str, public_raw: bytes) -> Person:
    """Make `name` the workspace's first administrator; only while nobody is registered.
    Recorded by the workspace itself (the first administrator cannot be vouched for by
    anyone else)."""
    from clearance.core.identity import ADMIN
    from clearance.store import people as repo

    name = _name(name)
    with ws.transaction() as uow:
        if repo.count_people(uow.conn):
            raise ForbiddenError(
                "this workspace already has people and administrators; an administrator adds "
                "more with `clearance people add`"
            )
        now = uow.clock()
        person = repo.insert_person(uow, name, name, "clearance", now)
        grant = repo.insert_grant(uow, name, RoleGrant(ADMIN, None), "grant", "clearance", now)
        uow.append(
            "person.registered",
            actor="clearance",
            subject=name,
            payload={"identity": name, "first_admin": True},
            records=[person],
        )
        uow.append(
            "role.granted",
            actor="clearance",
            subject=name,
            payload={"role": ADMIN, "system_id": None},
            records=[grant],
        )
        _register_key(uow, name, public_raw, "clearance")
        return _existing(uow.conn, name)


@retrying()
def add_person(ws: Workspace, envelope: dict[str, Any], caller: Principal | None = None) -> Person:
    """Register a person, or a service account (`kind: service`, for CI: no key, so it never
    signs), with roles and, for a person, optionally a public key (administrators only)."""
    from clearance.core.identity import ADMIN, KINDS
    from clearance.store import people as repo

    with ws.transaction() as uow:
        signed = accept_admin(uow, envelope, "person.add", Permission.MANAGE_PEOPLE, caller)
        given = args(signed)
        name = _name(given.get("name", ""))
        grants = [parse_role(str(r)) for r in given.get("roles", [])]
        raw = _public(given["public_key"]) if given.get("public_key") else None
        kind = str(given.get("kind") or "person")
        if kind not in KINDS:
            raise UsageError(f"{kind!r} is not a kind of account; use person or service")
        if kind == "service" and (raw is not None or given.get("same_as")):
            raise UsageError(
                f"{name} is a service account: it calls the API with a token and holds no "
                "signing key (so it never signs off); drop --public-key and --same-as"
            )
        if kind == "service" and any(g.role == ADMIN for g in grants):
            raise UsageError("a service account cannot be an administrator")
        if repo.get_person(uow.conn, name) is not None:
            raise UsageError(
                f"{name} is already registered; use `clearance people grant` "
                "or `clearance keys add`"
            )
        identity = name
        if given.get("same_as"):
            other = repo.get_person(uow.conn, normalise_name(str(given["same_as"])))
            if other is None:
                raise NotFoundError(f"--same-as {given['same_as']}: no such person")
            identity = other.identity
        actor, now = signed.principal.name, uow.clock()
        statement = store(uow, signed, name)
        person = repo.insert_person(uow, name, identity, actor, now, kind)
        uow.append(
            "person.registered",
            actor=actor,
            subject=name,
            payload={"identity": identity, "statement": statement.id, "kind": kind},
            records=[person, statement],
        )
        for grant in grants:
            _grant(uow, name, grant, "grant", actor)
        if raw is not None:
            _register_key(uow, name, raw, actor)
        return _existing(uow.conn, name)


@retrying()
def change_role(ws: Workspace, envelope: dict[str, Any], caller: Principal | None = None) -> Person:
    """Grant or revoke a role (administrators only); the last administrator stays one."""
    from clearance.core.identity import ADMIN
    from clearance.store import people as repo

    with ws.transaction() as uow:
        signed = accept(uow, envelope, str(_action(envelope)), caller)
        action = str(signed.predicate["action"])
        if action not in ("role.grant", "role.revoke"):
            raise UsageError(f"{action} is not a role change")
        require(signed.principal, Permission.MANAGE_PEOPLE, repo.administrators(uow.conn))
        given = args(signed)
        name = _name(given.get("name", ""))
        grant = parse_role(str(given.get("role", "")))
        person = _existing(uow.conn, name)
        if repo.admin_statement_recorded(uow.conn, signed.envelope):
            return person  # a retry of a change already recorded
        verb = action.removeprefix("role.")
        last = repo.administrators(uow.conn) == [person.name]
        if verb == "revoke" and grant == RoleGrant(ADMIN, None) and last:
            raise UsageError(
                f"{person.name} is the last administrator; grant the role to someone else "
                "before revoking it"
            )
        statement = store(uow, signed, name)
        _grant(uow, name, grant, verb, signed.principal.name, statement)
        return _existing(uow.conn, name)


def _claim(envelope: dict[str, Any]) -> dict[str, Any]:
    """The predicate an unverified envelope claims: only to pick what to verify it as."""
    import base64
    import json

    try:
        found = json.loads(base64.b64decode(envelope["payload"]))["predicate"]
    except (KeyError, TypeError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _action(envelope: dict[str, Any]) -> Any:
    return _claim(envelope).get("action", "?")


def _args_of(envelope: dict[str, Any]) -> dict[str, Any]:
    found = _claim(envelope).get("args")
    return found if isinstance(found, dict) else {}


def _claimed(envelope: dict[str, Any]) -> str:
    return normalise_name(str(_claim(envelope).get("person", "")))


def _grant(
    uow: UnitOfWork,
    name: str,
    grant: RoleGrant,
    action: str,
    actor: str,
    statement: Any = None,
) -> None:
    from clearance.store import people as repo

    inserted = repo.insert_grant(uow, name, grant, action, actor, uow.clock())
    uow.append(
        "role.granted" if action == "grant" else "role.revoked",
        actor=actor,
        subject=name,
        payload={"role": grant.role, "system_id": grant.system_id},
        records=[inserted, *([statement] if statement is not None else [])],
    )


@retrying()
def add_key(ws: Workspace, envelope: dict[str, Any], caller: Principal | None = None) -> str:
    """Register another public key: your own (signed with a current key of yours), or
    anyone's by an administrator."""
    from clearance.signing import key_id
    from clearance.store import people as repo

    with ws.transaction() as uow:
        own = _name(_args_of(envelope).get("name", "")) == _claimed(envelope)
        signed = accept(uow, envelope, "key.add", caller, Scope.SIGN if own else Scope.ADMIN)
        given = args(signed)
        name = _name(given.get("name", ""))
        if name != signed.principal.name:
            require(signed.principal, Permission.MANAGE_KEYS, repo.administrators(uow.conn))
        if _existing(uow.conn, name).service:
            raise UsageError(
                f"{name} is a service account: it holds no signing key, so it never signs off"
            )
        raw = _public(given.get("public_key", ""))
        statement = store(uow, signed, name)
        _register_key(uow, name, raw, signed.principal.name, statement)
        return key_id(raw)


@retrying()
def retire_key(ws: Workspace, envelope: dict[str, Any], caller: Principal | None = None) -> str:
    """Stop a key from signing from now on (your own, or anyone's by an administrator);
    what it signed before still verifies."""
    from clearance.store import people as repo

    with ws.transaction() as uow:
        holder_claim = repo.key_holder(uow.conn, str(_args_of(envelope).get("key_id", "")))
        scope = Scope.SIGN if holder_claim == _claimed(envelope) else Scope.ADMIN
        signed = accept(uow, envelope, "key.retire", caller, scope)
        key = str(args(signed).get("key_id", ""))
        holder = repo.key_holder(uow.conn, key)
        if holder is None:
            raise NotFoundError(f"no registered key {key}")
        if holder != signed.principal.name:
            require(signed.principal, Permission.MANAGE_KEYS, repo.administrators(uow.conn))
        done = repo.retired_at(uow.conn, key)
        if done is not None:
            raise UsageError(f"key {key} was already retired on {done[:10]}")
        statement = store(uow, signed, key)
        inserted = repo.insert_retirement(uow, key, signed.principal.name, uow.clock())
        uow.append(
            "key.retired",
            actor=signed.principal.name,
            subject=key,
            payload={"person": holder},
            records=[inserted, statement],
        )
        return key


def find_key(ws: Workspace, ref: str) -> str:
    """A registered key's full id from its id or an unambiguous prefix (as `people list`
    shows it, at least 8 hex digits)."""
    from clearance.store import people as repo

    bare = ref.strip().lower().removeprefix("sha256:").rstrip("…")
    if len(bare) < 8 or any(c not in "0123456789abcdef" for c in bare):
        raise UsageError(
            f'"{ref}" is not a key id; give at least 8 hex digits as `clearance people list` '
            "shows them"
        )
    with ws.engine.connect() as conn:
        found = repo.keys_matching(conn, bare)
    if not found:
        raise NotFoundError(f"no registered key {ref}; see `clearance people list`")
    if len(found) > 1:
        raise UsageError(f"{ref} matches {len(found)} keys; give more digits")
    return found[0][0]


def person(ws: Workspace, name: str) -> Person:
    with ws.engine.connect() as conn:
        return _existing(conn, normalise_name(name))


def people(ws: Workspace) -> list[Person]:
    from clearance.store import people as repo

    with ws.engine.connect() as conn:
        return repo.all_people(conn)


def identities(conn: Connection, names: set[str]) -> set[str]:
    """The identities behind these names (names not registered stand for themselves)."""
    from clearance.store import people as repo

    return repo.identities(conn, {normalise_name(n) for n in names})
