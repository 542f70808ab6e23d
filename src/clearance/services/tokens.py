"""API tokens: opaque random values shown once and stored only as their SHA-256, each with
a name, the person or service account it acts for, scopes, an expiry and a revocation.

Creating and revoking one is a statement signed by an administrator (or, to revoke, by the
token's own person), recorded and logged like every other change to who may act.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from clearance.core.identity import PERSON_ONLY, Permission, Scope, parse_scopes
from clearance.errors import AuthenticationError, ConflictError, NotFoundError, UsageError
from clearance.services.admin import accept, accept_admin, args, store
from clearance.services.auth import Principal, bind, require
from clearance.services.workspace import Workspace
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.store.tokens import TokenRow

PREFIX = "clr_"
#: the longest a token may live
MAX_LIFETIME = timedelta(days=366)
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Created:
    token: TokenRow
    #: the token itself: shown once, never stored
    secret: str


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def default_scopes(kind: str, admin: bool) -> list[str]:
    if kind == "service":
        return [Scope.READ.value, Scope.WRITE.value]
    return [s.value for s in Scope if s is not Scope.ADMIN or admin]


@retrying()
def create_token(
    ws: Workspace, envelope: dict[str, Any], caller: Principal | None = None
) -> Created:
    """Create a token for a registered person or service account (administrators only)."""
    from clearance.store import people as people_repo
    from clearance.store import tokens as repo
    from clearance.store.records import from_time

    with ws.transaction() as uow:
        signed = accept_admin(uow, envelope, "token.create", Permission.MANAGE_TOKENS)
        bind(caller, signed, Scope.ADMIN)
        given = args(signed)
        name = str(given.get("name", ""))
        if not _NAME.fullmatch(name):
            raise UsageError(
                f'"{name}" is not a token name; use lower-case letters, digits, ".", "_" and '
                '"-", e.g. ci-credit-scoring'
            )
        if repo.token_by_name(uow.conn, name) is not None:
            raise ConflictError(
                f"a token named {name} exists already; revoke it or choose another name"
            )
        holder = people_repo.get_person(uow.conn, str(given.get("person") or ""))
        if holder is None:
            raise NotFoundError(
                f"no person or service account {given.get('person')!r}; register it first "
                "with `clearance people add`"
            )
        try:
            scopes = parse_scopes([str(s) for s in given.get("scopes") or []])
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        chosen = (
            sorted(s.value for s in scopes) if scopes else default_scopes(holder.kind, holder.admin)
        )
        if holder.service and PERSON_ONLY & set(chosen):
            raise UsageError(
                f"{holder.name} is a service account: its tokens may {Scope.READ.value} and "
                f"{Scope.WRITE.value}, never {Scope.SIGN.value} or {Scope.ADMIN.value}"
            )
        if Scope.ADMIN.value in chosen and not holder.admin:
            raise UsageError(f"{holder.name} is not an administrator; drop the admin scope")
        now = uow.clock()
        try:
            expires = from_time(str(given.get("expires", "")))
        except ValueError:
            raise UsageError("the token's expiry is missing or malformed") from None
        if not now < expires <= now + MAX_LIFETIME:
            raise UsageError(
                f"a token expires after now and within {MAX_LIFETIME.days} days; give "
                "--expires 30d, for example"
            )
        secret = PREFIX + secrets.token_urlsafe(32)
        statement = store(uow, signed, name)
        inserted = repo.insert_token(
            uow, name, holder.name, chosen, token_hash(secret), signed.principal.name, expires
        )
        uow.append(
            "token.created",
            actor=signed.principal.name,
            subject=name,
            payload={"person": holder.name, "scopes": chosen, "expires_at": given["expires"]},
            records=[inserted, statement],
        )
        row = repo.token_by_name(uow.conn, name)
        assert row is not None
        return Created(row, secret)


@retrying()
def revoke_token(ws: Workspace, envelope: dict[str, Any], caller: Principal | None = None) -> str:
    """Revoke a token from now on: an administrator, or the person it belongs to."""
    from clearance.store import people as people_repo
    from clearance.store import tokens as repo

    with ws.transaction() as uow:
        signed = accept(uow, envelope, "token.revoke")
        bind(caller, signed, Scope.SIGN if _own(uow.conn, envelope) else Scope.ADMIN)
        name = str(args(signed).get("name", ""))
        token = repo.token_by_name(uow.conn, name)
        if token is None:
            raise NotFoundError(f"no token named {name!r}; see `clearance tokens list`")
        if token.person != signed.principal.name:
            require(
                signed.principal, Permission.MANAGE_TOKENS, people_repo.administrators(uow.conn)
            )
        if token.revoked_at is not None:
            raise UsageError(
                f"the token {name} was revoked already, on {token.revoked_at:%Y-%m-%d}"
            )
        statement = store(uow, signed, name)
        inserted = repo.insert_revocation(uow, token.id, signed.principal.name)
        uow.append(
            "token.revoked",
            actor=signed.principal.name,
            subject=name,
            payload={"person": token.person},
            records=[inserted, statement],
        )
        return name


def _own(conn: Connection, envelope: dict[str, Any]) -> bool:
    """Whether an (unverified) revocation names a token of its claimed signer; only picks
    which scope the caller's token must carry."""
    import base64
    import json

    from clearance.store import tokens as repo

    try:
        predicate = json.loads(base64.b64decode(envelope["payload"]))["predicate"]
        token = repo.token_by_name(conn, str(predicate["args"]["name"]))
        return token is not None and token.person == str(predicate.get("person"))
    except (KeyError, TypeError, ValueError):
        return False


def list_tokens(ws: Workspace, principal: Principal) -> list[TokenRow]:
    """Every token for an administrator; your own tokens otherwise."""
    from clearance.services.auth import require_signed
    from clearance.store import tokens as repo

    person = require_signed(principal, "listing API tokens")
    with ws.engine.connect() as conn:
        found = repo.tokens(conn)
    return found if person.admin else [t for t in found if t.person == person.name]


def token_principal(conn: Connection, secret: str, now: datetime) -> Principal:
    """Who calls with this token; AuthenticationError (never naming the token's value) for
    an unknown, expired or revoked one."""
    from clearance.store import tokens as repo

    if not secret.startswith(PREFIX):
        raise AuthenticationError("the API token is malformed; tokens start with clr_")
    found = repo.token_and_holder(conn, token_hash(secret))
    if found is None:
        raise AuthenticationError("the API token is not known here")
    token, person = found
    if token.revoked_at is not None:
        raise AuthenticationError(
            f"the API token {token.name} was revoked on {token.revoked_at:%Y-%m-%d}"
        )
    if token.expires_at <= now:
        raise AuthenticationError(
            f"the API token {token.name} expired on {token.expires_at:%Y-%m-%d %H:%M} UTC; "
            "ask an administrator for a new one"
        )
    return Principal(
        person.name,
        person.identity,
        "token",
        person=person,
        scopes=frozenset(token.scopes),
        token=token.name,
    )
