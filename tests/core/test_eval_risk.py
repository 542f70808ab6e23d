"""The risk evaluator: privacy and security risks mitigated, verified, with evidence."""

from __future__ import annotations

from typing import Any

import pytest
from core_testkit import evaluate, item

from clearance.core.results import NextAction, Status

FILE = "risks.yaml"
RISK = {"id": "risks", "kind": "risk", "register": FILE}
EXPECTED = {
    "categories": ["privacy", "security"],
    "mitigations": "at least one per risk, each verified with evidence",
}


def mitigation(
    mid: str | None = "M-1",
    status: str = "verified",
    evidence: Any = "reports/pentest.pdf",
    **extra: Any,
) -> dict[str, Any]:
    m = {"description": "encrypt at rest", "status": status, "evidence": evidence, **extra}
    if mid is not None:
        m["id"] = mid
    return m


def risk(rid: str, category: Any = "privacy", *mitigations: dict[str, Any]) -> dict[str, Any]:
    return {"id": rid, "category": category, "title": "t", "mitigations": list(mitigations)}


def seen(
    risks: list[str],
    unmitigated: list[str] | None = None,
    unverified: int = 0,
    without_evidence: int = 0,
) -> dict[str, Any]:
    return {
        "risks": risks,
        "unmitigated": unmitigated or [],
        "unverified": unverified,
        "without_evidence": without_evidence,
    }


CASES = [
    pytest.param(
        [risk("R-1", "privacy", mitigation()), risk("R-2", "Security", mitigation())],
        Status.PASSED,
        ["all 2 privacy/security risks in risks.yaml have verified mitigations with evidence"],
        seen(["R-1", "R-2"]),
        id="all-verified",
    ),
    pytest.param(
        {"risks": [risk("R-1", ["fairness", "privacy"], mitigation()), risk("R-9", "fairness")]},
        Status.PASSED,
        ["all 1 privacy/security risks"],
        seen(["R-1"]),
        id="mapping-register-list-of-categories-other-categories-ignored",
    ),
    pytest.param(
        [
            {
                "id": "R-1",
                "category": "privacy",
                "mitigation": "pseudonymise",
                "status": "Verified",
                "evidence": "dpia.pdf",
            },
            {
                "id": "R-1",
                "category": "privacy",
                "mitigation": "retention 90d",
                "status": "verified",
                "evidence": "policy.pdf",
            },
        ],
        Status.PASSED,
        ["(2 mitigations)"],
        seen(["R-1"]),
        id="flat-csv-rows-merged-by-risk-id",
    ),
    pytest.param(
        [risk("R-1", "privacy", mitigation()), risk("R-2", "security")],
        Status.FAILED,
        ["R-2 in risks.yaml has no mitigation; add mitigations"],
        seen(["R-1", "R-2"], unmitigated=["R-2"]),
        id="risk-without-mitigation",
    ),
    pytest.param(
        [{"id": "R-2", "category": "security"}, risk("R-3", "privacy", mitigation(status="open"))],
        Status.FAILED,
        ["R-2 in risks.yaml has no mitigation", "also 1 mitigation(s) not yet verified"],
        seen(["R-2", "R-3"], unmitigated=["R-2"], unverified=1),
        id="missing-mitigations-key-outranks-pending",
    ),
    pytest.param(
        [risk("R-9", "fairness", mitigation())],
        Status.FAILED,
        ["risks.yaml lists no privacy/security risks; record the system's privacy/security risks"],
        seen([]),
        id="no-risk-in-the-categories",
    ),
    pytest.param(
        [risk("R-1", "privacy", mitigation(status="planned"), mitigation(mid=None, status=""))],
        Status.PENDING,
        [
            'R-1: mitigation M-1 is "planned", not verified',
            'R-1: mitigation "encrypt at rest" is without a status, not verified',
            "mark each mitigation status: verified with evidence: <reference> in risks.yaml",
        ],
        seen(["R-1"], unverified=2),
        id="unverified-mitigations",
    ),
    pytest.param(
        [
            risk("R-1", "privacy", mitigation(evidence="  ")),
            risk("R-2", "security", mitigation(evidence=None)),
        ],
        Status.PENDING,
        [
            "R-1: mitigation M-1 is verified but names no evidence",
            "R-2: mitigation M-1 is verified but names no evidence",
        ],
        seen(["R-1", "R-2"], without_evidence=2),
        id="verified-without-evidence",
    ),
    pytest.param(
        [risk(f"R-{i}", "privacy", mitigation(status="open")) for i in range(7)],
        Status.PENDING,
        ["R-4: mitigation M-1", "; and 2 more"],
        seen([f"R-{i}" for i in range(7)], unverified=7),
        id="long-lists-are-cut",
    ),
]


@pytest.mark.parametrize(("register", "status", "fragments", "observed"), CASES)
def test_risk(register: Any, status: Status, fragments: list[str], observed: Any) -> None:
    """Each case yields its status, a reason with these fragments, and these counts."""
    result = evaluate(RISK, [item(FILE, register)])
    assert result.status is status, result.reason
    for fragment in fragments:
        assert fragment in result.reason
    assert result.observed == observed
    assert result.expected == EXPECTED
    assert result.evidence == (item(FILE).digest,)


ERRORS = [
    pytest.param({"items": []}, "it is a mapping without a `risks` list", id="mapping-no-risks"),
    pytest.param({"risks": {"R-1": {}}}, "risks must be a list of risks", id="risks-not-list"),
    pytest.param("R-1 privacy", "the register must be a list of risks", id="scalar"),
    pytest.param(
        [risk("R-1", "privacy", mitigation()), "R-2"],
        "risks[1]: a risk must be a mapping",
        id="risk-not-mapping",
    ),
    pytest.param([{"category": "privacy"}], "risks[0]: a risk needs an id", id="no-id"),
    pytest.param([{"id": "R-1"}], "risks[0] (R-1): a risk needs a category", id="no-category"),
    pytest.param(
        [{"id": "R-1", "category": ["privacy", 3]}],
        "a risk needs a category",
        id="bad-category-list",
    ),
    pytest.param(
        [
            risk("R-1"),
            risk("R-2"),
            risk("R-3"),
            {"id": "R-4", "category": "privacy", "mitigations": "encrypt"},
        ],
        "risks[3]: mitigations must be a list",
        id="mitigations-not-list",
    ),
    pytest.param(
        [{"id": "R-1", "category": "privacy", "mitigations": ["encrypt"]}],
        "risks[0].mitigations[0]: a mitigation must be a mapping",
        id="mitigation-not-mapping",
    ),
]


@pytest.mark.parametrize(("register", "fragment"), ERRORS)
def test_malformed_register_is_an_error_naming_the_place(register: Any, fragment: str) -> None:
    """A register of the wrong shape is ERROR, naming the file and where it is wrong."""
    result = evaluate(RISK, [item(FILE, register)])
    assert result.status is Status.ERROR
    assert "risks.yaml is not a risk register this criterion can read: " in result.reason
    assert fragment in result.reason
    assert result.observed is None


def test_register_not_attached_is_pending() -> None:
    """Without the register the criterion waits and asks for the register to be attached."""
    result = evaluate(RISK, [item("other.yaml", [])])
    assert result.status is Status.PENDING
    assert "risks.yaml is not attached yet; attach it to this criterion" in result.reason
    assert result.next == (NextAction("attach", "risks", path="risks.yaml"),)
    assert result.evidence == ()


def test_unreadable_register_is_an_error() -> None:
    """A register the service could not parse is ERROR with the parser's message."""
    result = evaluate(RISK, [item(FILE, problem="found character '\\t'")])
    assert result.status is Status.ERROR
    assert "risks.yaml could not be read: found character" in result.reason


def test_categories_are_case_insensitive() -> None:
    """Plan categories and register categories match whatever their case."""
    result = evaluate(
        {**RISK, "categories": ["Safety"]}, [item(FILE, [risk("R-1", "SAFETY", mitigation())])]
    )
    assert result.status is Status.PASSED
    assert result.observed["risks"] == ["R-1"]
