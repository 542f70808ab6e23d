"""The tests criterion: JUnit reports, aggregated over every attached report, with no more
failures and errors than allowed, enough tests run, and few enough skipped."""

from __future__ import annotations

from typing import Any

from clearance.core.criteria import TestsCriterion
from clearance.core.evaluators import evaluator
from clearance.core.evaluators._common import (
    attach,
    find_named,
    fmt_number,
    fmt_pair,
    listing,
    make_result,
    plain_number,
    split_named,
    unreadable,
    update,
)
from clearance.core.results import (
    EvaluationContext,
    EvidenceItem,
    NextAction,
    Result,
    Status,
    TestCaseFailure,
    TestReport,
)

SHOWN_FAILURES = 5
MESSAGE_LENGTH = 160


@evaluator("tests")
def evaluate_tests(criterion: TestsCriterion, ctx: EvaluationContext) -> Result:
    """Sum every attached report and check failures, test count and skipped ratio."""
    items = list(ctx.evidence_for(criterion.id))
    expected = _expected(criterion)
    named = [f.path for f in criterion.named_files(ctx.plan)]

    def where(item: EvidenceItem) -> str:
        return next((path for path in named if find_named([item], path)), item.name)

    errors = [_unusable(item) for item in items]
    problems = [(item, e) for item, e in zip(items, errors, strict=True) if e is not None]
    if problems:
        reason = "; ".join(e for _, e in problems)
        unusable = [i for i, _ in problems]
        fixes = [update(criterion.id, where(i)) for i in unusable]
        return make_result(criterion, Status.ERROR, reason, None, expected, unusable, fixes)

    _, missing = split_named(items, named)
    if missing:
        reason = (
            f"{listing(missing)} {'is' if len(missing) == 1 else 'are'} not attached yet: "
            "run the tests so that they write a JUnit XML report (pytest's --junitxml option "
            f"does) and attach {'it' if len(missing) == 1 else 'each'} to this criterion"
        )
        actions = [attach(criterion.id, path) for path in missing]
        return make_result(criterion, Status.PENDING, reason, None, expected, actions=actions)
    if not items:
        reason = (
            "no JUnit report attached; run the tests so that they write a JUnit XML report "
            "(pytest's --junitxml option does) and attach it to this criterion"
        )
        actions = [attach(criterion.id)]
        return make_result(criterion, Status.PENDING, reason, None, expected, actions=actions)

    reports: list[TestReport] = [item.content for item in items]
    tests = sum(r.tests for r in reports)
    failures = sum(r.failures for r in reports)
    errors_n = sum(r.errors for r in reports)
    skipped = sum(r.skipped for r in reports)
    cases = [case for r in reports for case in r.failed_cases]
    ratio = skipped / tests if tests else 0.0
    observed = {
        "reports": len(reports),
        "tests": tests,
        "failures": failures,
        "errors": errors_n,
        "skipped": skipped,
        "skipped_ratio": plain_number(round(ratio, 4)),
    }

    problems_found: list[str] = []
    broken = failures + errors_n
    if broken > criterion.max_failures:
        allowed = (
            f"at most {criterion.max_failures} allowed"
            if criterion.max_failures
            else "none allowed"
        )
        problems_found.append(
            f"{_count(failures, 'failure')} and {_count(errors_n, 'error')} ({allowed})"
            + _failed_cases(cases, broken)
        )
    if tests < criterion.min_tests:
        problems_found.append(
            f"only {_count(tests, 'test')} ran; the plan asks for at least {criterion.min_tests}"
        )
    if ratio > criterion.max_skipped_ratio:
        shown, wanted = fmt_pair(ratio, criterion.max_skipped_ratio)
        problems_found.append(
            f"{skipped} of {tests} tests were skipped (ratio {shown}); the plan allows at most "
            f"{wanted}"
        )

    source = f"in {_count(len(reports), 'report')}"
    if problems_found:
        reason = f"{source}: " + "; ".join(problems_found)
        actions = [NextAction("rerun", criterion.id, path=where(item)) for item in items]
        actions.append(NextAction("waive", criterion.id))
        return make_result(criterion, Status.FAILED, reason, observed, expected, items, actions)
    reason = (
        f"{tests} tests {source}: {_count(failures, 'failure')}, {_count(errors_n, 'error')}, "
        f"{skipped} skipped (ratio {fmt_number(ratio)})"
    )
    return make_result(criterion, Status.PASSED, reason, observed, expected, items)


def _expected(criterion: TestsCriterion) -> dict[str, Any]:
    return {
        "failures_and_errors": f"<= {criterion.max_failures}",
        "tests": f">= {criterion.min_tests}",
        "skipped_ratio": f"<= {plain_number(criterion.max_skipped_ratio)}",
    }


def _unusable(item: EvidenceItem) -> str | None:
    if item.problem is not None:
        return unreadable(item)
    if not isinstance(item.content, TestReport):
        return (
            f"{item.name} is not a JUnit XML report; attach the report your test runner writes "
            "(pytest's --junitxml option writes one) in its place"
        )
    return None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _failed_cases(cases: list[TestCaseFailure], broken: int) -> str:
    if not cases:
        return ""
    shown = [_describe(case) for case in cases[:SHOWN_FAILURES]]
    more = max(len(cases), broken) - len(shown)
    tail = f"; and {more} more" if more > 0 else ""
    return ": " + "; ".join(shown) + tail


def _describe(case: TestCaseFailure) -> str:
    message = case.message.strip().splitlines()[0] if case.message.strip() else ""
    if len(message) > MESSAGE_LENGTH:
        message = message[: MESSAGE_LENGTH - 3] + "..."
    name = f"{case.suite}::{case.name}" if case.suite else case.name
    return f"{name}: {message}" if message else name
