"""From a plan and its evidence to GO or NO-GO: every required criterion passed or waived."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from clearance.core.evaluators import EVALUATORS
from clearance.core.results import EvaluationContext, Result, Status

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

    def as_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "candidate": self.candidate,
            "criteria": [r.as_json() for r in self.results],
        }


def evaluate_release(ctx: EvaluationContext) -> Evaluation:
    """Evaluate every criterion of the plan in order and decide."""
    results = []
    for criterion in ctx.plan.criteria:
        result = EVALUATORS[criterion.kind](criterion, ctx)
        results.append(result)
    outcome: Outcome = "GO" if all(r.advisory or r.status in CLEARING for r in results) else "NO-GO"
    return Evaluation(decision=outcome, candidate=ctx.candidate, results=tuple(results))
