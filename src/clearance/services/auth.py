"""Who acts, proven: a principal is the registered person whose key signed the statement or
request, and every permission is checked here, in one place, for every interface.

A statement counts as signed by a person only if its envelope verifies with one of that
person's keys valid at the statement's time, and the predicate's `person` is that person.
When it is recorded it must also be fresh (signed within `FRESH` of now), so a statement
kept from earlier cannot be replayed later as a new act.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from clearance.core.identity import (
    GRANTED_BY,
    Permission,
    Person,
    Scope,
    normalise_name,
    permitted,
)
from clearance.errors import ForbiddenError, IntegrityError, NotFoundError, UsageError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: how far a statement's own time may be from the moment it is recorded
FRESH = timedelta(minutes=10)
UNSIGNED_NAME = "unsigned"


@dataclass(frozen=True)
class Principal:
    """Who is acting and how that was proven (`key`: a signature by a registered key;
    `unsigned`: nobody in particular, allowed only where anyone may act)."""

    name: str
    identity: str
    method: str
    key_id: str | None = None
    person: Person | None = None
    #: what an API token allows (None: a caller on the workspace's own machine, who holds
    #: its files and so is not limited by scopes or per-system visibility)
    scopes: frozenset[str] | None = None
    #: the name of the API token that authenticated the caller
    token: str | None = None

    @property
    def signed(self) -> bool:
        return self.person is not None

    def holds(self, role: str, system_id: str | None = None) -> bool:
        return self.person is not None and self.person.holds(role, system_id)


UNSIGNED = Principal(UNSIGNED_NAME, UNSIGNED_NAME, "unsigned")


@dataclass(frozen=True)
class Signed:
    """A verified statement: who signed it, with which key, what it says, and when."""

    principal: Principal
    statement: dict[str, Any]
    envelope: dict[str, Any]
    at: datetime

    @property
    def predicate(self) -> dict[str, Any]:
        predicate: dict[str, Any] = self.statement["predicate"]
        return predicate

    @property
    def subject(self) -> str:
        from clearance.signing.statements import statement_subject

        return statement_subject(self.statement)


def signer_of(
    conn: Connection,
    envelope: dict[str, Any],
    predicate_type: str,
    lookup: Callable[[str], Person | None] | None = None,
) -> tuple[Person, dict[str, Any], datetime, str]:
    """(person, statement, statement time, key id) of an envelope signed by a registered
    person with a key valid at the statement's time; IntegrityError saying what fails.
    `lookup` finds the person a key id is registered to (a cache, when verifying many)."""
    from clearance.signing.statements import open_envelope
    from clearance.store import people as people_repo
    from clearance.store.records import from_time, to_time

    hints = _key_hints(envelope)
    if not hints:
        raise IntegrityError("the statement names no signing key (DSSE keyid)")
    find = lookup or (lambda key_id: people_repo.person_by_key(conn, key_id))
    person = None
    for given in hints:
        # a keyid is our `sha256:` id (envelopes made before standard ids) or the one
        # securesystemslib computes; either names a registered key, never trusted alone
        hint = given if given.startswith("sha256:") else _registered_id(conn, given) or given
        person = find(hint)
        if person is not None:
            break
    if person is None:
        raise IntegrityError(
            f"the statement is signed by key {hints[0][:19]}…, which no registered person holds"
        )
    key = person.key(hint)
    assert key is not None
    stmt = open_envelope(envelope, {key.key_id: key.public_raw})
    if stmt["predicateType"] != predicate_type:
        raise IntegrityError(
            f"a {stmt['predicateType']} statement was given where {predicate_type} is expected"
        )
    predicate = stmt["predicate"]
    try:
        at = from_time(str(predicate.get("time")))
    except ValueError:
        raise IntegrityError("the statement's time is missing or malformed") from None
    if normalise_name(str(predicate.get("person", ""))) != person.name:
        raise IntegrityError(
            f"the statement says it is by {predicate.get('person')!r} but is signed with a key "
            f"of {person.name}"
        )
    if not key.valid_at(to_time(at)):
        state = f"retired on {key.retired_at[:10]}" if key.retired_at else "not yet registered"
        raise IntegrityError(
            f"key {key.key_id[:19]}… of {person.name} was {state} at {to_time(at)[:19]}"
        )
    return person, stmt, at, key.key_id


def _registered_id(conn: Connection, dsse_id: str) -> str | None:
    """The id of the registered person key whose securesystemslib keyid is `dsse_id`."""
    from clearance.signing import unb64
    from clearance.signing.statements import dsse_keyid
    from clearance.store import people as people_repo

    for key in people_repo.person_keys_with_holders(conn):
        if dsse_keyid(unb64(key["public_key"])) == dsse_id:
            return str(key["key_id"])
    return None


def _key_hints(envelope: dict[str, Any]) -> list[str]:
    signatures = envelope.get("signatures") if isinstance(envelope, dict) else None
    if not isinstance(signatures, list):
        return []
    return [
        s["keyid"] for s in signatures if isinstance(s, dict) and isinstance(s.get("keyid"), str)
    ]


def verify_fresh(
    conn: Connection, envelope: dict[str, Any], predicate_type: str, now: datetime
) -> Signed:
    """A statement about to be recorded: signed by a registered person's key valid now, and
    made within FRESH of now. Refusals are ForbiddenError (exit 77): the caller is not who
    the statement claims, or it is stale."""
    try:
        person, stmt, at, key_id = signer_of(conn, envelope, predicate_type)
    except IntegrityError as exc:
        raise ForbiddenError(f"not accepted as a signed statement: {exc.message}") from None
    if abs(now - at) > FRESH:
        raise ForbiddenError(
            f"the statement was signed at {at.isoformat(timespec='seconds')}, more than "
            f"{int(FRESH.total_seconds() // 60)} minutes from now; sign it again (is this "
            "machine's clock right?)"
        )
    from clearance.store.records import to_time

    if key_id not in person.valid_keys(to_time(now)):
        raise ForbiddenError(f"key {key_id[:19]}… of {person.name} is retired; use a current key")
    principal = Principal(person.name, person.identity, "key", key_id, person)
    return Signed(principal, stmt, dict(envelope), at)


def authenticate(
    conn: Connection, request: dict[str, Any] | None, action: str, now: datetime
) -> Principal:
    """The principal of a signed request for `action`, or UNSIGNED when there is none."""
    from clearance.signing.statements import REQUEST_V1

    if request is None:
        return UNSIGNED
    signed = verify_fresh(conn, request, REQUEST_V1, now)
    if signed.predicate.get("action") != action:
        raise ForbiddenError(
            f"the signed request is for {signed.predicate.get('action')!r}, not {action!r}"
        )
    return signed.principal


def require_signed(principal: Principal, doing: str) -> Person:
    """The registered person behind the principal; ForbiddenError for an unsigned one."""
    if principal.person is None:
        raise ForbiddenError(
            f"{doing} needs a signed identity: pass --identity KEY (or set CLEARANCE_IDENTITY) "
            "with the private key registered to you"
        )
    return principal.person


def require(principal: Principal, permission: Permission, admins: list[str]) -> Person:
    """The acting person, if they have `permission`; ForbiddenError naming what is missing."""
    person = require_signed(principal, f"to {permission.value}")
    if not permitted(person, permission):
        held = ", ".join(str(g) for g in person.roles) or "no roles"
        ask = f"; ask an administrator ({', '.join(admins)})" if admins else ""
        raise ForbiddenError(
            f"{person.name} may not {permission.value}: it needs the "
            f"{GRANTED_BY[permission]} role ({person.name} holds {held}){ask}"
        )
    return person


def require_role(principal: Principal, role: str, system_id: str, doing: str) -> Person:
    person = require_signed(principal, doing)
    if not person.holds(role, system_id):
        held = ", ".join(str(g) for g in person.roles) or "no roles"
        raise ForbiddenError(
            f"{person.name} does not hold role {role} for {system_id} (roles: {held}), so may "
            f"not {doing}; if the person in that role is someone else, they act with their "
            f"own key (`--key THEIR.pem`); otherwise an administrator can grant it with "
            f"`clearance people grant {person.name} --role {role}`"
        )
    return person


def require_scope(principal: Principal, scope: Scope) -> None:
    """A token caller's token must carry `scope`."""
    if principal.scopes is not None and scope.value not in principal.scopes:
        held = ", ".join(sorted(principal.scopes)) or "none"
        raise ForbiddenError(
            f"the API token {principal.token!r} does not allow {scope.value!r} (it allows "
            f"{held}); an administrator creates a token with `clearance tokens create NAME "
            f"--scope {scope.value}`"
        )


def require_access(principal: Principal | None, system_id: str) -> None:
    """A token caller must hold a role for the system (or an organisation-wide one); to
    anyone else the system's objects do not exist (NotFoundError, never a 403 with details)."""
    if principal is None or principal.scopes is None:
        return
    if principal.person is None or not principal.person.sees(system_id):
        raise NotFoundError(f"no system {system_id!r}")


def bind(caller: Principal | None, signed: Signed, scope: Scope) -> None:
    """A statement sent by an API caller must be signed by that caller's own identity, with
    a token that allows `scope`; a service account never signs."""
    if caller is None:
        return
    require_scope(caller, scope)
    if caller.person is None or caller.person.identity != signed.principal.identity:
        raise ForbiddenError(
            f"the statement is signed by {signed.principal.name}, but the API token is "
            f"{caller.name}'s; sign with your own key"
        )


def parse_role(text: str) -> Any:
    from clearance.core.identity import RoleGrant

    try:
        return RoleGrant.parse(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
