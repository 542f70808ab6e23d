"""A gate evaluation as a JUnit XML report, so that CI systems show each criterion as a test.

The report is valid for both schemas CI tools read JUnit by: Ant's JUnit XSD (the
stricter: `timestamp` without a time zone, `hostname`, `time` and `properties` required, no
attribute on `testsuites`, no `skipped` at all, at most one `failure` or `error` per test
case) and the Jenkins JUnit XSD. Neither lets a test case carry properties, and Ant's has no
`skipped`, so a waived criterion and an advisory one that did not pass are test cases without
a failure whose class name says which (`clearance.waived.<kind>`,
`clearance.advisory.<kind>`); the suite's properties list them and its system-out says why.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from clearance.exports.values import blocking_note

if TYPE_CHECKING:
    from clearance.core.controls import Unmapped
    from clearance.core.decision import Evaluation
    from clearance.core.results import Result

__all__ = ["render_junit"]

# Characters XML 1.0 cannot carry even escaped; ElementTree writes them as they are, which
# leaves a report no CI system can parse. Reasons may quote evidence, so they can occur.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def render_junit(
    evaluation: Evaluation,
    system: str,
    *,
    timestamp: datetime,
    seconds: float = 0.0,
    hostname: str = "localhost",
    version: str | None = None,
    revision: str | None = None,
    warnings: Sequence[Unmapped] = (),
) -> str:
    """One test case per criterion, in plan order: failed and pending are failures, error is
    an error; a waived one, and an advisory one that did not pass, are marked by class name.

    `timestamp` is when the evaluation ran (written in UTC, which Ant's schema cannot say, so
    a property does), `seconds` how long it took; criteria are not timed one by one, so each
    test case says 0. `revision` is the plan revision's digest; `warnings` go to system-out.
    """
    name = _xml(f"clearance.{system}") or "clearance"
    suite = ET.Element(
        "testsuite",
        name=name,
        package=name,
        id="0",
        tests=str(len(evaluation.results)),
        timestamp=timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        hostname=_xml(hostname).strip() or "localhost",
        time=f"{seconds if math.isfinite(seconds) and seconds > 0 else 0.0:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    for key, value in _properties(evaluation, system, version, revision):
        ET.SubElement(properties, "property", name=f"clearance.{key}", value=_xml(value))
    counts = {"failures": 0, "errors": 0}
    for r in evaluation.results:
        outcome = _case(suite, r)
        if outcome:
            counts[outcome] += 1
    for counter, count in counts.items():
        suite.set(counter, str(count))
    ET.SubElement(suite, "system-out").text = _xml(_summary(evaluation, warnings))
    ET.SubElement(suite, "system-err")
    root = ET.Element("testsuites")
    root.append(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def _properties(
    evaluation: Evaluation, system: str, version: str | None, revision: str | None
) -> list[tuple[str, str]]:
    found = [
        ("decision", evaluation.decision),
        ("candidate", evaluation.candidate),
        ("revision", revision or ""),
        ("system", system),
        ("version", version or ""),
        ("timezone", "UTC"),
        ("waived", " ".join(r.id for r in evaluation.results if r.status.value == "waived")),
        ("advisory", " ".join(r.id for r in evaluation.results if r.advisory)),
    ]
    return [(key, value) for key, value in found if value]


def _case(suite: ET.Element, r: Result) -> str | None:
    """Add the test case of one result; the counter it adds to, if any."""
    status = r.status.value
    marked = "advisory." if r.advisory and status != "passed" else ""
    marked = "waived." if status == "waived" else marked
    case = ET.SubElement(
        suite,
        "testcase",
        name=_xml(r.id),
        classname=_xml(f"clearance.{marked}{r.kind}"),
        time="0",
    )
    if status in ("passed", "waived") or r.advisory:
        return None
    message = _xml(f"{status}: {r.reason}")
    if status == "error":
        ET.SubElement(case, "error", message=message, type="error").text = message
        return "errors"
    ET.SubElement(case, "failure", message=message, type=status).text = message
    return "failures"


def _summary(evaluation: Evaluation, warnings: Sequence[Unmapped]) -> str:
    blocking = evaluation.blocking()
    lines = [
        f"Decision: {evaluation.decision}"
        + (f" ({blocking_note(len(blocking))})" if blocking else "")
    ]
    lines += [
        f"{'waived' if r.status.value == 'waived' else 'advisory, not blocking'}: {r.id} "
        f"{r.status.value} — {r.reason}"
        for r in evaluation.results
        if r.status.value == "waived" or (r.advisory and r.status.value != "passed")
    ]
    lines += [f"warning: {w.message}" for w in warnings]
    return "\n".join(lines) + "\n"
