"""The tests criterion: JUnit reports, aggregated over every attached report, with no more
failures and errors than allowed, enough tests run, and few enough skipped."""

from __future__ import annotations

from typing import Any

from clearance.core.criteria import TestsCriterion
from clearance.core.evaluators import evaluator
from clearance.core.evaluators._common import (
    attach_command,
    fmt_number,
    fmt_pair,
    listing,
    make_result,
    plain_number,
    split_named,
    unreadable,
)
from clearance.core.results import (
    EvaluationContext,
    EvidenceItem,
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

    errors = [_unusable(item, criterion) for item in items]
    problems = [(item, e) for item, e in zip(items, errors, strict=True) if e is not None]
    if problems:
        reason = "; ".join(e for _, e in problems)
        return make_result(
            criterion, Status.ERROR, reason, None, expected, [i for i, _ in problems]
        )

    _, missing = split_named(items, named)
    if missing:
        first = missing[0]
        reason = (
            f"{listing(missing)} {'is' if len(missing) == 1 else 'are'} not attached yet: "
            f"run the tests with a JUnit report (e.g. pytest --junitxml={first}) and attach "
            f"it with {attach_command(criterion.id, first)}"
        )
        return make_result(criterion, Status.PENDING, reason, None, expected)
    if not items:
        reason = (
            "no JUnit report attached; run pytest --junitxml=reports/junit.xml or attach one "
            f"with {attach_command(criterion.id)}"
        )
        return make_result(criterion, Status.PENDING, reason, None, expected)

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
        return make_result(criterion, Status.FAILED, reason, observed, expected, items)
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


def _unusable(item: EvidenceItem, criterion: TestsCriterion) -> str | None:
    if item.problem is not None:
        return unreadable(item, criterion.id)
    if not isinstance(item.content, TestReport):
        return (
            f"{item.name} is not a JUnit XML report; attach the report your test runner writes "
            f"(e.g. pytest --junitxml=reports/junit.xml) with {attach_command(criterion.id)}"
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
