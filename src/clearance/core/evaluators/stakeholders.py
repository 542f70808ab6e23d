"""The stakeholders criterion: the plan names its interested parties, and each has an impact
statement and a consideration saying how the release accounts for it."""

from __future__ import annotations

from clearance.core.criteria import StakeholdersCriterion
from clearance.core.evaluators import evaluator
from clearance.core.evaluators._common import fix_plan, listing, make_result
from clearance.core.results import EvaluationContext, Result, Status

FIELDS = ("impact", "consideration")


@evaluator("stakeholders")
def evaluate_stakeholders(criterion: StakeholdersCriterion, ctx: EvaluationContext) -> Result:
    """PASSED when at least one party is listed and every party has both statements."""
    parties = ctx.plan.interested_parties
    expected = {"parties": ">= 1", "each_has": list(FIELDS)}
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
    fixes = []
    for i, party in enumerate(parties):
        missing = [f for f in FIELDS if not (getattr(party, f) or "").strip()]
        if missing:
            incomplete[party.name] = missing
            fixes += [fix_plan(criterion.id, f"interested_parties[{i}].{f}") for f in missing]
    observed = {"parties": len(parties), "incomplete": incomplete}
    if incomplete:
        gaps = [f"{name} has no {' and no '.join(fields)}" for name, fields in incomplete.items()]
        reason = (
            f"{len(incomplete)} of {len(parties)} interested parties "
            f"{'is' if len(incomplete) == 1 else 'are'} incomplete: {'; '.join(gaps)}; "
            "write how the release affects each party (impact) and how the plan accounts "
            "for it (consideration)"
        )
        return make_result(criterion, Status.PENDING, reason, observed, expected, actions=fixes)
    names = [p.name for p in parties]
    reason = (
        f"{len(parties)} interested "
        f"{'party has' if len(parties) == 1 else 'parties have'} an impact and a "
        f"consideration ({listing(names)})"
    )
    return make_result(criterion, Status.PASSED, reason, observed, expected)
