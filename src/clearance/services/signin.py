"""Browser sign-in: passwords (argon2), OpenID Connect subjects linked to registered people,
and server-side sessions that sign-out ends at once.

A password is set by a statement signed by an administrator or by the person themself; the
hash is stored as a new row (the newest wins), never changed. An OpenID Connect subject
signs in only as the person an administrator linked it to, or, when the deployment allows
it, as the registered person whose name is the provider's verified e-mail address: an
unknown subject is refused, never registered. A session is stored by the SHA-256 of its
random id; the id itself lives only in the person's signed cookie.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from clearance.core.identity import Permission, Person, Scope, normalise_name
from clearance.errors import AuthenticationError, ForbiddenError, NotFoundError, UsageError
from clearance.services.admin import accept, args, store
from clearance.services.auth import Principal, require
from clearance.services.workspace import Workspace
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

METHODS = ("password", "oidc")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
SESSION_TTL = timedelta(hours=12)
#: what a person signed in through the browser may do (never administration)
WEB_SCOPES = frozenset({Scope.READ.value, Scope.WRITE.value, Scope.SIGN.value})
_WRONG = "the name or password is wrong"


def _hasher() -> Any:
    """argon2id with RFC 9106's second recommended parameters (t=3, 64 MiB, p=4)."""
    from argon2 import PasswordHasher
    from argon2.profiles import RFC_9106_LOW_MEMORY

    return PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)


def session_digest(session_id: str) -> str:
    """How a session is named in the database, the log and browser sign-offs."""
    return "sha256:" + hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class WebSession:
    """A live browser session: who, how they authenticated, and when."""

    principal: Principal
    session_hash: str
    method: str
    authenticated_at: datetime
    expires_at: datetime


def _person(conn: Connection, name: str) -> Person | None:
    from clearance.store import people as repo

    try:
        return repo.get_person(conn, normalise_name(name))
    except ValueError:
        return None


@retrying()
def set_password(ws: Workspace, envelope: dict[str, Any], password: str) -> Person:
    """Set a person's password (action `person.password`, args {name}): by an administrator
    or by the person themself. The hash is a new row; the old one no longer signs in."""
    from clearance.store import people as people_repo
    from clearance.store import signin as repo

    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UsageError(
            f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters; use a passphrase"
        )
    hashed = _hasher().hash(password)
    with ws.transaction() as uow:
        signed = accept(uow, envelope, "person.password", None)
        name = normalise_name(str(args(signed).get("name", "")))
        person = _person(uow.conn, name)
        if person is None:
            raise NotFoundError(f"no person {name}; an administrator registers them first")
        if person.service:
            raise UsageError(f"{name} is a service account: it calls the API with a token")
        if signed.principal.name != person.name:
            require(
                signed.principal, Permission.MANAGE_PEOPLE, people_repo.administrators(uow.conn)
            )
        if people_repo.admin_statement_recorded(uow.conn, signed.envelope):
            return person  # a retry of a change already recorded
        actor, now = signed.principal.name, uow.clock()
        statement = store(uow, signed, person.name)
        row = repo.insert_password(uow, person.name, hashed, actor, now)
        uow.append(
            "person.password_set",
            actor=actor,
            subject=person.name,
            payload={"statement": statement.id},
            records=[row, statement],
        )
        return person


def check_password(ws: Workspace, name: str, password: str) -> Person:
    """The person whose password this is; the same AuthenticationError for an unknown name,
    a person without a password and a wrong password (and about the same time for each)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    from clearance.store import signin as repo

    hasher = _hasher()
    with ws.engine.connect() as conn:
        person = _person(conn, name)
        hashed = repo.current_password(conn, person.name) if person is not None else None
    if person is None or hashed is None or person.service:
        # spend the time a real check takes, so timing does not tell who is registered
        with contextlib.suppress(VerificationError):
            hasher.verify(_dummy(), password[:MAX_PASSWORD])
        raise AuthenticationError(_WRONG)
    try:
        hasher.verify(hashed, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        raise AuthenticationError(_WRONG) from None
    return person


@functools.cache
def _dummy() -> str:
    """A hash to check against when there is none, so a miss costs what a check costs."""
    hashed: str = _hasher().hash(secrets.token_urlsafe(16))
    return hashed


@retrying()
def link_oidc(ws: Workspace, envelope: dict[str, Any]) -> Person:
    """Link an OpenID Connect subject (action `person.oidc`, args {name, issuer, subject})
    to a registered person (administrators only)."""
    from clearance.store import people as people_repo
    from clearance.store import signin as repo

    with ws.transaction() as uow:
        signed = accept(uow, envelope, "person.oidc", None)
        require(signed.principal, Permission.MANAGE_PEOPLE, people_repo.administrators(uow.conn))
        given = args(signed)
        name = normalise_name(str(given.get("name", "")))
        issuer, subject = str(given.get("issuer", "")), str(given.get("subject", ""))
        if not issuer or not subject:
            raise UsageError("give the provider's issuer URL and the person's subject (sub)")
        person = _person(uow.conn, name)
        if person is None:
            raise NotFoundError(f"no person {name}; register them first")
        holder = repo.linked_person(uow.conn, issuer, subject)
        if holder is not None:
            raise UsageError(f"subject {subject!r} of {issuer} is already linked to {holder}")
        actor, now = signed.principal.name, uow.clock()
        statement = store(uow, signed, person.name)
        row = repo.insert_oidc_link(uow, issuer, subject, person.name, actor, now)
        uow.append(
            "person.oidc_linked",
            actor=actor,
            subject=person.name,
            payload={"issuer": issuer, "oidc_subject": subject, "statement": statement.id},
            records=[row, statement],
        )
        return person


def oidc_person(ws: Workspace, issuer: str, claims: dict[str, Any], match_email: bool) -> Person:
    """The registered person an ID token's verified claims name; ForbiddenError otherwise."""
    from clearance.store import signin as repo

    subject = str(claims.get("sub") or "")
    if not subject:
        raise AuthenticationError("the provider's answer names no subject")
    with ws.engine.connect() as conn:
        name = repo.linked_person(conn, issuer, subject)
        email = claims.get("email")
        verified = claims.get("email_verified") is True
        if name is None and match_email and verified and isinstance(email, str):
            name = email
        person = _person(conn, name) if name else None
    if person is None or person.service:
        raise ForbiddenError(
            "this account is not registered with Clearance; an administrator links it with "
            "`clearance people oidc NAME --subject SUB`"
        )
    return person


# -- sessions -------------------------------------------------------------------------------


@retrying()
def start_session(
    ws: Workspace, person: Person, method: str, ttl: timedelta = SESSION_TTL
) -> tuple[str, WebSession]:
    """A new session for a person who just authenticated: (secret id for the cookie, the
    session). Always a fresh id, so a session id planted before sign-in is never adopted."""
    from clearance.store import signin as repo

    if method not in METHODS:
        raise UsageError(f"{method!r} is not a sign-in method")
    session_id = secrets.token_urlsafe(32)
    digest = session_digest(session_id)
    with ws.transaction() as uow:
        now = uow.clock()
        row = repo.insert_session(uow, digest, person.name, method, now, now + ttl)
        uow.append(
            "web.signed_in",
            actor=person.name,
            subject=person.name,
            payload={"method": method, "session": digest},
            records=[row],
        )
    return session_id, WebSession(_principal(person, method), digest, method, now, now + ttl)


def _principal(person: Person, method: str) -> Principal:
    return Principal(person.name, person.identity, f"session:{method}", None, person, WEB_SCOPES)


def current_session(ws: Workspace, session_id: str) -> WebSession:
    """The live session of a cookie's id: AuthenticationError when unknown, ended, expired,
    or its person is no longer registered."""
    with ws.engine.connect() as conn:
        return session_in(conn, session_id, ws.clock())


def session_in(conn: Connection, session_id: str, now: datetime) -> WebSession:
    from clearance.store import signin as repo

    row = repo.get_session(conn, session_digest(session_id)) if session_id else None
    if row is None or row.ended_at is not None or row.expires_at <= now:
        raise AuthenticationError("not signed in, or the session ended; sign in again")
    person = _person(conn, row.person)
    if person is None:
        raise AuthenticationError("not signed in, or the session ended; sign in again")
    return WebSession(
        _principal(person, row.method), row.session_hash, row.method, row.created_at, row.expires_at
    )


@retrying()
def end_session(ws: Workspace, session_id: str, reason: str = "signed out") -> bool:
    """End a session now (sign-out); False when there was no live one to end."""
    from clearance.store import signin as repo

    with ws.transaction() as uow:
        row = repo.get_session(uow.conn, session_digest(session_id)) if session_id else None
        if row is None or row.ended_at is not None:
            return False
        ended = repo.insert_session_end(uow, row.id, reason, uow.clock())
        uow.append(
            "web.signed_out",
            actor=row.person,
            subject=row.person,
            payload={"session": row.session_hash, "reason": reason},
            records=[ended],
        )
    return True
