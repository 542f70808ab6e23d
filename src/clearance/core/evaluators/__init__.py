"""Evaluators, one per criterion kind, registered in a table by kind.

An evaluator is a plain function `(criterion, context) -> Result`. It never raises for
bad evidence: unreadable evidence is an `error` result with a reason a person can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from clearance.core.results import EvaluationContext, Result

Evaluator = Callable[[Any, EvaluationContext], Result]
F = TypeVar("F", bound=Evaluator)

EVALUATORS: dict[str, Evaluator] = {}


def evaluator(kind: str) -> Callable[[F], F]:
    """Register the decorated function as the evaluator of criteria of `kind`."""

    def register(fn: F) -> F:
        if kind in EVALUATORS:
            raise ValueError(f"an evaluator for {kind!r} is already registered")
        EVALUATORS[kind] = fn
        return fn

    return register


def _load_builtin() -> None:
    # Importing the modules registers their evaluators.
    from clearance.core.evaluators import (  # noqa: F401
        approval,
        change,
        environment,
        evidence,
        findings,
        metric,
        risk,
        rollback,
        stakeholders,
        tests,
    )


_load_builtin()
