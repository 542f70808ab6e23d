"""The tests evaluator: JUnit reports summed over every attached report."""

from __future__ import annotations

from typing import Any

import pytest
from core_testkit import evaluate, item

from clearance.core.results import Status, TestReport
from clearance.core.results import TestCaseFailure as CaseFailure

FILE = "reports/junit.xml"
TESTS = {
    "id": "tests",
    "kind": "tests",
    "evidence": FILE,
    "min_tests": 10,
    "max_skipped_ratio": 0.1,
}
UNNAMED = {"id": "tests", "kind": "tests"}
EXPECTED = {"failures_and_errors": "<= 0", "tests": ">= 10", "skipped_ratio": "<= 0.1"}


def report(
    tests: int, failures: int = 0, errors: int = 0, skipped: int = 0, cases: int = 0
) -> TestReport:
    failed = tuple(
        CaseFailure(
            suite="tests.test_api",
            name=f"test_{i}",
            kind="failure",
            message=f"assert {i} == 0\nmore detail",
        )
        for i in range(cases)
    )
    return TestReport(
        tests=tests, failures=failures, errors=errors, skipped=skipped, failed_cases=failed
    )


def counts(
    reports: int, tests: int, failures: int = 0, errors: int = 0, skipped: int = 0, ratio: float = 0
) -> dict[str, Any]:
    return {
        "reports": reports,
        "tests": tests,
        "failures": failures,
        "errors": errors,
        "skipped": skipped,
        "skipped_ratio": ratio,
    }


CASES = [
    pytest.param(
        TESTS,
        [item(FILE, report(50, skipped=2))],
        Status.PASSED,
        ["50 tests in 1 report: 0 failures, 0 errors, 2 skipped (ratio 0.04)"],
        counts(1, 50, skipped=2, ratio=0.04),
        EXPECTED,
        id="clean-report",
    ),
    pytest.param(
        TESTS,
        [item(FILE, report(6)), item("reports/integration.xml", report(6))],
        Status.PASSED,
        ["12 tests in 2 reports"],
        counts(2, 12),
        EXPECTED,
        id="reports-are-summed",
    ),
    pytest.param(
        TESTS,
        [item(FILE, report(50, failures=2, cases=2))],
        Status.FAILED,
        [
            "2 failures and 0 errors (none allowed)",
            "tests.test_api::test_0: assert 0 == 0; tests.test_api::test_1: assert 1 == 0",
        ],
        counts(1, 50, failures=2),
        EXPECTED,
        id="failures",
    ),
    pytest.param(
        TESTS,
        [item(FILE, report(50, failures=7, errors=1, cases=7))],
        Status.FAILED,
        ["7 failures and 1 error", "test_4: assert 4 == 0; and 3 more"],
        counts(1, 50, failures=7, errors=1),
        EXPECTED,
        id="only-five-failures-listed",
    ),
    pytest.param(
        {**TESTS, "max_failures": 1},
        [item(FILE, report(50, failures=1, cases=1))],
        Status.PASSED,
        ["1 failure, 0 errors"],
        counts(1, 50, failures=1),
        {**EXPECTED, "failures_and_errors": "<= 1"},
        id="failures-within-allowance",
    ),
    pytest.param(
        {**TESTS, "max_failures": 1},
        [item(FILE, report(50, errors=2))],
        Status.FAILED,
        ["0 failures and 2 errors (at most 1 allowed)"],
        counts(1, 50, errors=2),
        {**EXPECTED, "failures_and_errors": "<= 1"},
        id="errors-beyond-allowance",
    ),
    pytest.param(
        TESTS,
        [item(FILE, report(4))],
        Status.FAILED,
        ["only 4 tests ran; the plan asks for at least 10"],
        counts(1, 4),
        EXPECTED,
        id="too-few-tests",
    ),
    pytest.param(
        TESTS,
        [item(FILE, report(0))],
        Status.FAILED,
        ["only 0 tests ran"],
        counts(1, 0),
        EXPECTED,
        id="empty-report",
    ),
    pytest.param(
        TESTS,
        [item(FILE, report(20, skipped=5))],
        Status.FAILED,
        ["5 of 20 tests were skipped (ratio 0.25); the plan allows at most 0.1"],
        counts(1, 20, skipped=5, ratio=0.25),
        EXPECTED,
        id="too-many-skipped",
    ),
    pytest.param(
        TESTS,
        [item(FILE, report(5, failures=1, skipped=3))],
        Status.FAILED,
        ["1 failure and 0 errors", "only 5 tests ran", "3 of 5 tests were skipped"],
        counts(1, 5, failures=1, skipped=3, ratio=0.6),
        EXPECTED,
        id="every-problem-reported",
    ),
    pytest.param(
        TESTS,
        [],
        Status.PENDING,
        [
            "reports/junit.xml is not attached yet: run the tests so that they write a JUnit "
            "XML report (pytest's --junitxml option does) and attach it to this criterion",
        ],
        None,
        EXPECTED,
        id="named-report-missing",
    ),
    pytest.param(
        {**TESTS, "evidence": [FILE, "reports/e2e.xml"]},
        [item(FILE, report(50))],
        Status.PENDING,
        ["reports/e2e.xml is not attached yet"],
        None,
        EXPECTED,
        id="one-of-two-reports-missing",
    ),
    pytest.param(
        UNNAMED,
        [],
        Status.PENDING,
        [
            "no JUnit report attached; run the tests so that they write a JUnit XML report "
            "(pytest's --junitxml option does) and attach it to this criterion"
        ],
        None,
        {"failures_and_errors": "<= 0", "tests": ">= 1", "skipped_ratio": "<= 1"},
        id="nothing-attached",
    ),
    pytest.param(
        TESTS,
        [item(FILE, problem="not well-formed (invalid token): line 1, column 0")],
        Status.ERROR,
        ["reports/junit.xml could not be read: not well-formed"],
        None,
        EXPECTED,
        id="unreadable",
    ),
    pytest.param(
        TESTS,
        [item(FILE, {"tests": 3})],
        Status.ERROR,
        ["reports/junit.xml is not a JUnit XML report"],
        None,
        EXPECTED,
        id="not-a-junit-report",
    ),
    pytest.param(
        TESTS,
        [item(FILE, report(50)), item("extra.xml", problem="empty file")],
        Status.ERROR,
        ["extra.xml could not be read: empty file"],
        None,
        EXPECTED,
        id="any-unreadable-report-is-an-error",
    ),
]


@pytest.mark.parametrize(
    ("criterion", "items", "status", "fragments", "observed", "expected"), CASES
)
def test_tests(
    criterion: dict[str, Any],
    items: list[Any],
    status: Status,
    fragments: list[str],
    observed: Any,
    expected: Any,
) -> None:
    """Each case yields its status, a reason with these fragments, and these counts."""
    result = evaluate(criterion, items)
    assert result.status is status, result.reason
    for fragment in fragments:
        assert fragment in result.reason
    assert result.observed == observed
    assert result.expected == expected


def test_tests_cite_every_report_summed() -> None:
    """Every report that went into the sum is cited."""
    a, b = item(FILE, report(6)), item("b.xml", report(6))
    assert evaluate(TESTS, [a, b]).evidence == (a.digest, b.digest)


def test_failure_message_is_cut_to_one_short_line() -> None:
    """A long multi-line failure message is shown as its first line, shortened."""
    case = CaseFailure(suite="", name="test_x", kind="error", message="E" * 500 + "\nrest")
    r = TestReport(tests=10, failures=0, errors=1, skipped=0, failed_cases=(case,))
    result = evaluate(TESTS, [item(FILE, r)])
    assert "test_x: " + "E" * 157 + "..." in result.reason
    assert "rest" not in result.reason
