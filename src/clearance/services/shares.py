"""Reviewer links: time-bound, read-only access to named releases for someone without an
account (an external auditor). Their owners create, list and revoke them here.

A link's token is 256 random bits, shown once in its URL and stored only as its SHA-256.
Links and their revocations are insert-only records, each created by a logged event; every
use of a link is an event too (see `clearance.services.reviewer`), which the link's owners
read back as its access log. Only the owner of every shared system, or an administrator,
may create a link; its creator, such an owner or an administrator may revoke it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from clearance.core.identity import Person, Scope, normalise_name
from clearance.errors import ForbiddenError, NotFoundError, UsageError
from clearance.services.auth import Principal, require_access, require_scope, require_signed
from clearance.services.workspace import Workspace
from clearance.store.shares import LinkRow, SharedRelease
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.settings import Settings

#: share tokens are recognisable (and so redacted from logs) by this prefix
PREFIX = "crv_"
#: the longest a reviewer link may live
MAX_LIFETIME = timedelta(days=30)
MAX_NOTE = 500
#: the largest row id (a 32-bit integer column on PostgreSQL)
MAX_ID = 2**31 - 1
#: the path of the reviewer view under the server's public URL
PATH = "/r/"
_TOKEN = re.compile(r"crv_[A-Za-z0-9_-]{43}")

__all__ = [
    "MAX_LIFETIME",
    "PREFIX",
    "Access",
    "CreatedShare",
    "ShareSummary",
    "create_share",
    "list_shares",
    "release_shares",
    "revoke_share",
    "share_access_log",
    "share_report",
    "share_url",
    "token_hash",
]


@dataclass(frozen=True)
class CreatedShare:
    link: LinkRow
    #: the token and the URL that carries it: shown once, never stored
    secret: str
    url: str


@dataclass(frozen=True)
class ShareSummary:
    """A link as its owners see it: never its token."""

    link: LinkRow
    state: str  # active, expired or revoked
    views: int


@dataclass(frozen=True)
class Access:
    """One logged use of a link: when, what was read, from which address."""

    seq: int
    at: datetime
    kind: str  # viewed or downloaded
    read: str
    address: str | None


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def share_url(settings: Settings, secret: str) -> str:
    return settings.public_url.rstrip("/") + PATH + secret


@retrying()
def create_share(
    ws: Workspace,
    principal: Principal,
    releases: Sequence[tuple[str, str]],
    expires_at: datetime,
    note: str = "",
) -> CreatedShare:
    """A new link to `releases` ((system, version) pairs, each pinned to its current
    candidate) until `expires_at`, at most MAX_LIFETIME from now."""
    from clearance.store import shares as repo
    from clearance.store.records import to_time

    person = require_signed(principal, "sharing a release with a reviewer")
    require_scope(principal, Scope.WRITE)
    wanted = list(dict.fromkeys((s.strip(), v.strip()) for s, v in releases))
    if not wanted:
        raise UsageError("name at least one release to share: SYSTEM VERSION")
    for system_id, version in wanted:
        if not (system_id and version and (system_id + version).isprintable()):
            raise UsageError(
                f"{system_id!r} {version!r} is not a release; give a system id and a version, "
                "e.g. credit-scoring 2.4.0"
            )
    note = note.strip()
    if len(note) > MAX_NOTE or any(not c.isprintable() for c in note):
        raise UsageError(f"the note must be one line of at most {MAX_NOTE} printable characters")
    with ws.transaction() as uow:
        now = uow.clock()
        if not now < expires_at <= now + MAX_LIFETIME:
            raise UsageError(
                f"a reviewer link expires after now and within {MAX_LIFETIME.days} days "
                f"(asked: {expires_at:%Y-%m-%d %H:%M} UTC); give --expires 7d, for example"
            )
        pinned = []
        for system_id, version in wanted:
            require_access(principal, system_id)
            candidate = repo.latest_candidate(uow.conn, system_id, version)
            if candidate is None:
                raise NotFoundError(_no_release(uow.conn, system_id, version))
            _require_owner(uow.conn, person, system_id, version, candidate.revision)
            pinned.append(SharedRelease(system_id, version, candidate.digest))
        secret = PREFIX + secrets.token_urlsafe(32)
        inserted = repo.insert_link(uow, token_hash(secret), pinned, note, person.name, expires_at)
        systems = {r.system_id for r in pinned}
        uow.append(
            "share.created",
            actor=person.name,
            subject=repo.SUBJECT.format(id=inserted.id),
            payload={
                "link": inserted.id,
                "releases": [r.as_json() for r in pinned],
                "expires_at": to_time(expires_at),
                "note": note,
            },
            system_id=systems.pop() if len(systems) == 1 else None,
            records=[inserted],
        )
        link = repo.link_by_id(uow.conn, inserted.id)
        assert link is not None
    return CreatedShare(link, secret, share_url(ws.settings, secret))


@retrying()
def revoke_share(ws: Workspace, principal: Principal, ref: str) -> LinkRow:
    """Revoke a link (by id, URL or token) from now on: its creator, an owner of every
    system it shows, or an administrator."""
    from clearance.store import shares as repo

    person = require_signed(principal, "revoking a reviewer link")
    require_scope(principal, Scope.WRITE)
    with ws.transaction() as uow:
        link = _find(uow.conn, ref)
        _require_manager(uow.conn, principal, person, link)
        if link.revoked_at is not None:
            raise UsageError(
                f"reviewer link {link.id} was revoked already, on "
                f"{link.revoked_at:%Y-%m-%d %H:%M} UTC by {link.revoked_by}"
            )
        inserted = repo.insert_revocation(uow, link.id, person.name)
        systems = {r.system_id for r in link.releases}
        uow.append(
            "share.revoked",
            actor=person.name,
            subject=link.subject,
            payload={"link": link.id},
            system_id=systems.pop() if len(systems) == 1 else None,
            records=[inserted],
        )
        revoked = repo.link_by_id(uow.conn, link.id)
        assert revoked is not None
    return revoked


def list_shares(ws: Workspace, principal: Principal) -> list[ShareSummary]:
    """The links the caller manages (every link for an administrator), oldest first."""
    from clearance.store import shares as repo

    person = require_signed(principal, "listing reviewer links")
    now = ws.clock()
    with ws.engine.connect() as conn:
        counts = repo.access_counts(conn)
        return [
            ShareSummary(link, link.state(now), counts.get(link.subject, 0))
            for link in repo.links(conn)
            if _manages(conn, principal, person, link)
        ]


def release_shares(
    ws: Workspace, principal: Principal, system_id: str, version: str
) -> list[ShareSummary]:
    """The links that show one release, for its page (those the caller manages)."""
    return [
        s
        for s in list_shares(ws, principal)
        if any((r.system_id, r.version) == (system_id, version) for r in s.link.releases)
    ]


def share_access_log(ws: Workspace, principal: Principal, ref: str | int) -> list[Access]:
    """Every logged use of one link (by id, URL or token), oldest first, for those who may
    manage it."""
    return share_report(ws, principal, ref)[1]


def share_report(
    ws: Workspace, principal: Principal, ref: str | int
) -> tuple[ShareSummary, list[Access]]:
    """One link as its owners see it, and its access log."""
    from clearance.store import shares as repo

    person = require_signed(principal, "reading a reviewer link's access log")
    with ws.engine.connect() as conn:
        link = _find(conn, str(ref))
        _require_manager(conn, principal, person, link)
        events = repo.access_events(conn, [link.id])
    log = [
        Access(
            seq=e.seq,
            at=e.at,
            kind=e.type.removeprefix("share."),
            read=_describe(e.payload),
            address=e.payload.get("address"),
        )
        for e in events
    ]
    return ShareSummary(link, link.state(ws.clock()), len(log)), log


def _describe(payload: dict[str, Any]) -> str:
    """What one logged use read, in words."""
    read = str(payload.get("read", ""))
    release = payload.get("release") or {}
    label = f"{release.get('system_id')}@{release.get('version')}" if release else ""
    if read == "evidence":
        found = payload.get("evidence") or {}
        return f"{label} evidence {found.get('name')} ({str(found.get('digest'))[:19]}…)"
    if read == "audit-pack":
        return f"{label} audit pack"
    if read == "release":
        return f"{label} release page"
    return "the link's page"


# -- who may manage a link --------------------------------------------------------------


def _owners(conn: Connection, system_id: str, revision: str | None) -> set[str]:
    """The system's owner and the release owner its plan names, by name and identity."""
    from clearance.services.people import identities
    from clearance.store import repository as repo

    names = {repo.get_system_owner(conn, system_id) or ""}
    rev = repo.get_revision(conn, revision) if revision else None
    if rev is not None:
        document: dict[str, Any] = rev.document
        names.add((document.get("release") or {}).get("owner") or "")
        names.add(document["system"]["owner"])
    names = {normalise_name(n) for n in names if n}
    return names | identities(conn, names)


def _owns(conn: Connection, person: Person, release: SharedRelease) -> bool:
    from clearance.store import repository as repo

    candidate = repo.get_candidate(conn, release.candidate)
    owners = _owners(conn, release.system_id, candidate.revision if candidate else None)
    return person.admin or bool({person.name, person.identity} & owners)


def _require_owner(
    conn: Connection, person: Person, system_id: str, version: str, revision: str
) -> None:
    if person.admin or {person.name, person.identity} & _owners(conn, system_id, revision):
        return
    owners = ", ".join(sorted(_owners(conn, system_id, revision)))
    raise ForbiddenError(
        f"{person.name} may not share {system_id} {version}: only its owner ({owners}) or an "
        "administrator may create a reviewer link for it"
    )


def _manages(conn: Connection, principal: Principal, person: Person, link: LinkRow) -> bool:
    from clearance.services.queries import visible

    if not all(visible(principal, r.system_id) for r in link.releases):
        return False
    if person.admin or normalise_name(link.created_by) == person.name:
        return True
    return all(_owns(conn, person, r) for r in link.releases)


def _require_manager(conn: Connection, principal: Principal, person: Person, link: LinkRow) -> None:
    from clearance.services.queries import visible

    if not all(visible(principal, r.system_id) for r in link.releases):
        raise NotFoundError(f"no reviewer link {link.id}; see `clearance share list`")
    if not _manages(conn, principal, person, link):
        raise ForbiddenError(
            f"{person.name} may not manage reviewer link {link.id}: only its creator "
            f"({link.created_by}), the owner of every release it shows, or an administrator"
        )


def _find(conn: Connection, ref: str) -> LinkRow:
    """A link by its id (`12` or `#12`), its URL or its token."""
    from clearance.store import shares as repo

    text = ref.strip()
    token = _TOKEN.search(text)
    if token is not None:
        found = repo.link_by_hash(conn, token_hash(token.group(0)))
    elif text.removeprefix("#").isascii() and text.removeprefix("#").isdigit():
        link_id = int(text.removeprefix("#"))
        found = repo.link_by_id(conn, link_id) if link_id <= MAX_ID else None
    else:
        raise UsageError(
            f'"{ref}" is not a reviewer link; give its id (as `clearance share list` shows) '
            "or its URL"
        )
    if found is None:
        raise NotFoundError(
            f"no reviewer link {ref if token is None else '(that URL)'}; see `clearance share list`"
        )
    return found


def _no_release(conn: Connection, system_id: str, version: str) -> str:
    from clearance.store import shares as repo

    versions = repo.versions_of(conn, system_id)
    if not versions:
        return f'no system "{system_id}" with a checked release; run `clearance check` first'
    return (
        f"no release {version} of {system_id} has been checked (releases: "
        f"{', '.join(versions)}); run `clearance check` on its plan first"
    )
