"""Sign-offs and rejections, bound to the exact candidate the person saw."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from clearance.core.criteria import ApprovalCriterion
from clearance.core.results import ApprovalRecord
from clearance.errors import UsageError
from clearance.services.plans import LoadedPlan, candidate_of
from clearance.services.workspace import Workspace, record_event


@dataclass(frozen=True)
class Recorded:
    approval: ApprovalRecord
    approval_id: int


def _approval_criteria(loaded: LoadedPlan) -> list[ApprovalCriterion]:
    return [c for c in loaded.plan.criteria if isinstance(c, ApprovalCriterion)]


def sign(
    ws: Workspace,
    loaded: LoadedPlan,
    role: str,
    person: str,
    decision: Literal["approve", "reject"],
    comment: str = "",
) -> Recorded:
    """Record an approval or rejection of the plan's current candidate by `person` in `role`."""
    from clearance.store import repository as repo

    person = person.strip()
    criteria = _approval_criteria(loaded)
    asked = sorted({q.role for c in criteria for q in c.roles})
    if not asked:
        raise UsageError(
            f"{loaded.path.name} has no approval criterion, so there is nothing to sign off; "
            "add a criterion of kind approval"
        )
    if role not in asked:
        raise UsageError(f'this plan asks for no "{role}" sign-off (roles: {", ".join(asked)})')
    with_role = [c for c in criteria if any(q.role == role for q in c.roles)]
    digest = candidate_of(ws, loaded)
    with ws.transaction() as conn:
        # Only a submitted candidate can be signed: the approver must not become its submitter.
        candidate = repo.get_candidate(conn, digest)
        if candidate is None:
            raise UsageError(
                f"candidate {digest} of {loaded.path.name} has not been submitted; run "
                "`clearance check` or `clearance plan submit` first, then sign off what it shows"
            )
        authors = {loaded.plan.owner, *repo.authors_of_candidate(conn, candidate)}
        is_author = person.casefold() in {a.strip().casefold() for a in authors}
        if decision == "approve" and is_author and all(c.forbid_author for c in with_role):
            raise UsageError(
                f"{person} wrote or submitted this plan and cannot approve it "
                "(separation of duties); ask someone else in the role"
            )
        approval = ApprovalRecord(
            person=person,
            role=role,
            decision=decision,
            candidate=candidate.digest,
            at=ws.clock(),
            comment=comment,
        )
        approval_id = repo.insert_approval(
            conn, loaded.plan.system.id, loaded.plan.release.version, approval
        )
        record_event(
            conn,
            ws,
            f"approval.{decision}d" if decision == "approve" else "approval.rejected",
            person,
            candidate.digest,
            {"approval_id": approval_id, "role": role, "comment": comment},
            loaded.plan.system.id,
        )
    return Recorded(approval, approval_id)
