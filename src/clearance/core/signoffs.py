"""The rules of sign-offs and waivers, in one place: the evaluator, the services' checks
before recording, and the audit pack all call these. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from clearance.core.criteria import ApprovalCriterion
from clearance.core.plan import Plan
from clearance.core.results import ApprovalRecord


def person_key(name: str) -> str:
    """People are the same person whatever the case or surrounding spaces of their name."""
    return name.strip().casefold()


def is_author(names: Iterable[str], authors: Iterable[str]) -> bool:
    """Separation of duties: whether any of a person's names or identity is among the plan's
    owner, authors and submitters (compared case-insensitively)."""
    return bool({person_key(n) for n in names} & {person_key(a) for a in authors})


def authors_forbidden(plan: Plan, role: str) -> bool:
    """Whether the plan keeps its authors from approving in `role`: every approval criterion
    that asks for the role forbids it (the default)."""
    asking = [
        c
        for c in plan.criteria
        if isinstance(c, ApprovalCriterion) and any(q.role == role for q in c.roles)
    ]
    return bool(asking) and all(c.forbid_author for c in asking)


def roles_asked(plan: Plan) -> list[str]:
    return sorted(
        {q.role for c in plan.criteria if isinstance(c, ApprovalCriterion) for q in c.roles}
    )


Key = tuple[str, str]  # (person, role), both case-folded


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def standing_decisions(
    records: Sequence[ApprovalRecord],
    candidate: str,
    evidence_set: str | None,
    aliases: frozenset[str] = frozenset(),
) -> tuple[dict[Key, ApprovalRecord], dict[Key, tuple[ApprovalRecord, str]]]:
    """Each person's standing decision per role on `candidate`, and the sign-offs that do
    not count here with why (another candidate, or evidence that has changed since).
    `aliases` are other digests of the same evidence set (see `services.evidence_sets`).

    Records are replayed in time order: an approval counts unless a rejection stands; a
    rejection stands until the same person withdraws it, or until the candidate or its
    evidence changes.
    """
    standing: dict[Key, ApprovalRecord] = {}
    elsewhere: dict[Key, tuple[ApprovalRecord, str]] = {}
    for record in sorted(records, key=lambda r: _utc(r.at)):  # stable: ties keep order
        key = (person_key(record.who), record.role.strip().casefold())
        if record.candidate != candidate:
            elsewhere[key] = (record, "was for an earlier candidate")
            continue
        if (
            evidence_set
            and record.evidence_set
            and record.evidence_set != evidence_set
            and record.evidence_set not in aliases
        ):
            elsewhere[key] = (record, "was given before the evidence changed")
            continue
        current = standing.get(key)
        rejected = current is not None and current.decision == "reject"
        if record.decision == "withdraw":
            standing.pop(key, None)
        elif record.decision == "reject" or not rejected:
            standing[key] = record
    return standing, elsewhere


def standing_rejection(
    records: Sequence[ApprovalRecord],
    who: str,
    role: str,
    candidate: str,
    evidence_set: str | None = None,
) -> bool:
    """Whether `who` has a rejection standing as `role` on `candidate`."""
    standing, _ = standing_decisions(records, candidate, evidence_set)
    found = standing.get((person_key(who), role.strip().casefold()))
    return found is not None and found.decision == "reject"


def unwaivable(plan: Plan, policy_ids: Iterable[str]) -> frozenset[str]:
    """Criteria no waiver can clear: the approval criteria the policy requires."""
    required = set(policy_ids)
    return frozenset(c.id for c in plan.criteria if c.id in required and c.kind == "approval")


def waiver_problem(
    *,
    signer_names: Iterable[str],
    role: str,
    holds_role: bool,
    allowed_roles: set[str],
    authors: Iterable[str],
    criterion_id: str,
    unwaivable_ids: frozenset[str],
    signed_at: datetime,
    expires_at: datetime,
    max_duration: timedelta,
) -> str | None:
    """Why a waiver does not (or may not) stand under today's roles and policy, or None."""
    if criterion_id in unwaivable_ids:
        return "the policy requires this approval and does not let it be waived"
    if not allowed_roles:
        return "no policy rule lets anyone waive it"
    if role not in allowed_roles:
        return f"the policy lets only {', '.join(sorted(allowed_roles))} waive it, not {role}"
    if not holds_role:
        return f"its author no longer holds role {role}"
    if is_author(signer_names, authors):
        return "its author owns, wrote or submitted the plan (separation of duties)"
    if expires_at - signed_at > max_duration:
        days = max_duration.total_seconds() / 86400
        return f"it lasts longer than the {days:g} days the policy allows"
    return None


def acceptance_problem(
    *,
    signer_names: Iterable[str],
    role: str,
    holds_role: bool,
    allowed_roles: set[str],
    authors: Iterable[str],
    signed_at: datetime,
    expires_at: datetime,
    max_duration: timedelta,
) -> str | None:
    """Why an acceptance of a finding does not (or may not) stand under today's roles and
    policy, or None: the same rules as a waiver, under the policy's `accept_findings`."""
    if not allowed_roles:
        return "no policy rule (accept_findings) lets anyone accept its findings"
    if role not in allowed_roles:
        return (
            f"the policy lets only {', '.join(sorted(allowed_roles))} accept its findings, "
            f"not {role}"
        )
    if not holds_role:
        return f"its author no longer holds role {role}"
    if is_author(signer_names, authors):
        return "its author owns, wrote or submitted the plan (separation of duties)"
    if expires_at - signed_at > max_duration:
        days = max_duration.total_seconds() / 86400
        return f"it lasts longer than the {days:g} days the policy allows"
    return None


def acknowledgement_problem(
    *, signer_names: Iterable[str], role: str, holds_role: bool, authors: Iterable[str]
) -> str | None:
    """Why an acknowledgement of an interested party by a person does not count, or None: it
    speaks for the party, so it needs the party's role, and never its plan's authors."""
    if not holds_role:
        return f"its author does not hold role {role}"
    if is_author(signer_names, authors):
        return "its author owns, wrote or submitted the plan (separation of duties)"
    return None
