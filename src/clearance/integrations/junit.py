"""Reduce a JUnit XML report (pytest `--junitxml`, Maven Surefire, ...) to a TestReport.

Counts come from the test cases themselves, not from the header attributes. Documents
declaring a DOCTYPE are refused before parsing, which rules out entity-expansion bombs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pyexpat import ExpatError, ParserCreate
from typing import Any, Literal

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from clearance.core.results import TestCaseFailure, TestReport
from clearance.errors import EvidenceError

MAX_MESSAGE = 500
_ROOTS = ("testsuites", "testsuite")


class _Prolog(Exception):
    """Raised by the prolog scan when it reaches something it needs to stop at."""


def parse_junit(name: str, data: bytes) -> TestReport:
    """Count tests, failures, errors and skips in a JUnit XML report; list what failed."""
    _refuse_doctype(name, data)
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        line, column = exc.position
        raise EvidenceError(
            f"{name}:{line}:{column + 1}: malformed XML ({_reason(exc)}); attach the report "
            "as the test runner wrote it"
        ) from exc
    if root.tag not in _ROOTS:
        raise EvidenceError(
            f"{name}: the root element is <{root.tag}>, not <testsuites> or <testsuite>; "
            "attach a JUnit XML report (pytest --junitxml, Maven Surefire TEST-*.xml)"
        )
    # junitparser's annotation names its own Element; it takes ElementTree's.
    report = JUnitXml.fromroot(root)  # type: ignore[arg-type]
    counts = _Counts()
    for suite in report:
        counts.add_suite(name, suite)
    if not counts.suites_seen:
        counts.add_attributes(name, report)
    return TestReport(
        tests=counts.tests,
        failures=counts.failures,
        errors=counts.errors,
        skipped=counts.skipped,
        failed_cases=tuple(counts.failed),
    )


def _reason(exc: ElementTree.ParseError) -> str:
    return str(exc).split(":", 1)[0]


def _refuse_doctype(name: str, data: bytes) -> None:
    """Scan the prolog only: a DOCTYPE (the only place entities are declared) is refused."""
    parser = ParserCreate()
    doctype = _Prolog("doctype")

    def on_doctype(*_: Any) -> None:
        raise doctype

    def on_root(*_: Any) -> None:
        raise _Prolog("root")

    parser.StartDoctypeDeclHandler = on_doctype
    parser.StartElementHandler = on_root
    try:
        parser.Parse(data, True)
    except _Prolog as stop:
        if stop is doctype:
            raise EvidenceError(
                f"{name}:{parser.CurrentLineNumber}:{parser.CurrentColumnNumber + 1}: the "
                "report declares a DOCTYPE, which JUnit reports never need and which can hide "
                "an entity-expansion bomb; remove the <!DOCTYPE ...> declaration"
            ) from None
    except ExpatError:
        pass  # the full parse reports it with its position


class _Counts:
    def __init__(self) -> None:
        self.tests = self.failures = self.errors = self.skipped = 0
        self.failed: list[TestCaseFailure] = []
        self.suites_seen = False

    def add_suite(self, name: str, suite: TestSuite) -> None:
        self.suites_seen = True
        suite_name = suite.name or ""
        cases: list[TestCase] = list(suite.iterchildren(TestCase))  # type: ignore[no-untyped-call]
        children: list[TestSuite] = list(suite.testsuites())  # type: ignore[no-untyped-call]
        for case in cases:
            self.add_case(suite_name, case)
        for child in children:
            self.add_suite(name, child)
        if not cases and not children:
            # A suite without cases only has its header to go by (e.g. a trimmed report).
            self.add_attributes(name, suite)

    def add_case(self, suite: str, case: TestCase) -> None:
        self.tests += 1
        # One verdict per case, worst first. Rerun and flaky elements (<flakyFailure>,
        # <rerunFailure>) are not final results: a test that passed on a rerun passed.
        results = case.result
        error = next((r for r in results if isinstance(r, Error)), None)
        failure = next((r for r in results if isinstance(r, Failure)), None)
        if error is not None:
            self.errors += 1
            self.failed.append(_failure(suite, case, "error", error))
        elif failure is not None:
            self.failures += 1
            self.failed.append(_failure(suite, case, "failure", failure))
        elif any(isinstance(r, Skipped) for r in results):
            self.skipped += 1

    def add_attributes(self, name: str, element: TestSuite | JUnitXml) -> None:
        tag = "testsuite" if isinstance(element, TestSuite) else "testsuites"
        try:
            counts = [
                getattr(element, key) or 0 for key in ("tests", "failures", "errors", "skipped")
            ]
        except ValueError as exc:
            raise EvidenceError(
                f"{name}: <{tag}> has a count that is not a whole number ({exc}); attach the "
                "report as the test runner wrote it"
            ) from exc
        self.tests += counts[0]
        self.failures += counts[1]
        self.errors += counts[2]
        self.skipped += counts[3]


def _failure(
    suite: str, case: TestCase, kind: Literal["failure", "error"], result: Error | Failure
) -> TestCaseFailure:
    return TestCaseFailure(
        suite=suite, name=_case_name(suite, case), kind=kind, message=_message(result)
    )


def _case_name(suite: str, case: TestCase) -> str:
    name = case.name or "(unnamed test)"
    classname = case.classname
    # pytest names the suite "pytest" and puts the module in classname; Surefire repeats the
    # suite name there.
    return f"{classname}.{name}" if classname and classname != suite else name


def _message(result: Error | Failure) -> str:
    message = result.message or ""
    if not message and result.text:
        message = next((line.strip() for line in result.text.splitlines() if line.strip()), "")
    message = message or result.type or ""
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"
