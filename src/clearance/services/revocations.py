"""Revoking release attestations: by a person (`attestation revoke`), by a rollback away from
the candidate, or by a later NO-GO of it. Each revocation is a statement signed by the
workspace key, recorded and logged; the revocation list is one signed statement of them all,
for deploy pipelines that verify offline (`attestation verify --revocations FILE`)."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from clearance.errors import ConflictError, ForbiddenError, NotFoundError
from clearance.services.auth import Principal, require_signed
from clearance.services.workspace import Workspace
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from clearance.store.revocations import RevocationRecord
    from clearance.store.uow import Inserted, UnitOfWork

LIST_FORMAT = "clearance-attestation-revocations/v1"


def _predicate(envelope: dict[str, Any]) -> dict[str, Any]:
    """The predicate of a recorded attestation (the workspace signed it; read, not verified)."""
    found: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))["predicate"]
    return found


def revoke_candidate(
    uow: UnitOfWork, ws: Workspace, candidate: str, target: str, reason: str, by: str
) -> Inserted | None:
    """Revoke every attestation of `candidate` for `target` not revoked yet, in one signed
    revocation; None when there is none (no GO yet, or all already revoked)."""
    from clearance.signing.statements import (
        ATTESTATION_REVOCATION_V1,
        attestation_id,
        sign_statement,
        statement,
    )
    from clearance.store import repository as repo
    from clearance.store import revocations as store
    from clearance.store.records import to_time
    from clearance.store.revocations import RevocationRecord

    done = {a for r in store.revocations(uow.conn, candidate) for a in r.attestations}
    found = [
        (attestation_id(env), _predicate(env))
        for _, env in repo.attestations_of(uow.conn, candidate)
    ]
    open_ = [(aid, p) for aid, p in found if p.get("target") == target and aid not in done]
    if not open_:
        return None
    at, first = uow.clock(), open_[0][1]
    ids = tuple(aid for aid, _ in open_)
    predicate = {
        "candidate": candidate,
        "system": first.get("system"),
        "version": first.get("version"),
        "target": target,
        "reason": reason,
        "revoked_by": by,
        "time": to_time(at),
    }
    subjects = [("attestation", aid) for aid in ids]
    envelope = sign_statement(
        statement(subjects, ATTESTATION_REVOCATION_V1, predicate), ws.signing_key
    )
    record = RevocationRecord(
        0, candidate, str(first.get("system")), target, ids, reason, by, envelope, at
    )
    inserted = store.insert_revocation(uow, record)
    uow.append(
        "attestation.revoked",
        actor=by,
        subject=candidate,
        payload={"target": target, "attestations": list(ids), "reason": reason},
        system_id=record.system_id,
        records=[inserted],
    )
    return inserted


@retrying()
def revoke(ws: Workspace, principal: Principal, candidate: str, reason: str) -> int:
    """A person revokes the attestations of `candidate` (for its target): they must hold a
    role for its system. ConflictError when there is nothing left to revoke."""
    from clearance.store import repository as repo

    person = require_signed(principal, "revoking an attestation")
    if not reason.strip():
        from clearance.errors import UsageError

        raise UsageError("say why the attestation is revoked (--reason)")
    with ws.transaction() as uow:
        found = repo.attestations_of(uow.conn, candidate)
        if not found:
            raise NotFoundError(f"candidate {candidate} has no release attestation to revoke")
        predicate = _predicate(found[-1][1])
        if not person.sees(str(predicate.get("system"))):
            raise ForbiddenError(
                f"{person.name} holds no role for {predicate.get('system')}; only its people "
                "and administrators revoke its attestations"
            )
        inserted = revoke_candidate(
            uow, ws, candidate, str(predicate.get("target")), reason.strip(), person.name
        )
        if inserted is None:
            raise ConflictError(f"every attestation of candidate {candidate} is revoked already")
        return inserted.id


def revoked(ws: Workspace) -> dict[str, str]:
    """Attestation id -> why it was revoked, by whom and when."""
    from clearance.store import revocations as store

    with ws.engine.connect() as conn:
        return describe(store.revocations(conn))


def describe(found: list[RevocationRecord]) -> dict[str, str]:
    return {
        aid: f"{r.reason} (by {r.revoked_by}, {r.created_at:%Y-%m-%d %H:%M} UTC)"
        for r in found
        for aid in r.attestations
    }


def revocation_list(ws: Workspace) -> dict[str, Any]:
    """Every revocation, as one statement signed by the workspace key (its subject is the
    digest of the revoked ids, so the list cannot be cut without breaking the signature)."""
    from clearance.core.digest import json_digest
    from clearance.signing.statements import REVOCATION_LIST_V1, sign_statement, statement
    from clearance.store import revocations as store
    from clearance.store.records import to_time

    with ws.engine.connect() as conn:
        found = store.revocations(conn)
    entries = [
        {
            "attestation": aid,
            "candidate": r.candidate,
            "system": r.system_id,
            "target": r.target,
            "reason": r.reason,
            "revoked_by": r.revoked_by,
            "time": to_time(r.created_at),
        }
        for r in found
        for aid in r.attestations
    ]
    predicate = {"format": LIST_FORMAT, "issued": to_time(ws.clock()), "revoked": entries}
    subject = [("revocations", json_digest({"revoked": entries}))]
    return sign_statement(statement(subject, REVOCATION_LIST_V1, predicate), ws.signing_key)


def read_revocation_list(data: bytes, public_raw: bytes) -> tuple[dict[str, str], str]:
    """(attestation id -> why, issued time) of a revocation list signed by `public_raw`;
    IntegrityError when it is not one, or not signed by that key."""
    from clearance.errors import IntegrityError
    from clearance.signing import key_id
    from clearance.signing.statements import REVOCATION_LIST_V1, open_envelope

    stmt = open_envelope(data, {key_id(public_raw): public_raw})
    if stmt["predicateType"] != REVOCATION_LIST_V1:
        raise IntegrityError(f"not a revocation list but a {stmt['predicateType']} statement")
    entries = stmt["predicate"].get("revoked")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise IntegrityError("the revocation list has no list of revoked attestations")
    return (
        {
            str(e.get("attestation")): f"{e.get('reason')} (by {e.get('revoked_by')}, "
            f"{str(e.get('time'))[:16].replace('T', ' ')} UTC)"
            for e in entries
        },
        str(stmt["predicate"].get("issued")),
    )


def refuse_revoked(conn: Any, envelope: dict[str, Any]) -> None:
    """ConflictError when the attestation was revoked (so it is not exported)."""
    from clearance.signing.statements import attestation_id
    from clearance.store import revocations as store

    why = describe(store.revocations(conn)).get(attestation_id(envelope))
    if why is not None:
        raise ConflictError(f"that attestation was revoked: {why}; run `clearance check` again")
