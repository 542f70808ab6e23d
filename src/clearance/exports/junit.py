"""A gate evaluation as a JUnit XML report, so that CI systems show each criterion as a test."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clearance.core.decision import Evaluation

__all__ = ["render_junit"]

# Characters XML 1.0 cannot carry even escaped; ElementTree writes them as they are, which
# leaves a report no CI system can parse. Reasons may quote evidence, so they can occur.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def render_junit(evaluation: Evaluation, system: str) -> str:
    """One test case per criterion: failed/pending are failures, error is an error,
    advisory criteria that do not pass are skipped."""
    suite = ET.Element(
        "testsuite", name=_xml(f"clearance.{system}"), tests=str(len(evaluation.results))
    )
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    for r in evaluation.results:
        case = ET.SubElement(
            suite, "testcase", classname=_xml(f"clearance.{r.kind}"), name=_xml(r.id)
        )
        if r.status.value in ("passed", "waived"):
            continue
        message = _xml(f"{r.status.value}: {r.reason}")
        if r.advisory:
            ET.SubElement(case, "skipped", message=f"advisory — {message}")
            counts["skipped"] += 1
        elif r.status.value == "error":
            ET.SubElement(case, "error", message=message, type="error").text = message
            counts["errors"] += 1
        else:
            ET.SubElement(case, "failure", message=message, type=r.status.value).text = message
            counts["failures"] += 1
    for key, value in counts.items():
        suite.set(key, str(value))
    root = ET.Element("testsuites")
    root.append(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
