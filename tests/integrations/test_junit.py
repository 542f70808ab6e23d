"""JUnit reports from pytest and Maven Surefire reduce to counts taken from the test cases."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clearance.core.results import TestCaseFailure as CaseFailure  # not a test class
from clearance.core.results import TestReport
from clearance.errors import EvidenceError
from clearance.integrations.junit import MAX_MESSAGE, parse_junit

FIXTURES = Path(__file__).parent / "fixtures"
SUREFIRE = "TEST-com.example.scoring.ScorerTest.xml"


def suite(body: str, attributes: str = "") -> bytes:
    return f'<?xml version="1.0"?><testsuite name="s" {attributes}>{body}</testsuite>'.encode()


def test_captured_pytest_report() -> None:
    """Made by `pytest --junitxml` from fixtures/pytest-sample.py.txt (xfail counts as skipped)."""
    report = parse_junit("junit.xml", (FIXTURES / "pytest-junit.xml").read_bytes())
    assert report == TestReport(
        tests=7,
        failures=1,
        errors=1,
        skipped=2,
        failed_cases=(
            CaseFailure(
                suite="pytest",
                name="test_sample.test_fails",
                kind="failure",
                message="AssertionError: auc below threshold\nassert 0.81 >= 0.85",
            ),
            CaseFailure(
                suite="pytest",
                name="test_sample.test_errors_in_setup",
                kind="error",
                message='failed on setup with "RuntimeError: database not reachable"',
            ),
        ),
    )


def test_report_written_by_the_installed_pytest(tmp_path: Path) -> None:
    """The pytest in this environment still writes what parse_junit understands."""
    (tmp_path / "test_sample.py").write_bytes((FIXTURES / "pytest-sample.py.txt").read_bytes())
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", tmp_path,
         "--junitxml", tmp_path / "junit.xml", tmp_path / "test_sample.py"],
        cwd=tmp_path, capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    report = parse_junit("junit.xml", (tmp_path / "junit.xml").read_bytes())
    assert (report.tests, report.failures, report.errors, report.skipped) == (7, 1, 1, 2)
    assert [case.kind for case in report.failed_cases] == ["failure", "error"]


def test_surefire_report_counts_reruns_and_flakes_correctly() -> None:
    """A flaky test that passed on rerun passed; one that failed every rerun failed once."""
    report = parse_junit(SUREFIRE, (FIXTURES / SUREFIRE).read_bytes())
    assert (report.tests, report.failures, report.errors, report.skipped) == (6, 2, 1, 1)
    assert [(case.name, case.kind, case.message) for case in report.failed_cases] == [
        ("rejectsNegativeIncome", "failure", "expected: <REJECT> but was: <REVIEW>"),
        ("loadsModelFromRegistry", "error", "Connection refused"),
        ("retriesScoringTimeouts", "failure", "Timed out after 500 ms"),
    ]
    assert {case.suite for case in report.failed_cases} == {"com.example.scoring.ScorerTest"}


def test_counts_come_from_test_cases_not_the_header() -> None:
    data = suite(
        '<testcase name="a"/><testcase name="b"><failure message="boom"/></testcase>',
        'tests="99" failures="0" errors="0" skipped="0"',
    )
    report = parse_junit("r.xml", data)
    assert (report.tests, report.failures, report.errors, report.skipped) == (2, 1, 0, 0)


def test_error_outranks_failure_and_each_case_counts_once() -> None:
    data = suite(
        '<testcase name="t"><failure message="call"/><error message="teardown"/></testcase>'
    )
    report = parse_junit("r.xml", data)
    assert (report.tests, report.failures, report.errors) == (1, 0, 1)
    assert report.failed_cases[0].message == "teardown"


def test_suite_without_cases_falls_back_to_its_attributes() -> None:
    data = (
        b'<testsuites><testsuite name="trimmed" tests="40" failures="1" errors="0" skipped="3"/>'
        b'<testsuite name="full"><testcase name="x"/></testsuite></testsuites>'
    )
    report = parse_junit("r.xml", data)
    assert (report.tests, report.failures, report.errors, report.skipped) == (41, 1, 0, 3)


def test_nested_suites_are_counted() -> None:
    data = (
        b'<testsuites><testsuite name="outer"><testcase name="a"/>'
        b'<testsuite name="inner"><testcase name="b"><skipped/></testcase>'
        b'<testcase name="c"><error type="Boom"/></testcase></testsuite>'
        b"</testsuite></testsuites>"
    )
    report = parse_junit("r.xml", data)
    assert (report.tests, report.errors, report.skipped) == (3, 1, 1)
    assert report.failed_cases == (
        CaseFailure(suite="inner", name="c", kind="error", message="Boom"),
    )


def test_report_without_suites_uses_root_attributes() -> None:
    assert parse_junit("r.xml", b'<testsuites tests="5" failures="2"/>') == TestReport(
        tests=5, failures=2, errors=0, skipped=0
    )
    assert parse_junit("r.xml", b"<testsuites/>") == TestReport(0, 0, 0, 0)


def test_failure_message_falls_back_to_text_then_type_and_is_capped() -> None:
    data = suite(
        '<testcase name="a"><failure>\n\n  first line\nsecond</failure></testcase>'
        '<testcase name="b"><failure type="AssertionError"/></testcase>'
        f'<testcase name="c"><failure message="{"x" * 2000}"/></testcase>'
    )
    messages = [case.message for case in parse_junit("r.xml", data).failed_cases]
    assert messages[:2] == ["first line", "AssertionError"]
    assert len(messages[2]) == MAX_MESSAGE and messages[2].endswith("…")


def test_doctype_inside_cdata_output_is_fine() -> None:
    data = suite(
        '<testcase name="a"><system-out><![CDATA[<!DOCTYPE html>]]></system-out></testcase>'
    )
    assert parse_junit("r.xml", data).tests == 1


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
        b' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
        b' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n]>\n'
        b'<testsuite name="&lol3;"/>',
        b'<?xml version="1.0"?>\n<!DOCTYPE testsuite SYSTEM "http://example.com/x.dtd">\n<testsuite/>',
    ],
    ids=["entity-bomb", "external-dtd"],
)
def test_doctype_is_refused_before_parsing(data: bytes) -> None:
    with pytest.raises(EvidenceError, match=r"^r\.xml:2:1: the report declares a DOCTYPE"):
        parse_junit("r.xml", data)


MISMATCHED = b'<testsuite name="s">\n  <testcase name="a">\n</testsuite>'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (MISMATCHED, r"^r\.xml:3:3: malformed XML \(mismatched tag\); attach the report"),
        (b"", r"^r\.xml:1:1: malformed XML \(no element found\)"),
        (b"<testsuite>&nope;</testsuite>", r"^r\.xml:1:12: malformed XML \(undefined entity\)"),
        (b"not xml at all", r"^r\.xml:1:1: malformed XML \(syntax error\)"),
        (b"<html><body/></html>", r"^r\.xml: the root element is <html>, not <testsuites>"),
        (suite("", 'tests="many"'), r"^r\.xml: <testsuite> has a count that is not a whole"),
        (b'<testsuites failures="-1"/>', r"^r\.xml: <testsuites> has a count .*negative"),
    ],
)
def test_unusable_report_is_evidence_error(data: bytes, message: str) -> None:
    with pytest.raises(EvidenceError, match=message):
        parse_junit("r.xml", data)
