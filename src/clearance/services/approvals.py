"""Sign-offs, rejections, withdrawals, waivers and waiver revocations: statements signed by
registered people, bound to the exact candidate and evidence they saw. The use cases take
the signed statement and nothing else (they never submit a plan or ingest files); every rule
is enforced here, so the CLI, the API and the web get the same answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clearance.core.policy import max_waiver, personal_key_roles, waiver_roles
from clearance.core.results import ApprovalRecord
from clearance.core.signoffs import (
    authors_forbidden,
    is_author,
    roles_asked,
    standing_rejection,
    unwaivable,
    waiver_problem,
)
from clearance.errors import ForbiddenError, NotFoundError, UsageError
from clearance.services.auth import Principal, Signed, bind, require_role, verify_fresh
from clearance.services.plans import LoadedPlan, recorded_candidate, stored_plan
from clearance.services.workspace import Workspace
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from clearance.store.records import CandidateRecord
    from clearance.store.uow import UnitOfWork

DECISIONS = ("approve", "reject", "withdraw")
EVENT = {
    "approve": "approval.approved",
    "reject": "approval.rejected",
    "withdraw": "approval.withdrawn",
}


@dataclass(frozen=True)
class Recorded:
    approval: ApprovalRecord
    approval_id: int
    envelope: dict[str, Any]


def _accept(
    uow: UnitOfWork, envelope: dict[str, Any], predicate_type: str, caller: Principal | None
) -> tuple[Signed, CandidateRecord, LoadedPlan]:
    """The verified, fresh statement, the candidate it is about and that candidate's plan;
    an API caller must have signed it themself and see the candidate's system."""
    from clearance.core.identity import Scope
    from clearance.services.auth import require_access

    signed = verify_fresh(uow.conn, envelope, predicate_type, uow.clock())
    bind(caller, signed, Scope.SIGN)
    candidate, loaded = _subject(uow, signed)
    require_access(caller, candidate.system_id)
    return signed, candidate, loaded


def _subject(uow: UnitOfWork, signed: Signed) -> tuple[CandidateRecord, LoadedPlan]:
    candidate = recorded_candidate(uow.conn, signed.subject, "the plan")
    pred = signed.predicate
    if (pred.get("system"), pred.get("version")) != (candidate.system_id, candidate.version):
        raise ForbiddenError("the statement names another system or version than its candidate")
    return candidate, stored_plan(uow.conn, candidate)


def _current_evidence(
    ws: Workspace, uow: UnitOfWork, loaded: LoadedPlan, candidate: CandidateRecord
) -> frozenset[str]:
    """The digests of the candidate's evidence now that a sign-off may name."""
    from clearance.services.evidence_sets import evidence_sets
    from clearance.services.verified import verified_evidence

    records = verified_evidence(uow.conn, candidate, loaded.plan.system.id)
    return evidence_sets(ws, loaded, records, uow.conn).accepted


def _changed_since(
    ws: Workspace, uow: UnitOfWork, loaded: LoadedPlan, candidate: CandidateRecord, named: Any
) -> str:
    """What changed in the evidence since the set a statement names, when it is known."""
    from clearance.services.evidence_sets import changed_since
    from clearance.services.verified import verified_evidence

    if not isinstance(named, str):
        return ""
    records = verified_evidence(uow.conn, candidate, loaded.plan.system.id)
    changed = changed_since(ws, loaded, records, named, candidate.digest, uow.conn)
    return f" ({changed})" if changed else ""


@retrying()
def sign(ws: Workspace, envelope: dict[str, Any], caller: Principal | None = None) -> Recorded:
    """Record a signed approval, rejection or withdrawal of a submitted candidate."""
    from clearance.signing.statements import APPROVAL_V1
    from clearance.store import repository as repo

    with ws.transaction() as uow:
        signed, candidate, loaded = _accept(uow, envelope, APPROVAL_V1, caller)
        again = repo.approval_signed_as(
            uow.conn, candidate.system_id, candidate.version, signed.envelope
        )
        if again is not None:  # a retry of a sign-off already recorded: the same record
            return Recorded(again.record, again.id, signed.envelope)
        if "authenticated" in signed.predicate:
            raise ForbiddenError(
                "a statement naming a browser sign-in is made by the web pages only; sign "
                "your own statement without it"
            )
        return record_signoff(uow, signed, candidate, loaded, ws=ws)


def record_signoff(
    uow: UnitOfWork,
    signed: Signed,
    candidate: CandidateRecord,
    loaded: LoadedPlan,
    extra: dict[str, Any] | None = None,
    *,
    ws: Workspace,
) -> Recorded:
    """Check a verified sign-off statement against every rule and record it with its
    event; shared by statements signed with a person's key and browser sign-offs (`extra`
    goes into the event: how the person authenticated)."""
    from clearance.services.gate import authors_of
    from clearance.services.verified import verified_records
    from clearance.store import repository as repo

    pred, plan = signed.predicate, loaded.plan
    decision, role = pred.get("decision"), str(pred.get("role", ""))
    comment = str(pred.get("comment", ""))
    if decision not in DECISIONS:
        raise UsageError(f"{decision!r} is not a sign-off; expected approve, reject or withdraw")
    asked = roles_asked(plan)
    if not asked:
        raise UsageError(
            f"{loaded.name} has no approval criterion, so there is nothing to sign off; "
            "add a criterion of kind approval"
        )
    if role not in asked:
        raise UsageError(f'this plan asks for no "{role}" sign-off (roles: {", ".join(asked)})')
    person = require_role(signed.principal, role, plan.system.id, f"sign off as {role}")
    if signed.principal.method.startswith("session") and role in personal_key_roles(loaded.policy):
        raise ForbiddenError(
            f"the policy requires {role} sign-offs to be signed with your own key, not in the "
            f"browser; sign with the CLI: `clearance --identity KEY {decision} PLAN --role "
            f"{role}`"
        )
    if decision == "reject" and not comment.strip():
        raise UsageError("a rejection needs a comment saying what must change (-m)")
    authors = authors_of(uow.conn, loaded, candidate)
    if (
        decision == "approve"
        and authors_forbidden(plan, role)
        and is_author((person.name, person.identity), authors)
    ):
        raise ForbiddenError(
            f"{person.name} owns, wrote or submitted this plan and cannot approve it "
            "(separation of duties); ask someone else in the role"
        )
    if pred.get("evidence") not in _current_evidence(ws, uow, loaded, candidate):
        raise UsageError(
            "the evidence of this candidate changed since the statement was signed"
            f"{_changed_since(ws, uow, loaded, candidate, pred.get('evidence'))}; "
            "look at `clearance check` again and sign what it shows now"
        )
    if decision == "withdraw":
        verified = verified_records(uow.conn, loaded, candidate, authors, uow.clock())
        if not standing_rejection(
            verified.approvals, person.identity, role, candidate.digest, pred.get("evidence")
        ):
            raise UsageError(
                f"{person.name} has no standing rejection as {role} on this candidate to withdraw"
            )
    approval = ApprovalRecord(
        person=person.name,
        role=role,
        decision=decision,
        candidate=candidate.digest,
        at=signed.at,
        comment=comment,
        identity=person.identity,
        evidence_set=pred.get("evidence"),
    )
    inserted = repo.insert_approval(
        uow, candidate.system_id, candidate.version, approval, signed.envelope
    )
    uow.append(
        EVENT[decision],
        actor=person.name,
        subject=candidate.digest,
        payload={
            "approval_id": inserted.id,
            "role": role,
            "comment": comment,
            "identity": person.identity,
            "evidence": approval.evidence_set,
            "key_id": signed.principal.key_id,
            **(extra or {}),
        },
        system_id=candidate.system_id,
        records=[inserted],
    )
    return Recorded(approval, inserted.id, signed.envelope)


# -- waivers --------------------------------------------------------------------------------


@retrying()
def waive(
    ws: Workspace, envelope: dict[str, Any], caller: Principal | None = None
) -> dict[str, Any]:
    """Record a signed, justified, expiring waiver of one criterion of a candidate."""
    from clearance.services.gate import authors_of
    from clearance.signing.statements import WAIVER_V1
    from clearance.store import repository as repo
    from clearance.store.records import WaiverRow, from_time

    with ws.transaction() as uow:
        signed, candidate, loaded = _accept(uow, envelope, WAIVER_V1, caller)
        if any(w.envelope == signed.envelope for w in repo.waivers_of(uow.conn, candidate.digest)):
            return signed.envelope  # a retry of a waiver already recorded
        pred, plan = signed.predicate, loaded.plan
        criterion_id, role = str(pred.get("criterion", "")), str(pred.get("role", ""))
        justification = str(pred.get("justification", ""))
        try:
            criterion = plan.criterion(criterion_id)
        except KeyError:
            raise NotFoundError(f'{loaded.name} has no criterion "{criterion_id}"') from None
        if not justification.strip():
            raise UsageError(
                "a waiver needs a justification (-m) saying why the release may go "
                "without this criterion"
            )
        try:
            until = from_time(str(pred.get("expires")))
        except ValueError:
            raise UsageError("the waiver has no valid expiry") from None
        if until <= signed.at:
            raise UsageError("the waiver's expiry is already past; a waiver must expire later")
        person = require_role(signed.principal, role, plan.system.id, f"waive as {role}")
        policy = loaded.policy
        problem = waiver_problem(
            signer_names=(person.name, person.identity),
            role=role,
            holds_role=True,
            allowed_roles=waiver_roles(policy, plan.release.target, criterion.id, criterion.kind),
            authors=authors_of(uow.conn, loaded, candidate),
            criterion_id=criterion.id,
            unwaivable_ids=unwaivable(plan, loaded.policy_ids),
            signed_at=signed.at,
            expires_at=until,
            max_duration=max_waiver(policy),
        )
        if problem is not None:
            error = (
                ForbiddenError if "separation" in problem or "lets only" in problem else UsageError
            )
            raise error(f"criterion {criterion.id} cannot be waived by {person.name}: {problem}")
        inserted = repo.insert_waiver(
            uow,
            WaiverRow(
                id=0,
                candidate=candidate.digest,
                system_id=candidate.system_id,
                criterion_id=criterion.id,
                person=person.name,
                role=role,
                justification=justification,
                expires_at=until,
                envelope=signed.envelope,
                created_at=signed.at,
            ),
        )
        uow.append(
            "waiver.granted",
            actor=person.name,
            subject=candidate.digest,
            payload={
                "waiver_id": inserted.id,
                "criterion": criterion.id,
                "role": role,
                "expires": pred.get("expires"),
                "justification": justification,
            },
            system_id=candidate.system_id,
            records=[inserted],
        )
    return signed.envelope


@retrying()
def revoke_waiver(ws: Workspace, envelope: dict[str, Any], caller: Principal | None = None) -> str:
    """Revoke a waiver: by its author, an administrator, or anyone the policy lets waive it.
    Returns the criterion id."""
    from clearance.signing.statements import WAIVER_REVOCATION_V1, envelope_digest
    from clearance.store import repository as repo

    with ws.transaction() as uow:
        signed, candidate, loaded = _accept(uow, envelope, WAIVER_REVOCATION_V1, caller)
        wanted = str(signed.predicate.get("waiver", ""))
        reason = str(signed.predicate.get("reason", "")).strip()
        if not reason:
            raise UsageError("say why the waiver is revoked (-m)")
        rows = {envelope_digest(w.envelope): w for w in repo.waivers_of(uow.conn, candidate.digest)}
        waiver = rows.get(wanted)
        if waiver is None:
            raise NotFoundError("no such waiver on this candidate")
        if repo.waiver_revocations(uow.conn, [waiver.id]):
            raise UsageError(f"the waiver of {waiver.criterion_id} was already revoked")
        person = signed.principal.person
        assert person is not None
        criterion = loaded.plan.criterion(waiver.criterion_id)
        allowed = waiver_roles(
            loaded.policy, loaded.plan.release.target, criterion.id, criterion.kind
        )
        may = (
            person.name == waiver.person
            or person.admin
            or any(person.holds(r, candidate.system_id) for r in allowed)
        )
        if not may:
            raise ForbiddenError(
                f"{person.name} may not revoke the waiver by {waiver.person}: only its author, "
                f"an administrator or a person in {', '.join(sorted(allowed)) or 'no role'}"
            )
        inserted = repo.insert_waiver_revocation(
            uow, waiver.id, person.name, reason, signed.envelope, signed.at
        )
        uow.append(
            "waiver.revoked",
            actor=person.name,
            subject=candidate.digest,
            payload={"waiver_id": waiver.id, "criterion": waiver.criterion_id, "reason": reason},
            system_id=candidate.system_id,
            records=[inserted],
        )
        return waiver.criterion_id


def waivers_of(ws: Workspace, candidate: str, criterion_id: str) -> list[Any]:
    """The waivers recorded for a criterion of a candidate, oldest first."""
    from clearance.store import repository as repo

    with ws.engine.connect() as conn:
        return [w for w in repo.waivers_of(conn, candidate) if w.criterion_id == criterion_id]
