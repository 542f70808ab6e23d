"""Reduce a JUnit XML report (pytest `--junitxml`, Maven Surefire, ...) to a TestReport.

Counts come from the test cases themselves, not from the header attributes. Documents
declaring a DOCTYPE are refused before parsing, which rules out entity-expansion bombs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pyexpat import ExpatError, ParserCreate, XMLParserType
from typing import Any, Literal

from junitparser import Error, Failure, Skipped, TestCase

from clearance.core.results import TestCaseFailure, TestReport
from clearance.errors import EvidenceError

MAX_MESSAGE = 500
_ROOTS = ("testsuites", "testsuite")
_COUNTED = ("tests", "failures", "errors", "skipped")


class _DoctypeFound(Exception):
    pass


class _RootReached(Exception):
    pass


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
    counts = _Counts(name)
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    for suite in suites:
        counts.add_suite(suite)
    if not suites:
        counts.add_attributes(root)
    return TestReport(
        tests=counts.tests,
        failures=counts.failures,
        errors=counts.errors,
        skipped=counts.skipped,
        failed_cases=tuple(counts.failed),
        cases=tuple(counts.cases),
    )


def _reason(exc: ElementTree.ParseError) -> str:
    return str(exc).split(":", 1)[0]


def _refuse_doctype(name: str, data: bytes) -> None:
    """Scan the prolog only: a DOCTYPE (the only place entities are declared) is refused."""
    parser = ParserCreate()

    def on_doctype(*_: Any) -> None:
        raise _DoctypeFound

    def on_root(*_: Any) -> None:
        raise _RootReached  # the prolog is over: stop before reading the body

    parser.StartDoctypeDeclHandler = on_doctype
    parser.StartElementHandler = on_root
    try:
        parser.Parse(data, True)
    except _DoctypeFound:
        line, column = _doctype_position(data, parser)
        raise EvidenceError(
            f"{name}:{line}:{column}: the report "
            "declares a DOCTYPE, which JUnit reports never need and which can hide an "
            "entity-expansion bomb; remove the <!DOCTYPE ...> declaration"
        ) from None
    except (_RootReached, ExpatError):
        pass  # a malformed prolog is reported by the full parse, with its position


def _doctype_position(data: bytes, parser: XMLParserType) -> tuple[int, int]:
    """Where `<!DOCTYPE` starts; expat reports where it finished reading the declaration."""
    start = data.rfind(b"<!DOCTYPE", 0, parser.CurrentByteIndex + 1)
    if start < 0:  # not ASCII-compatible (UTF-16): expat's position is close enough
        return parser.CurrentLineNumber, parser.CurrentColumnNumber + 1
    return data.count(b"\n", 0, start) + 1, start - (data.rfind(b"\n", 0, start) + 1) + 1


class _Counts:
    """Totals over the suites of one report; suites are walked with ElementTree, while
    junitparser reads each test case's results."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tests = self.failures = self.errors = self.skipped = 0
        self.failed: list[TestCaseFailure] = []
        self.cases: list[tuple[str, str]] = []

    def add_suite(self, suite: ElementTree.Element) -> None:
        cases = suite.findall("testcase")
        children = suite.findall("testsuite")
        for case in cases:
            self.add_case(suite.get("name", ""), TestCase.fromelem(case))  # type: ignore[no-untyped-call]
        for child in children:
            self.add_suite(child)
        if not cases and not children:
            # A suite without cases only has its header to go by (e.g. a trimmed report).
            self.add_attributes(suite)

    def add_case(self, suite: str, case: TestCase) -> None:
        self.tests += 1
        # One verdict per case, worst first. Rerun and flaky elements (<flakyFailure>,
        # <rerunFailure>) are not final results: a test that passed on a rerun passed.
        results = case.result
        error = next((r for r in results if isinstance(r, Error)), None)
        failure = next((r for r in results if isinstance(r, Failure)), None)
        outcome = "passed"
        if error is not None:
            self.errors += 1
            self.failed.append(_failure(suite, case, "error", error))
            outcome = "error"
        elif failure is not None:
            self.failures += 1
            self.failed.append(_failure(suite, case, "failure", failure))
            outcome = "failed"
        elif any(isinstance(r, Skipped) for r in results):
            self.skipped += 1
            outcome = "skipped"
        self.cases.append((_case_name(suite, case), outcome))

    def add_attributes(self, element: ElementTree.Element) -> None:
        try:
            counts = [int(element.get(key) or 0) for key in _COUNTED]
            if min(counts) < 0:
                raise ValueError(f"negative count {min(counts)}")
        except ValueError as exc:
            raise EvidenceError(
                f"{self.name}: <{element.tag}> has a count that is not a whole number ({exc}); "
                "attach the report as the test runner wrote it"
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
