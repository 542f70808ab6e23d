"""Scanner reports read into findings: real Bandit, Semgrep and Checkov SARIF written in this
session on a fixture project; hand-written fixtures, in each tool's documented format, for
producers that need a vulnerability database (CycloneDX VEX, pip-audit, Trivy) or GitHub
(CodeQL); and hostile reports, each refused with a message naming the file, never a
traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.scanners.run import report, scanner_reports  # noqa: F401  (a fixture)

from clearance.errors import EvidenceError
from clearance.integrations import findings as module
from clearance.integrations.findings import parse_findings

FIXTURES = Path(__file__).parent / "fixtures" / "findings"


def read(name: str) -> Any:
    return parse_findings(name, (FIXTURES / name).read_bytes())


def parsed(path: Path) -> Any:
    return parse_findings(path.name, path.read_bytes())


def shown(result: Any) -> list[tuple[str | None, str]]:
    return [(f.severity, f.describe()) for f in result.findings]


# -- real scanners ---------------------------------------------------------------------------


def test_bandit_sarif_written_now(scanner_reports) -> None:  # noqa: F811
    result = parsed(report(scanner_reports, "bandit"))
    assert result.format == "sarif"
    (scan,) = result.scans
    assert scan.tool == "Bandit" and scan.version and scan.at is not None
    assert shown(result) == [
        ("low", "B403 at service/score.py:3"),
        ("low", "B404 at service/score.py:4"),
        ("medium", "B301 at service/score.py:8"),  # no level: its issue_severity says MEDIUM
        ("high", "B602 at service/score.py:12"),
    ]
    assert "shell=True" in result.findings[3].message


def test_semgrep_sarif_with_a_local_rule(scanner_reports) -> None:  # noqa: F811
    result = parsed(report(scanner_reports, "semgrep"))
    assert [s.tool for s in result.scans] == ["Semgrep OSS"]
    # severity from each rule's defaultConfiguration.level: ERROR -> error, WARNING -> warning
    assert shown(result) == [
        ("high", "rules.pickle-loads at service/score.py:8"),
        ("medium", "rules.shell-true at service/score.py:12"),
    ]


def test_checkov_sarif_on_a_dockerfile_and_a_kubernetes_manifest(scanner_reports) -> None:  # noqa: F811
    result = parsed(report(scanner_reports, "checkov"))
    assert [s.tool for s in result.scans] == ["Checkov"]
    rules = {f.rule for f in result.findings}
    assert {"CKV_DOCKER_3", "CKV_K8S_16", "CKV_K8S_14"} <= rules  # root user, privileged, :latest
    paths = {f.path for f in result.findings}
    assert any(p.endswith("Dockerfile") for p in paths)
    assert any(p.endswith("deployment.yaml") for p in paths)
    # without Prisma Cloud (--skip-download) Checkov rates every failed check "error"
    assert {f.severity for f in result.findings} == {"high"}


# -- documented formats of producers that cannot run offline ---------------------------------


def test_cyclonedx_vex_json() -> None:
    result = read("cyclonedx-vex.json")
    assert result.format == "cyclonedx"
    assert [(s.tool, s.version) for s in result.scans] == [("cyclonedx-py", "4.6.0")]
    assert result.scans[0].at is not None
    assert shown(result) == [
        ("medium", "CVE-2024-22195 in jinja2@3.1.2"),
        ("medium", "CVE-2024-35195 in requests@2.31.0"),  # from the score alone
        ("critical", "CVE-2023-45803 in urllib3@1.26.17"),  # the worst of its ratings
        ("critical", "CVE-2023-45803 in idna@3.4"),  # a nested component
        (None, "CVE-2099-0001 in requests@2.31.0"),  # rated "unknown"
    ]
    jinja, requests = result.findings[0], result.findings[1]
    assert jinja.aliases == ("GHSA-h5c8-rqwp-cp95",) and jinja.suppressed is None
    assert requests.suppressed == "VEX not_affected"  # the VEX analysis
    assert result.findings[2].message == "urllib3 keeps the request body on 303 redirects."


def test_cyclonedx_vex_xml() -> None:
    result = read("cyclonedx-vex.xml")
    assert result.format == "cyclonedx"
    assert result.scans[0].tool == "dependency-track"
    assert shown(result) == [
        ("high", "CVE-2023-50447 in pillow@10.0.0"),
        ("high", "CVE-2023-44271 in pillow@10.0.0"),
    ]
    assert result.findings[0].suppressed is None  # in_triage: still open
    assert result.findings[1].suppressed == "VEX resolved"


def test_pip_audit_json() -> None:
    result = read("pip-audit.json")
    assert result.format == "pip-audit" and result.scans[0].tool == "pip-audit"
    assert shown(result) == [
        (None, "PYSEC-2024-1 in jinja2@3.1.2"),  # pip-audit rates nothing: unrated
        (None, "GHSA-9wx4-h78v-vm56 in requests@2.31.0"),
    ]
    assert result.findings[0].message.startswith("fixed in 3.1.3; The xmlattr filter")
    assert result.findings[0].aliases == ("CVE-2024-22195", "GHSA-h5c8-rqwp-cp95")
    legacy = json.loads((FIXTURES / "pip-audit.json").read_text())["dependencies"]
    assert parse_findings("old.json", json.dumps(legacy).encode()).format == "pip-audit"


def test_trivy_sarif_severity_from_security_severity() -> None:
    result = read("trivy.sarif")
    assert shown(result) == [
        ("critical", "CVE-2023-45853 at library/python:1"),
        ("low", "CVE-2024-2511 at library/python:1"),
    ]


def test_codeql_sarif_rules_of_extensions_artifact_indexes_and_suppressions() -> None:
    result = read("codeql.sarif")
    assert result.scans[0].version == "2.17.0" and result.scans[0].at is not None
    assert shown(result) == [
        ("critical", "py/unsafe-deserialization at service/score.py:8"),
        ("high", "py/clear-text-logging-sensitive-data at service/log utils.py:21"),
    ]  # kind "pass" and baselineState "absent" are no findings
    assert result.findings[1].suppressed == "SARIF inSource suppression"


def test_the_format_is_taken_from_the_plan_when_given() -> None:
    data = (FIXTURES / "pip-audit.json").read_bytes()
    with pytest.raises(EvidenceError, match=r"SARIF version None; only 2\.1\.0"):
        parse_findings("audit.json", data, expected="sarif")


# -- hostile and broken reports --------------------------------------------------------------

SARIF = {
    "version": "2.1.0",
    "runs": [
        {
            "tool": {"driver": {"name": "Scanner", "rules": [{"id": "R1"}]}},
            "results": [
                {
                    "ruleId": "R1",
                    "level": "error",
                    "message": {"text": "bad"},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": "a.py"},
                                "region": {"startLine": 3},
                            }
                        }
                    ],
                }
            ],
        }
    ],
}


def sarif_with(**result: Any) -> bytes:
    doc = json.loads(json.dumps(SARIF))
    doc["runs"][0]["results"][0].update(result)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (sarif_with(level="fatal"),
         "scan.sarif: runs[0].results[0].level: 'fatal' is not a SARIF level"),
        (sarif_with(properties={"security-severity": "banana"}),
         "runs[0].results[0].properties.security-severity: 'banana' is not a score from 0 to 10"),
        (sarif_with(properties={"security-severity": 11}), "11 is not a score from 0 to 10"),
        (sarif_with(properties={"severity": "SUPERBAD"}),
         "runs[0].results[0].properties.severity: 'SUPERBAD' is not a severity"),
        (sarif_with(ruleIndex=7), "runs[0].results[0].ruleIndex: 7 names no rule of the run"),
        (sarif_with(locations="a.py"), "runs[0].results[0].locations: expected a list, got text"),
        (sarif_with(locations=[{"physicalLocation": {"region": {"startLine": "3"}}}]),
         "startLine: '3' is not a line number"),
        (b'{"version": "2.0.0", "runs": []}', "SARIF version '2.0.0'; only 2.1.0 is read"),
        (b'{"version": "2.1.0", "runs": [{"tool": {}}]}',
         "runs[0].tool.driver: expected an object, got null"),
        (b'{"version": "2.1.0", "runs": {"a": 1}}', "runs: expected a list, got an object"),
        (b'{"hello": "world"}', "not a scanner report this criterion reads"),
        (b'{"runs": [1,}', "scan.sarif:1:13:"),
        (b"\xff\xfe junk", "not UTF-8 text"),
        (b'{"runs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (b'{"version": "2.1.0", "runs": [' + b"1" * 5000 + b"]}", "unreadable JSON"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.2"}', "CycloneDX 1.2; 1.4 to 1.6"),
        (b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "vulnerabilities": [{"id": "X",'
         b' "ratings": [{"severity": "apocalyptic"}]}]}',
         "vulnerabilities[0].ratings[0].severity: 'apocalyptic' is not a severity"),
        (b'{"dependencies": [{"name": "x", "vulns": [{"id": 3}]}]}',
         "dependencies[0].vulns[0].id: expected text, got a number"),
    ],
)  # fmt: skip
def test_broken_reports_get_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(EvidenceError) as caught:
        parse_findings("scan.sarif", data)
    assert message in caught.value.message
    assert caught.value.message.startswith("scan.sarif")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE bom [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><metadata><timestamp>&lol4;</timestamp></metadata></bom>
"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE bom [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><vulnerabilities><vulnerability>
<id>&secret;</id></vulnerability></vulnerabilities></bom>
"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL], ids=["billion-laughs", "xxe"])
def test_xml_bombs_and_external_entities_are_refused(data: bytes) -> None:
    with pytest.raises(EvidenceError, match=r"bom\.xml: the XML declares a DOCTYPE"):
        parse_findings("bom.xml", data)


def test_other_xml_is_not_taken_for_cyclonedx() -> None:
    with pytest.raises(EvidenceError, match="whose root is <testsuites>, not a CycloneDX <bom>"):
        parse_findings("junit.xml", b"<testsuites><testsuite/></testsuites>")
    with pytest.raises(EvidenceError, match=r"bom\.xml:1:"):
        parse_findings("bom.xml", b"<bom xmlns='http://cyclonedx.org/schema/bom/1.5'>")


def test_a_report_with_too_many_findings_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "MAX_FINDINGS", 10)
    doc = json.loads(json.dumps(SARIF))
    doc["runs"][0]["results"] *= 11
    with pytest.raises(EvidenceError, match="more than 10 findings; refused"):
        parse_findings("huge.sarif", json.dumps(doc).encode())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
PLACES = [
    ("runs", 0, "results", 0, "level"),
    ("runs", 0, "results", 0, "locations"),
    ("runs", 0, "results", 0, "locations", 0, "physicalLocation"),
    ("runs", 0, "results", 0, "properties"),
    ("runs", 0, "results", 0, "suppressions"),
    ("runs", 0, "results", 0, "ruleIndex"),
    ("runs", 0, "results", 0, "message"),
    ("runs", 0, "results", 0),
    ("runs", 0, "tool", "driver", "rules"),
    ("runs", 0, "tool", "extensions"),
    ("runs", 0, "invocations"),
    ("runs", 0, "artifacts"),
    ("runs", 0),
    ("runs",),
]


@settings(max_examples=300, deadline=None)
@given(place=st.sampled_from(PLACES), value=JSON)
def test_any_json_anywhere_in_a_report_is_read_or_refused_never_a_crash(place, value) -> None:
    """Whatever a hostile report puts where, reading it gives findings or an EvidenceError."""
    for base in (SARIF, json.loads((FIXTURES / "cyclonedx-vex.json").read_text())):
        doc = json.loads(json.dumps(base))
        node = doc
        try:
            for key in place[:-1]:
                node = node[key]
            node[place[-1]] = value
        except (KeyError, IndexError, TypeError):
            node = doc
            doc["vulnerabilities" if "bomFormat" in doc else "runs"] = value
        try:
            parse_findings("fuzz.json", json.dumps(doc).encode())
        except EvidenceError as exc:
            assert exc.message.startswith("fuzz.json")
