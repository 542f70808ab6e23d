"""The control matrix counts a requirement as covered only from recorded results."""

from __future__ import annotations

from typing import Any

import pytest

from clearance.core.controls import ReleaseRecord, Requirement, control_matrix

REQS = [
    Requirement("A.6.2.5-plan", "A.6.2.5", "", "plan"),
    Requirement("A.6.2.5-requirements-met", "A.6.2.5", "", "met"),
    Requirement("B.6.2.5-components", "B.6.2.5", "", "components"),
    Requirement("B.6.2.5-performance", "B.6.2.5", "", "performance"),
    Requirement("B.6.2.5-user-testing", "B.6.2.5", "", "user testing"),
    Requirement("B.6.2.5-approvals", "B.6.2.5", "", "approvals"),
]


def result(id: str, kind: str, status: str, evidence: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"id": id, "kind": kind, "status": status, "evidence": list(evidence)}


def matrix(
    results: list[dict[str, Any]],
    outcome: str | None = "GO",
    controls: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    record = ReleaseRecord(
        revision="sha256:rev",
        owner="alice",
        outcome=outcome,
        decision_id=7,
        results=results,
        controls=controls or {},
        components={"m": "sha256:m"},
        approvals=("approval:dana:model-risk",),
    )
    return {c.requirement.id: c for c in control_matrix(REQS, record)}


@pytest.mark.parametrize(
    ("results", "controls", "requirement", "covered", "note"),
    [
        (
            [result("auc", "metric", "passed", ("sha256:a",))],
            {},
            "B.6.2.5-performance",
            True,
            "auc passed",
        ),
        ([result("auc", "metric", "pending")], {}, "B.6.2.5-performance", False, "auc pending"),
        ([result("auc", "metric", "failed")], {}, "B.6.2.5-performance", False, "auc failed"),
        ([], {}, "B.6.2.5-performance", False, "no criterion of this release maps to it"),
        # an evidence criterion counts for user testing only where the plan maps it there
        (
            [result("uat", "evidence", "passed", ("sha256:u",))],
            {},
            "B.6.2.5-user-testing",
            False,
            "no criterion",
        ),
        (
            [result("uat", "evidence", "passed", ("sha256:u",))],
            {"uat": ["B.6.2.5-user-testing"]},
            "B.6.2.5-user-testing",
            True,
            "uat passed",
        ),
        (
            [result("uat", "evidence", "waived")],
            {"uat": ["B.6.2.5-user-testing"]},
            "B.6.2.5-user-testing",
            True,
            "uat waived",
        ),
        # explicit controls replace the kind's default mapping
        (
            [result("auc", "metric", "passed")],
            {"auc": ["B.6.2.5-user-testing"]},
            "B.6.2.5-performance",
            False,
            "no criterion",
        ),
    ],
)
def test_coverage_follows_results(
    results: list[dict[str, Any]],
    controls: dict[str, list[str]],
    requirement: str,
    covered: bool,
    note: str,
) -> None:
    found = matrix(results, controls=controls)[requirement]
    assert found.covered is covered
    assert note in found.note


def test_approvals_cite_the_sign_offs() -> None:
    found = matrix([result("signoff", "approval", "passed")])["B.6.2.5-approvals"]
    assert found.covered and found.evidence == ("approval:dana:model-risk",)


@pytest.mark.parametrize(("outcome", "covered"), [("GO", True), ("NO-GO", False), (None, False)])
def test_requirements_met_only_with_a_go_decision(outcome: str | None, covered: bool) -> None:
    assert matrix([], outcome=outcome)["A.6.2.5-requirements-met"].covered is covered


def test_plan_and_components_come_from_the_record() -> None:
    found = matrix([])
    assert found["A.6.2.5-plan"].evidence == ("sha256:rev",)
    assert found["B.6.2.5-components"].evidence == ("m=sha256:m",)
