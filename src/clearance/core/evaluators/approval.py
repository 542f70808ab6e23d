"""The approval criterion: every role has its quorum of approvals on this exact candidate, no
rejection stands, authors do not approve their own plan, one person fills one role, and no
approval has expired.

A person's records per role on this candidate, in time order, make their standing decision:
an approval counts unless a rejection stands; a rejection does not expire and stands until
the same person withdraws it (or the candidate or its evidence changes). People are counted
by identity, so two names or two keys of one person count once. With
`distinct_people`, whether every quorum can be met with each person used once is decided
exactly, as a bipartite matching of people to role seats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from clearance.core.criteria import ApprovalCriterion
from clearance.core.durations import parse_duration
from clearance.core.evaluators import evaluator
from clearance.core.evaluators._common import as_utc, listing, make_result
from clearance.core.results import (
    ApprovalRecord,
    EvaluationContext,
    NextAction,
    Result,
    Status,
)
from clearance.core.signoffs import is_author, person_key, standing_decisions


@dataclass(frozen=True)
class _Standing:
    record: ApprovalRecord
    role: str  # the role as the plan writes it


def match_people(
    eligible: Mapping[str, Sequence[str]], quorum: Mapping[str, int]
) -> dict[str, str]:
    """Assign people to roles, each person to one role and at most `quorum[role]` per role,
    maximising the seats filled (augmenting paths over role seats). Returns person -> role."""
    seats = [role for role, n in quorum.items() for _ in range(n)]
    seat_of: dict[int, str] = {}  # seat index -> person
    roles_of: dict[str, list[str]] = {}
    for role, people in eligible.items():
        for person in people:
            roles_of.setdefault(person, []).append(role)

    def augment(person: str, seen: set[int]) -> bool:
        for seat, role in enumerate(seats):
            if role not in roles_of[person] or seat in seen:
                continue
            seen.add(seat)
            holder = seat_of.get(seat)
            if holder is None or augment(holder, seen):
                seat_of[seat] = person
                return True
        return False

    for person in roles_of:
        augment(person, set())
    return {person: seats[seat] for seat, person in seat_of.items()}


@evaluator("approval")
def evaluate_approval(criterion: ApprovalCriterion, ctx: EvaluationContext) -> Result:
    """PASSED when every role reaches its quorum; FAILED on a standing rejection; else PENDING."""
    quorum: dict[str, int] = {}
    for entry in criterion.roles:
        quorum[entry.role] = max(quorum.get(entry.role, 0), entry.min)
    role_by_key = {role.casefold(): role for role in quorum}
    expected = dict(quorum)

    decided, stale = standing_decisions(
        ctx.approvals, ctx.candidate, ctx.evidence_set, ctx.evidence_set_aliases
    )
    standing: dict[tuple[str, str], _Standing] = {
        (person, role_by_key[role]): _Standing(record, role_by_key[role])
        for (person, role), record in decided.items()
        if role in role_by_key
    }
    elsewhere: dict[tuple[str, str], tuple[ApprovalRecord, str]] = {
        (person, role_by_key[role]): found
        for (person, role), found in stale.items()
        if role in role_by_key
    }

    notes = [
        f"{_decision(r)} by {r.person} ({role}) {why}{_what_changed(r, ctx)}; "
        f"ask {r.person} to sign this one"
        for (person, role), (r, why) in elsewhere.items()
        if (person, role) not in standing
    ]
    authors = {person_key(a) for a in ctx.authors} | {person_key(ctx.plan.owner)}
    limit = parse_duration(criterion.expires_after) if criterion.expires_after else None
    now = as_utc(ctx.now)
    eligible: dict[str, list[str]] = {role: [] for role in quorum}
    names: dict[str, str] = {}
    for (person, role), s in standing.items():
        if s.record.decision != "approve":
            continue
        if criterion.forbid_author and is_author((person, s.record.person), authors):
            notes.append(f"{s.record.person} is an author of this plan and cannot approve it")
            continue
        if limit is not None and now - as_utc(s.record.at) > limit:
            notes.append(
                f"the approval by {s.record.person} ({role}) of "
                f"{as_utc(s.record.at).date().isoformat()} has expired (older than "
                f"{criterion.expires_after}); ask {s.record.person} to approve again"
            )
            continue
        eligible[role].append(person)
        names[person] = s.record.person

    counted = _count(criterion, eligible, quorum)
    notes = list(dict.fromkeys(notes))
    if criterion.distinct_people:
        for person, roles in _multi_role(eligible).items():
            notes.append(
                f"{names[person]} approved as {' and '.join(roles)} but counts once "
                "(distinct_people)"
            )
    observed = {role: [names[p] for p in people] for role, people in counted.items()}
    rejections = [s for s in standing.values() if s.record.decision == "reject"]
    if rejections:
        said = "; ".join(
            f"{s.record.person} ({s.role}) rejected it"
            + (f': "{s.record.comment.strip()}"' if s.record.comment.strip() else "")
            for s in rejections
        )
        reason = (
            f"{said}; the release waits until each rejection is withdrawn by the person who "
            "made it, or a new candidate addresses it"
        )
        withdrawals = [
            NextAction("withdraw", criterion.id, role=s.role, person=s.record.person)
            for s in rejections
        ]
        return make_result(
            criterion, Status.FAILED, reason, observed, expected, actions=withdrawals
        )
    summary = ", ".join(
        f"{role}: {len(people)} of {quorum[role]}"
        + (f" ({', '.join(observed[role])})" if people else "")
        for role, people in counted.items()
    )
    short = [role for role, people in counted.items() if len(people) < quorum[role]]
    if short:
        reason = (
            f"waiting for approvals on this candidate: {summary}"
            + "".join(f"; {n}" for n in notes)
            + f"; ask a person in {'role' if len(short) == 1 else 'roles'} "
            f"{listing(short)} to approve this candidate"
        )
        approvals = [NextAction("approve", criterion.id, role=role) for role in short]
        return make_result(criterion, Status.PENDING, reason, observed, expected, actions=approvals)
    reason = f"every role has its quorum on this candidate: {summary}"
    if notes:
        reason += "; " + "; ".join(notes)
    return make_result(criterion, Status.PASSED, reason, observed, expected)


def _what_changed(record: ApprovalRecord, ctx: EvaluationContext) -> str:
    """What changed in the evidence since a stale sign-off, when it is known."""
    if record.candidate != ctx.candidate or record.evidence_set is None:
        return ""
    changed = ctx.evidence_changes.get(record.evidence_set)
    return f" ({changed})" if changed else ""


def _decision(record: ApprovalRecord) -> str:
    return {"approve": "approval", "reject": "rejection"}.get(record.decision, "withdrawal")


def _count(
    criterion: ApprovalCriterion, eligible: dict[str, list[str]], quorum: dict[str, int]
) -> dict[str, list[str]]:
    """People counted per role, in plan role order."""
    if not criterion.distinct_people:
        return eligible
    assigned = match_people(eligible, quorum)
    # People the matching left over fill no missing seat; show them where they approved first.
    for role, people in eligible.items():
        for person in people:
            assigned.setdefault(person, role)
    return {role: [p for p in people if assigned[p] == role] for role, people in eligible.items()}


def _multi_role(eligible: dict[str, list[str]]) -> dict[str, list[str]]:
    roles: dict[str, list[str]] = {}
    for role, people in eligible.items():
        for person in people:
            roles.setdefault(person, []).append(role)
    return {person: rs for person, rs in roles.items() if len(rs) > 1}
