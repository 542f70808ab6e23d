"""Sign-offs, rejections, withdrawals and waivers: signed statements by registered people,
bound to the exact candidate and evidence they saw. Every rule is enforced here, so the CLI,
the API and the web get the same answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from clearance.core.criteria import ApprovalCriterion
from clearance.core.durations import DURATION_PATTERN, parse_duration
from clearance.core.policy import waiver_roles
from clearance.core.results import ApprovalRecord
from clearance.errors import NotFoundError, UsageError
from clearance.services.evidence import evidence_set_digest, ingest_named_files, store_named_files
from clearance.services.people import Person, identities, load_person, valid_keys
from clearance.services.plans import LoadedPlan, candidate_of, submit
from clearance.services.workspace import Workspace, record_event

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.signing import SigningKey
    from clearance.store.records import CandidateRecord

Decision = Literal["approve", "reject", "withdraw"]


@dataclass(frozen=True)
class Recorded:
    approval: ApprovalRecord
    approval_id: int
    envelope: dict[str, Any]


def _signer(conn: Connection, ws: Workspace, name: str, key: SigningKey) -> Person:
    """The registered person signing, whose key must be theirs and valid now."""
    person = load_person(conn, name.strip())
    if person is None:
        raise UsageError(
            f"{name} is not registered; `clearance people add {name} --role ROLE "
            "--key PUBKEY` first"
        )
    if key.key_id not in valid_keys(person, ws.clock()):
        raise UsageError(
            f"key {key.key_id[:19]}… is not a valid key of {person.name} (registered: "
            f"{', '.join(k.key_id[:19] + '…' for k in person.keys) or 'none'}); "
            "register it with `clearance keys add`"
        )
    return person


def _candidate(conn: Connection, ws: Workspace, loaded: LoadedPlan) -> CandidateRecord:
    from clearance.store import repository as repo

    digest = candidate_of(ws, loaded)
    candidate = repo.get_candidate(conn, digest)
    if candidate is None:
        # Only a submitted candidate can be signed: a signer never becomes its submitter.
        raise UsageError(
            f"candidate {digest} of {loaded.path.name} has not been submitted; run "
            "`clearance check` or `clearance plan submit` first, then sign off what it shows"
        )
    return candidate


def sign(
    ws: Workspace,
    loaded: LoadedPlan,
    role: str,
    name: str,
    decision: Decision,
    comment: str,
    key: SigningKey,
) -> Recorded:
    """Record a signed approval, rejection or withdrawal of the plan's current candidate."""
    from clearance.signing.statements import APPROVAL_V1, open_envelope, sign_statement, statement
    from clearance.store import repository as repo
    from clearance.store.records import to_time

    plan = loaded.plan
    asked = sorted(
        {q.role for c in plan.criteria if isinstance(c, ApprovalCriterion) for q in c.roles}
    )
    if not asked:
        raise UsageError(
            f"{loaded.path.name} has no approval criterion, so there is nothing "
            "to sign off; add a criterion of kind approval"
        )
    if role not in asked:
        raise UsageError(f'this plan asks for no "{role}" sign-off (roles: {", ".join(asked)})')
    if decision == "reject" and not comment.strip():
        raise UsageError("a rejection needs a comment saying what must change (-m)")
    stored = store_named_files(ws, loaded)
    with ws.transaction() as conn:
        candidate = _candidate(conn, ws, loaded)
        person = _signer(conn, ws, name, key)
        if not person.holds(role, plan.system.id):
            held = ", ".join(str(g) for g in person.roles) or "none"
            raise UsageError(
                f"{person.name} does not hold role {role} for {plan.system.id} "
                f"(roles: {held}); `clearance people grant {person.name} --role "
                f"{role}`"
            )
        authors = identities(conn, {plan.owner, *repo.authors_of_candidate(conn, candidate)})
        forbid = all(
            c.forbid_author
            for c in plan.criteria
            if isinstance(c, ApprovalCriterion) and any(q.role == role for q in c.roles)
        )
        if decision == "approve" and forbid and person.identity in authors:
            raise UsageError(
                f"{person.name} wrote or submitted this plan and cannot approve it "
                "(separation of duties); ask someone else in the role"
            )
        sub = submit(conn, ws, loaded, person.name)
        ingest_named_files(conn, ws, loaded, sub, person.name, stored)
        evidence = evidence_set_digest(repo.evidence_of(conn, candidate.digest))
        if decision == "withdraw":
            _require_rejection(
                conn, plan.system.id, plan.release.version, candidate.digest, person, role
            )
        at = ws.clock()
        stmt = statement(
            [("candidate", candidate.digest)],
            APPROVAL_V1,
            {
                "system": plan.system.id,
                "version": plan.release.version,
                "role": role,
                "decision": decision,
                "comment": comment,
                "person": person.name,
                "revision": candidate.revision,
                "evidence": evidence,
                "time": to_time(at),
            },
        )
        envelope = sign_statement(stmt, key)
        open_envelope(envelope, valid_keys(person, at))  # what is stored verifies
        approval = ApprovalRecord(
            person=person.name,
            role=role,
            decision=decision,
            candidate=candidate.digest,
            at=at,
            comment=comment,
            identity=person.identity,
            evidence_set=evidence,
        )
        approval_id = repo.insert_approval(
            conn, plan.system.id, plan.release.version, approval, envelope
        )
        kind = {
            "approve": "approval.approved",
            "reject": "approval.rejected",
            "withdraw": "approval.withdrawn",
        }[decision]
        record_event(
            conn,
            ws,
            kind,
            person.name,
            candidate.digest,
            {
                "approval_id": approval_id,
                "role": role,
                "comment": comment,
                "identity": person.identity,
                "evidence": evidence,
            },
            plan.system.id,
        )
    return Recorded(approval, approval_id, envelope)


def _require_rejection(
    conn: Connection, system_id: str, version: str, candidate: str, person: Person, role: str
) -> None:
    from clearance.store import repository as repo

    mine = [
        a
        for a in repo.approvals_of(conn, system_id, version)
        if a.candidate == candidate and a.role == role and a.who == person.identity
    ]
    rejected = False  # replayed as the evaluator does: only a withdrawal lifts a rejection
    for a in mine:
        rejected = a.decision == "reject" or (rejected and a.decision != "withdraw")
    if not rejected:
        raise UsageError(
            f"{person.name} has no standing rejection as {role} on this candidate to withdraw"
        )


# -- waivers --------------------------------------------------------------------------------


def parse_expiry(text: str, now: datetime) -> datetime:
    """`14d`-style durations from now, or an ISO date (end of that day, UTC)."""
    import re

    if re.fullmatch(DURATION_PATTERN, text):
        return now + parse_duration(text)
    try:
        day = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f'--expires "{text}": give a duration such as 14d or a date such as 2026-12-31'
        ) from None
    if day.tzinfo is None:
        from datetime import UTC

        day = day.replace(tzinfo=UTC)
    if len(text) == 10:
        day += timedelta(days=1)
    return day


def waive(
    ws: Workspace,
    loaded: LoadedPlan,
    criterion_id: str,
    name: str,
    role: str,
    justification: str,
    expires: str,
    key: SigningKey,
) -> dict[str, Any]:
    """Record a signed, justified, expiring waiver of one criterion of the current candidate."""
    from clearance.signing.statements import WAIVER_V1, open_envelope, sign_statement, statement
    from clearance.store import repository as repo
    from clearance.store.records import to_time

    plan = loaded.plan
    try:
        criterion = plan.criterion(criterion_id)
    except KeyError:
        raise NotFoundError(f'{loaded.path.name} has no criterion "{criterion_id}"') from None
    if not justification.strip():
        raise UsageError(
            "a waiver needs a justification (-m) saying why the release may go "
            "without this criterion"
        )
    at = ws.clock()
    until = parse_expiry(expires, at)
    if until <= at:
        raise UsageError(f"--expires {expires} is already past; a waiver must expire later")
    allowed = waiver_roles(loaded.policy, plan.release.target, criterion.id, criterion.kind)
    if not allowed:
        why = (
            "the organisation's policy requires it and does not let it be waived"
            if criterion.id in loaded.policy_ids and criterion.kind == "approval"
            else "no policy rule lets anyone waive it (set one with `clearance policy set`)"
        )
        raise UsageError(f"criterion {criterion.id} cannot be waived: {why}")
    if role not in allowed:
        raise UsageError(
            f"role {role} may not waive criterion {criterion.id}; the policy "
            f"allows: {', '.join(sorted(allowed))}"
        )
    with ws.transaction() as conn:
        candidate = _candidate(conn, ws, loaded)
        person = _signer(conn, ws, name, key)
        if not person.holds(role, plan.system.id):
            raise UsageError(f"{person.name} does not hold role {role} for {plan.system.id}")
        stmt = statement(
            [("candidate", candidate.digest)],
            WAIVER_V1,
            {
                "system": plan.system.id,
                "version": plan.release.version,
                "criterion": criterion.id,
                "role": role,
                "person": person.name,
                "justification": justification,
                "expires": to_time(until),
                "time": to_time(at),
                "policy": loaded.policy_digest,
            },
        )
        envelope = sign_statement(stmt, key)
        open_envelope(envelope, valid_keys(person, at))
        waiver_id = repo.insert_waiver(
            conn,
            {
                "candidate": candidate.digest,
                "system_id": plan.system.id,
                "criterion_id": criterion.id,
                "person": person.name,
                "role": role,
                "justification": justification,
                "expires_at": until,
                "envelope": envelope,
                "created_at": at,
            },
        )
        record_event(
            conn,
            ws,
            "waiver.granted",
            person.name,
            candidate.digest,
            {
                "waiver_id": waiver_id,
                "criterion": criterion.id,
                "role": role,
                "expires": to_time(until),
                "justification": justification,
            },
            plan.system.id,
        )
    return envelope
