"""The rollback criterion: there is something to roll back to (the release last made to the
target, or an explicit `none` for a first release), the procedure is attached, and when the
plan asks for it, a successful rehearsal is recent enough.

A rehearsal record is a JSON/YAML mapping with `date` or `rehearsed_at` (ISO 8601 date or
datetime; naive times are UTC) and an optional `outcome`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from clearance.core.criteria import RollbackCriterion
from clearance.core.durations import parse_duration
from clearance.core.evaluators import evaluator
from clearance.core.evaluators._common import (
    as_utc,
    attach,
    find_named,
    fix_plan,
    fmt_age,
    make_result,
    parse_moment,
    unreadable,
    update,
)
from clearance.core.plan import Rollback
from clearance.core.results import EvaluationContext, EvidenceItem, NextAction, Result, Status

GOOD_OUTCOMES = ("success", "passed", "ok")
DATE_FIELDS = ("date", "rehearsed_at")


@evaluator("rollback")
def evaluate_rollback(criterion: RollbackCriterion, ctx: EvaluationContext) -> Result:
    """FAILED without a rollback target; ERROR for an unreadable rehearsal; PENDING while the
    procedure or a recent successful rehearsal is missing."""
    plan = ctx.plan
    target = plan.release.target
    expected = _expected(criterion)
    rollback = plan.rollback
    if rollback is None:
        reason = (
            "the plan has no rollback section; add e.g. "
            "rollback: {to: previous, procedure: docs/rollback.md}"
        )
        fix = [fix_plan(criterion.id, "rollback")]
        return make_result(criterion, Status.FAILED, reason, None, expected, actions=fix)

    to = rollback.to.strip()
    released = ctx.released
    observed: dict[str, Any] = {"to": to, "version": None}
    fix_to = [fix_plan(criterion.id, "rollback.to")]
    if to.casefold() == "none":
        if released is not None:
            reason = (
                f"rollback.to is none, but version {released.version} was released to {target} "
                f"on {as_utc(released.released_at).date().isoformat()}; write rollback.to: "
                "previous to roll back to it"
            )
            return make_result(criterion, Status.FAILED, reason, observed, expected, actions=fix_to)
        target_text = "nothing to roll back to (first release)"
    elif to.casefold() == "previous":
        if released is None:
            reason = (
                f"no earlier release in {target} to roll back to; for a first release write "
                "rollback.to: none"
            )
            return make_result(criterion, Status.FAILED, reason, observed, expected, actions=fix_to)
        observed["version"] = released.version
        target_text = f"rolls back to {released.version}, the release last made to {target}"
    else:
        observed["version"] = to
        observed["checked"] = "taken as written; not checked against the release history here"
        target_text = f"rolls back to {to} (as written in the plan)"

    items = ctx.evidence_for(criterion.id)
    used: list[EvidenceItem] = []
    waiting: list[str] = []
    actions: list[NextAction] = []
    procedure = _procedure(criterion, ctx, rollback, waiting, actions)
    if procedure is not None:
        used.append(procedure)
        observed["procedure"] = procedure.name

    if criterion.rehearsed_within:
        checked = _rehearsal(criterion, ctx, rollback, items, waiting, actions, observed)
        if isinstance(checked, Result):
            return checked
        if checked is not None:
            used.append(checked)

    if waiting:
        reason = f"{target_text}, but " + "; ".join(waiting)
        return make_result(criterion, Status.PENDING, reason, observed, expected, used, actions)
    reason = f"{target_text}; procedure {observed.get('procedure')} attached"
    if criterion.rehearsed_within:
        outcome = observed.get("outcome") or "no outcome given"
        reason += f"; rehearsed {observed['rehearsed_at']} ({outcome})"
    return make_result(criterion, Status.PASSED, reason, observed, expected, used)


def _expected(criterion: RollbackCriterion) -> dict[str, Any]:
    return {
        "to": "an earlier release in the target, or none for a first release",
        "procedure": "attached",
        "rehearsed_within": criterion.rehearsed_within,
    }


def _procedure(
    criterion: RollbackCriterion,
    ctx: EvaluationContext,
    rollback: Rollback,
    waiting: list[str],
    actions: list[NextAction],
) -> EvidenceItem | None:
    """The attached procedure; or say in `waiting` and `actions` what is missing."""
    if not rollback.procedure:
        waiting.append(
            "the plan names no rollback procedure; add rollback.procedure: docs/rollback.md "
            "and attach that document"
        )
        actions.append(fix_plan(criterion.id, "rollback.procedure"))
        return None
    item = find_named(ctx.evidence_for(criterion.id), rollback.procedure)
    if item is None:
        waiting.append(
            f"the procedure {rollback.procedure} is not attached yet; attach it to this criterion"
        )
        actions.append(attach(criterion.id, rollback.procedure))
    return item


def _rehearsal(
    criterion: RollbackCriterion,
    ctx: EvaluationContext,
    rollback: Rollback,
    items: Any,
    waiting: list[str],
    actions: list[NextAction],
    observed: dict[str, Any],
) -> EvidenceItem | Result | None:
    """Check the rehearsal record; add to `waiting` and `actions`, or return an ERROR result."""
    within = criterion.rehearsed_within or ""
    if not rollback.rehearsal:
        waiting.append(
            f"the plan asks for a rehearsal within {within} and names no rehearsal record; add "
            "rollback.rehearsal: rehearsal.yaml (with date and outcome) and attach it"
        )
        actions.append(fix_plan(criterion.id, "rollback.rehearsal"))
        return None
    path = rollback.rehearsal
    item = find_named(items, path)
    if item is None:
        waiting.append(
            f"the rehearsal record {path} is not attached yet; attach it to this criterion"
        )
        actions.append(attach(criterion.id, path))
        return None
    fix = [update(criterion.id, path)]
    error = _rehearsal_error(item)
    if error is not None:
        return make_result(
            criterion, Status.ERROR, error, observed, _expected(criterion), [item], fix
        )
    content: Mapping[str, Any] = item.content
    moment = _rehearsal_moment(content)
    if moment is None:
        raw = next(content[f] for f in DATE_FIELDS if f in content)
        reason = (
            f"{item.name}: the rehearsal date {str(raw)[:40]!r} is not an ISO 8601 date or "
            "datetime; write e.g. date: 2024-05-01"
        )
        return make_result(
            criterion, Status.ERROR, reason, observed, _expected(criterion), [item], fix
        )
    now = as_utc(ctx.now)
    observed["rehearsed_at"] = moment.isoformat()
    outcome = str(content.get("outcome") or "").strip()
    observed["outcome"] = outcome or None
    if moment > now:
        reason = (
            f"{item.name}: the rehearsal date {moment.date().isoformat()} is in the future; "
            "record the date the rehearsal took place"
        )
        return make_result(
            criterion, Status.ERROR, reason, observed, _expected(criterion), [item], fix
        )
    if outcome and outcome.casefold() not in GOOD_OUTCOMES:
        waiting.append(
            f'the rehearsal of {moment.date().isoformat()} had outcome "{outcome}"; rehearse '
            "the rollback again until it succeeds and attach the new record"
        )
        actions.append(NextAction("rehearse", criterion.id, path=path))
    elif now - moment > parse_duration(within):
        waiting.append(
            f"the last rehearsal was {fmt_age((now - moment).total_seconds())} ago "
            f"({moment.date().isoformat()}), longer than rehearsed_within {within}; rehearse "
            "the rollback again and attach the new record"
        )
        actions.append(NextAction("rehearse", criterion.id, path=path))
    return item


def _rehearsal_error(item: EvidenceItem) -> str | None:
    if item.problem is not None:
        return unreadable(item)
    if not isinstance(item.content, Mapping) or not any(f in item.content for f in DATE_FIELDS):
        return (
            f"{item.name} is not a rehearsal record: write a mapping with date (or "
            "rehearsed_at) and outcome, e.g. {date: 2024-05-01, outcome: success}"
        )
    return None


def _rehearsal_moment(content: Mapping[str, Any]) -> datetime | None:
    for name in DATE_FIELDS:
        if name in content:
            return parse_moment(content[name])
    return None
