"""The evidence criterion: documents attached (every one the plan names, and at least
`min_documents` in all), none older than `max_age`, and attested by a person in a role when
the plan asks for it."""

from __future__ import annotations

from typing import Any

from clearance.core.criteria import EvidenceCriterion
from clearance.core.durations import parse_duration
from clearance.core.evaluators import evaluator
from clearance.core.evaluators._common import (
    as_utc,
    attach,
    find_named,
    fmt_age,
    listing,
    make_result,
    split_named,
    unreadable,
    update,
)
from clearance.core.results import EvaluationContext, EvidenceItem, NextAction, Result, Status


@evaluator("evidence")
def evaluate_evidence(criterion: EvidenceCriterion, ctx: EvaluationContext) -> Result:
    """PASSED when enough current documents are attached and attested as asked; else PENDING."""
    items = list(ctx.evidence_for(criterion.id))
    expected = _expected(criterion)
    broken = [item for item in items if item.problem is not None]
    if broken:
        reason = "; ".join(unreadable(item) for item in broken)
        fixes = [update(criterion.id, _named_path(criterion, item)) for item in broken]
        return make_result(criterion, Status.ERROR, reason, None, expected, broken, fixes)

    fresh, stale = _by_age(criterion, ctx, items)
    found, missing = split_named(items, criterion.documents)
    role = criterion.attested_by
    attesters = [
        item for item in fresh if role and item.role and item.role.casefold() == role.casefold()
    ]
    observed = {
        "documents": [item.name for item in fresh],
        "stale": [item.name for item in stale],
        "attested_by": list(dict.fromkeys(item.added_by for item in attesters)),
    }

    wanting: list[str] = []
    actions: list[NextAction] = []
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        wanting.append(
            f"{listing(missing)} {verb} not attached yet; attach "
            f"{'it' if len(missing) == 1 else 'each'} to this criterion"
        )
        actions += [attach(criterion.id, path) for path in missing]
    stale_named = [path for path, item in found.items() if item in stale]
    for path in stale_named:
        wanting.append(
            f"{path} was added {_age(ctx, found[path])} ago, older than max_age "
            f"{criterion.max_age}; attach a current version"
        )
        actions.append(attach(criterion.id, path))
    if len(fresh) < criterion.min_documents:
        older = f" ({len(stale)} more older than max_age {criterion.max_age})" if stale else ""
        wanting.append(
            f"{len(fresh)} of {criterion.min_documents} documents attached{older}; attach more"
        )
        if not actions:
            actions.append(attach(criterion.id))
    if role and not attesters:
        wanting.append(
            f"no document is attested by a person in role {role} yet; a person in role {role} "
            "attaches the document, attesting it"
        )
        document = criterion.documents[0] if criterion.documents else None
        actions.append(attach(criterion.id, document, role=role))

    if wanting:
        reason = "; ".join(wanting)
        return make_result(criterion, Status.PENDING, reason, observed, expected, fresh, actions)
    noun = "document" if len(fresh) == 1 else "documents"
    reason = f"{len(fresh)} {noun} attached ({listing(observed['documents'])})"
    if role:
        people = ", ".join(observed["attested_by"])
        reason += f", attested by {people} ({role})"
    return make_result(criterion, Status.PASSED, reason, observed, expected, fresh)


def _expected(criterion: EvidenceCriterion) -> dict[str, Any]:
    return {
        "documents": list(criterion.documents),
        "min_documents": criterion.min_documents,
        "attested_by": criterion.attested_by,
        "max_age": criterion.max_age,
    }


def _by_age(
    criterion: EvidenceCriterion, ctx: EvaluationContext, items: list[EvidenceItem]
) -> tuple[list[EvidenceItem], list[EvidenceItem]]:
    """Split items into those young enough to count and those older than max_age."""
    if criterion.max_age is None:
        return items, []
    limit = parse_duration(criterion.max_age)
    fresh = [i for i in items if as_utc(ctx.now) - as_utc(i.added_at) <= limit]
    stale = [i for i in items if i not in fresh]
    return fresh, stale


def _named_path(criterion: EvidenceCriterion, item: EvidenceItem) -> str:
    """The path the plan names for an attached item, else the item's own name."""
    return next((p for p in criterion.documents if find_named([item], p)), item.name)


def _age(ctx: EvaluationContext, item: EvidenceItem) -> str:
    return fmt_age((as_utc(ctx.now) - as_utc(item.added_at)).total_seconds())
