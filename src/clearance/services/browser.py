"""Browser sign-offs: a statement signed by the workspace key on behalf of a person signed in
to the web pages, naming how they authenticated (method, when, and the digest of the
session).

Only this module makes one, and only from a live session it looks up itself: the use case
takes the session's secret id, never a statement, so no CLI or API caller can hand in a
workspace-signed statement that claims to be someone. Recorded, it counts under the same
rules as a sign-off signed with a personal key, except for the roles the policy says must
sign with their own key (`signoff.personal_key_roles`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from clearance.core.identity import Person, Scope, normalise_name
from clearance.errors import IntegrityError
from clearance.services.approvals import Recorded, record_signoff
from clearance.services.auth import Principal, Signed, require_access, require_scope
from clearance.services.workspace import Workspace
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Connection

#: the predicate field that makes a sign-off statement a browser one
AUTHENTICATED = "authenticated"
METHODS = ("password", "oidc")


@retrying()
def sign_off(
    ws: Workspace,
    session_id: str,
    candidate_digest: str,
    *,
    role: str,
    decision: str,
    comment: str,
) -> Recorded:
    """Approve, reject or withdraw as the person signed in with `session_id`."""
    from clearance.services.evidence_sets import evidence_sets
    from clearance.services.plans import recorded_candidate, stored_plan
    from clearance.services.signin import session_in
    from clearance.services.verified import verified_evidence
    from clearance.signing.statements import APPROVAL_V1, sign_statement, statement
    from clearance.store.records import to_time

    key = ws.signing_key
    with ws.transaction() as uow:
        now = uow.clock()
        session = session_in(uow.conn, session_id, now)
        require_scope(session.principal, Scope.SIGN)
        candidate = recorded_candidate(uow.conn, candidate_digest, "the release")
        require_access(session.principal, candidate.system_id)
        loaded = stored_plan(uow.conn, candidate)
        records = verified_evidence(uow.conn, candidate, loaded.plan.system.id)
        person = session.principal.person
        assert person is not None
        authenticated = {
            "by": "workspace",
            "method": session.method,
            "at": to_time(session.authenticated_at),
            "session": session.session_hash,
        }
        predicate = {
            "system": candidate.system_id,
            "version": candidate.version,
            "role": role,
            "decision": decision,
            "comment": comment,
            "revision": candidate.revision,
            "evidence": evidence_sets(ws, loaded, records, uow.conn).current,
            "person": person.name,
            "time": to_time(now),
            AUTHENTICATED: authenticated,
        }
        stmt = statement([("candidate", candidate.digest)], APPROVAL_V1, predicate)
        envelope = sign_statement(stmt, key)
        principal = Principal(
            person.name,
            person.identity,
            session.principal.method,
            key.key_id,
            person,
            session.principal.scopes,
        )
        signed = Signed(principal, stmt, envelope, now)
        extra = {AUTHENTICATED: authenticated, "signed_by": "workspace"}
        return record_signoff(uow, signed, candidate, loaded, extra, ws=ws)


def _claimed(envelope: Any) -> dict[str, Any]:
    """The statement an envelope carries, unverified: only to choose how to verify it."""
    import json

    from clearance.signing import unb64

    try:
        stmt = json.loads(unb64(envelope["payload"]))
    except (KeyError, TypeError, ValueError):
        return {}
    return stmt if isinstance(stmt, dict) else {}


def is_browser_statement(envelope: Any) -> bool:
    """Whether an envelope claims to be a browser sign-off (it still has to verify)."""
    pred = _claimed(envelope).get("predicate")
    return isinstance(pred, dict) and AUTHENTICATED in pred


def browser_signer(
    conn: Connection,
    envelope: dict[str, Any],
    predicate_type: str,
    person_named: Callable[[str], Person | None],
) -> tuple[Person, dict[str, Any], datetime]:
    """(person, statement, time) of a recorded browser sign-off: signed by a workspace key
    current at its time, naming how a registered person authenticated; IntegrityError
    otherwise."""
    from clearance.signing import unb64
    from clearance.signing.statements import open_envelope
    from clearance.store import repository as repo
    from clearance.store.records import from_time

    stamp = str(_claimed(envelope).get("predicate", {}).get("time", ""))
    current = {
        k["key_id"]: unb64(k["public_key"])
        for k in repo.public_keys(conn)
        if k["purpose"] == "workspace"
        and k["valid_from"] <= stamp
        and (not k["valid_until"] or stamp < k["valid_until"])
    }
    if not current:
        raise IntegrityError("no workspace key was current at the statement's time")
    stmt = open_envelope(envelope, current)
    if stmt["predicateType"] != predicate_type:
        raise IntegrityError(f"a {stmt['predicateType']} statement where {predicate_type} is due")
    pred = stmt["predicate"]
    how = pred.get(AUTHENTICATED)
    if not isinstance(how, dict) or how.get("method") not in METHODS:
        raise IntegrityError("a workspace-signed sign-off that names no browser sign-in")
    try:
        at = from_time(str(pred.get("time")))
    except ValueError:
        raise IntegrityError("the statement's time is missing or malformed") from None
    person = person_named(normalise_name(str(pred.get("person", ""))))
    if person is None:
        raise IntegrityError(f"signed on behalf of {pred.get('person')!r}, who is not registered")
    return person, stmt, at


@dataclass(frozen=True)
class RoleOption:
    """A sign-off the plan asks for, and whether this person may give it in the browser."""

    role: str
    held: bool
    personal_key_only: bool
    #: "approve" or "reject" when this person has already signed off for this role
    given: str | None = None


def sign_off_options(
    ws: Workspace, principal: Principal, candidate_digest: str
) -> list[RoleOption]:
    """The roles the candidate's plan asks sign-offs from, as the release page offers them."""
    from clearance.core.policy import personal_key_roles
    from clearance.core.signoffs import roles_asked
    from clearance.services.plans import stored_plan
    from clearance.services.queries import approvals, candidate

    found = candidate(ws, principal, candidate_digest)
    with ws.engine.connect() as conn:
        loaded = stored_plan(conn, found)
    personal = personal_key_roles(loaded.policy)
    given = {
        a["role"]: a.get("decision")
        for a in approvals(ws, principal, candidate_digest)
        if a.get("person") == principal.name
    }
    return [
        RoleOption(role, principal.holds(role, found.system_id), role in personal, given.get(role))
        for role in roles_asked(loaded.plan)
    ]
