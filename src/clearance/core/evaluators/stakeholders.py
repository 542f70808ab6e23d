"""The stakeholders criterion: the plan names its interested parties, each has an impact
statement and a consideration saying how the release accounts for it, and where a party
names a role (`acknowledged_by`), a person holding it acknowledged that text on this
candidate. An acknowledgement is bound to the candidate and to the party's text: a new
candidate, or a changed impact or consideration, needs a new one."""

from __future__ import annotations

from typing import Any

from clearance.core.criteria import StakeholdersCriterion
from clearance.core.evaluators import evaluator
from clearance.core.evaluators._common import fix_plan, listing, make_result
from clearance.core.plan import InterestedParty
from clearance.core.results import (
    AcknowledgementRecord,
    EvaluationContext,
    NextAction,
    Result,
    Status,
)

FIELDS = ("impact", "consideration")


@evaluator("stakeholders")
def evaluate_stakeholders(criterion: StakeholdersCriterion, ctx: EvaluationContext) -> Result:
    """PASSED when at least one party is listed, every party has both statements, and every
    party that names a role (or, with require_acknowledgement, every party) is acknowledged
    on this candidate."""
    parties = ctx.plan.interested_parties
    expected: dict[str, Any] = {"parties": ">= 1", "each_has": list(FIELDS)}
    if criterion.require_acknowledgement:
        expected["acknowledged"] = "every party"
    if not parties:
        reason = (
            "the plan lists no interested parties; add interested_parties with name, impact "
            "and consideration for each (e.g. the people the system's decisions affect)"
        )
        actions = [fix_plan(criterion.id, "interested_parties")]
        return make_result(
            criterion, Status.PENDING, reason, {"parties": 0}, expected, actions=actions
        )

    incomplete: dict[str, list[str]] = {}
    fixes: list[NextAction] = []
    for i, party in enumerate(parties):
        missing = [f for f in FIELDS if not (getattr(party, f) or "").strip()]
        if criterion.require_acknowledgement and party.acknowledged_by is None:
            missing.append("acknowledged_by")
        if missing:
            incomplete[party.name] = missing
            fixes += [fix_plan(criterion.id, f"interested_parties[{i}].{f}") for f in missing]

    acknowledged: dict[str, list[str]] = {}
    awaiting: dict[str, str] = {}
    asks: list[NextAction] = []
    for party in parties:
        if party.acknowledged_by is None or party.name in incomplete:
            continue
        found = _standing(party, ctx)
        if found:
            acknowledged[party.name] = [
                f"{a.person} ({a.role})" + (f": {a.comment}" if a.comment.strip() else "")
                for a in found
            ]
        else:
            awaiting[party.name] = _why_not(party, ctx)
            asks.append(
                NextAction(
                    "acknowledge", criterion.id, role=party.acknowledged_by, about=(party.name,)
                )
            )

    observed: dict[str, Any] = {"parties": len(parties), "incomplete": incomplete}
    if acknowledged or awaiting:
        observed["acknowledged"] = acknowledged
        observed["awaiting"] = list(awaiting)
    wanting: list[str] = []
    if incomplete:
        gaps = [f"{name} has no {' and no '.join(fields)}" for name, fields in incomplete.items()]
        wanting.append(
            f"{len(incomplete)} of {len(parties)} interested parties "
            f"{'is' if len(incomplete) == 1 else 'are'} incomplete: {'; '.join(gaps)}; "
            "write how the release affects each party (impact) and how the plan accounts "
            "for it (consideration)"
            + (
                ", and name the role that acknowledges it (acknowledged_by)"
                if any("acknowledged_by" in f for f in incomplete.values())
                else ""
            )
        )
    wanting += awaiting.values()
    notes = list(ctx.void_acknowledgements)
    if wanting:
        reason = "; ".join([*wanting, *_done(acknowledged), *notes])
        return make_result(
            criterion, Status.PENDING, reason, observed, expected, actions=[*fixes, *asks]
        )
    names = [p.name for p in parties]
    reason = (
        f"{len(parties)} interested "
        f"{'party has' if len(parties) == 1 else 'parties have'} an impact and a "
        f"consideration ({listing(names)})"
    )
    return make_result(
        criterion, Status.PASSED, "; ".join([reason, *_done(acknowledged), *notes]), observed,
        expected,
    )  # fmt: skip


def _standing(party: InterestedParty, ctx: EvaluationContext) -> list[AcknowledgementRecord]:
    """This candidate's acknowledgements of the party's current text, in its role."""
    digest = party.text_digest()
    return [
        a
        for a in ctx.acknowledgements
        if a.candidate == ctx.candidate
        and a.party == party.name
        and a.party_digest == digest
        and a.role == party.acknowledged_by
    ]


def _why_not(party: InterestedParty, ctx: EvaluationContext) -> str:
    """Why the party has no acknowledgement that counts, and who gives one."""
    role = party.acknowledged_by
    asked = f"a person in role {role} acknowledges it on this candidate"
    earlier = [a for a in ctx.acknowledgements if a.party == party.name]
    if not earlier:
        return f"{party.name} is not acknowledged yet; {asked}"
    last = max(earlier, key=lambda a: a.at)
    if last.party_digest != party.text_digest():
        why = "before its impact or consideration changed"
    elif last.candidate != ctx.candidate:
        why = "for an earlier candidate"
    else:
        why = f"in role {last.role}, not {role}"
    return f"{party.name} was acknowledged by {last.person} {why}; {asked}"


def _done(acknowledged: dict[str, list[str]]) -> list[str]:
    return [f"{name} acknowledged by {', '.join(who)}" for name, who in acknowledged.items()]
