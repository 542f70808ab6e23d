"""From a plan and its evidence to GO or NO-GO: every required criterion passed or waived."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from clearance.core.evaluators import EVALUATORS
from clearance.core.evidencechanges import note_fallbacks
from clearance.core.results import EvaluationContext, Result, Status, WaiverRecord

Outcome = Literal["GO", "NO-GO"]
CLEARING = frozenset({Status.PASSED, Status.WAIVED})


@dataclass(frozen=True)
class Evaluation:
    decision: Outcome
    candidate: str
    results: tuple[Result, ...]

    def blocking(self) -> list[Result]:
        """Required criteria that keep this candidate from GO, in plan order."""
        return [r for r in self.results if not r.advisory and r.status not in CLEARING]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evaluation:
        """An evaluation as `as_json` wrote it; ValueError for anything else."""
        try:
            decision = data["decision"]
            if decision not in ("GO", "NO-GO"):
                raise ValueError(f"{decision!r} is not a decision")
            results = tuple(Result.from_json(r) for r in data["criteria"])
            return cls(decision=decision, candidate=str(data["candidate"]), results=results)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an evaluation: {exc}") from None

    def as_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "candidate": self.candidate,
            "criteria": [r.as_json() for r in self.results],
        }


def evaluate_release(ctx: EvaluationContext) -> Evaluation:
    """Evaluate every criterion of the plan in order, apply standing waivers, and decide."""
    results = []
    for criterion in ctx.plan.criteria:
        result = note_fallbacks(EVALUATORS[criterion.kind](criterion, ctx), ctx)
        results.append(apply_waiver(result, ctx))
    outcome: Outcome = "GO" if all(r.advisory or r.status in CLEARING for r in results) else "NO-GO"
    return Evaluation(decision=outcome, candidate=ctx.candidate, results=tuple(results))


def standing_waiver(criterion_id: str, ctx: EvaluationContext) -> WaiverRecord | None:
    """The latest unexpired waiver of this criterion on this candidate, if any."""
    found = [
        w
        for w in ctx.waivers
        if w.criterion_id == criterion_id
        and w.candidate == ctx.candidate
        and w.expires_at > ctx.now
    ]
    return max(found, key=lambda w: w.at) if found else None


def apply_waiver(result: Result, ctx: EvaluationContext) -> Result:
    """A criterion that did not pass is `waived` while an authorised waiver stands; the
    reason says who waived it, why, until when, and what the evaluation found. A waived
    result keeps the actions that would make it pass; none that cannot be waived, or is
    waived already, is offered a waiver."""
    if result.status is Status.PASSED:
        return result
    if result.id in ctx.unwaivable:
        return _without_waiver_action(result)
    waiver = standing_waiver(result.id, ctx)
    if waiver is None:
        void = ctx.void_waivers.get(result.id, ())
        if void:
            return replace(result, reason=result.reason + "; " + "; ".join(void))
        return result
    reason = (
        f"waived by {waiver.person} ({waiver.role}) until {waiver.expires_at.date().isoformat()}: "
        f"{waiver.justification}; without the waiver: {result.status.value}, {result.reason}"
    )
    return replace(_without_waiver_action(result), status=Status.WAIVED, reason=reason)


def _without_waiver_action(result: Result) -> Result:
    return replace(result, next=tuple(a for a in result.next if a.kind != "waive"))
