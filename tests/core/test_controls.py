"""The control matrix counts a requirement as covered only from recorded results: waived
results give their own status, advisory ones never count, and a passing criterion that
counts nowhere is named."""

from __future__ import annotations

from typing import Any

import pytest

from clearance.core.controls import (
    Catalogue,
    ReleaseRecord,
    Requirement,
    control_matrix,
    unmapped_criteria,
)

REQS = (
    Requirement("A.6.2.5-plan", "A.6.2.5", "", "plan"),
    Requirement("A.6.2.5-requirements-met", "A.6.2.5", "", "met"),
    Requirement("B.6.2.5-components", "B.6.2.5", "", "components"),
    Requirement("B.6.2.5-performance", "B.6.2.5", "", "performance"),
    Requirement("B.6.2.5-verification-validation", "B.6.2.5", "", "v&v"),
    Requirement("B.6.2.5-user-testing", "B.6.2.5", "", "user testing"),
    Requirement("B.6.2.5-approvals", "B.6.2.5", "", "approvals"),
)
CATALOGUE = Catalogue(
    REQS,
    {
        "metric": ("B.6.2.5-performance",),
        "tests": ("B.6.2.5-verification-validation",),
        "approval": ("B.6.2.5-approvals",),
        "evidence": (),
    },
)


def result(
    id: str, kind: str, status: str, evidence: tuple[str, ...] = (), advisory: bool = False
) -> dict[str, Any]:
    return {
        "id": id,
        "kind": kind,
        "status": status,
        "evidence": list(evidence),
        "advisory": advisory,
    }


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
    return {c.requirement.id: c for c in control_matrix(CATALOGUE, record)}


AUC = result("auc", "metric", "passed", ("sha256:a",))


@pytest.mark.parametrize(
    ("results", "controls", "requirement", "status", "note"),
    [
        ([AUC], {}, "B.6.2.5-performance", "covered", "auc passed"),
        ([result("auc", "metric", "pending")], {}, "B.6.2.5-performance", "not covered", "auc"),
        ([result("auc", "metric", "failed")], {}, "B.6.2.5-performance", "not covered", "auc"),
        ([], {}, "B.6.2.5-performance", "not covered", "no criterion of this release maps"),
        # a waived criterion never covers: the requirement is waived, and says by which
        (
            [result("auc", "metric", "waived")],
            {},
            "B.6.2.5-performance",
            "waived",
            "auc waived",
        ),
        (
            [AUC, result("drop", "metric", "waived")],
            {},
            "B.6.2.5-performance",
            "waived",
            "auc passed, drop waived",
        ),
        # every required criterion mapped to a requirement must pass for it to be covered
        (
            [AUC, result("drop", "metric", "failed")],
            {},
            "B.6.2.5-performance",
            "not covered",
            "auc passed, drop failed",
        ),
        # advisory criteria are shown in the note but never count
        (
            [result("drift", "metric", "passed", advisory=True)],
            {},
            "B.6.2.5-performance",
            "not covered",
            "no required criterion of this release maps to it; advisory, not counted: drift passed",
        ),
        (
            [AUC, result("drift", "metric", "failed", advisory=True)],
            {},
            "B.6.2.5-performance",
            "covered",
            "auc passed; advisory, not counted: drift failed",
        ),
        # an evidence criterion counts for user testing only where the plan maps it there
        (
            [result("uat", "evidence", "passed", ("sha256:u",))],
            {},
            "B.6.2.5-user-testing",
            "not covered",
            "no criterion",
        ),
        (
            [result("uat", "evidence", "passed", ("sha256:u",))],
            {"uat": ["B.6.2.5-user-testing"]},
            "B.6.2.5-user-testing",
            "covered",
            "uat passed",
        ),
        # explicit controls replace the kind's default mapping
        (
            [AUC],
            {"auc": ["B.6.2.5-user-testing"]},
            "B.6.2.5-performance",
            "not covered",
            "no criterion",
        ),
        # ids the catalogue lacks count for nothing, and still replace the default
        ([AUC], {"auc": ["ISO42001:A.6.2.5"]}, "B.6.2.5-performance", "not covered", ""),
    ],
)
def test_coverage_follows_results(
    results: list[dict[str, Any]],
    controls: dict[str, list[str]],
    requirement: str,
    status: str,
    note: str,
) -> None:
    found = matrix(results, controls=controls)[requirement]
    assert found.status == status
    assert found.covered is (status == "covered")
    assert note in found.note
    assert found.as_row()["status"] == status


def test_a_waived_requirement_keeps_the_evidence_behind_it() -> None:
    found = matrix([AUC, result("drop", "metric", "waived", ("sha256:d",))])
    assert found["B.6.2.5-performance"].evidence == ("sha256:a", "sha256:d")
    assert found["B.6.2.5-performance"].criteria == ("auc", "drop")


def test_records_without_an_advisory_flag_count_as_required() -> None:
    """Decisions recorded before results carried `advisory` still count."""
    old = {"id": "auc", "kind": "metric", "status": "passed", "evidence": []}
    assert matrix([old])["B.6.2.5-performance"].status == "covered"


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


def test_a_criterion_mapped_to_a_record_requirement_covers_nothing() -> None:
    """The plan, the decision and the pins are met by records; a criterion cannot claim
    them, so it counts nowhere."""
    assert CATALOGUE.counts_for("evidence", ["A.6.2.5-plan"]) == ()
    found = matrix([], outcome="NO-GO", controls={"uat": ["A.6.2.5-requirements-met"]})
    assert found["A.6.2.5-requirements-met"].status == "not covered"


def test_default_mappings_must_name_requirements_of_the_catalogue() -> None:
    with pytest.raises(ValueError, match="kind 'metric' name requirements the catalogue lacks"):
        Catalogue(REQS, {"metric": ("B.6.2.5-speed",)})


@pytest.mark.parametrize(
    ("results", "controls", "warned"),
    [
        # the case: a passing uat with no controls leaves user testing uncovered
        ([result("uat", "evidence", "passed")], {}, ["uat"]),
        ([result("uat", "evidence", "passed")], {"uat": ["B.6.2.5-user-testing"]}, []),
        ([result("uat", "evidence", "pending")], {}, []),
        ([result("uat", "evidence", "waived")], {}, []),
        ([result("uat", "evidence", "passed", advisory=True)], {}, []),
        ([AUC], {}, []),
        ([AUC], {"auc": ["ISO42001:A.6.2.5"]}, ["auc"]),
        ([AUC, result("uat", "evidence", "passed")], {"auc": ["A.6.2.5-plan"]}, ["auc", "uat"]),
    ],
)
def test_check_names_each_passing_criterion_that_covers_nothing(
    results: list[dict[str, Any]], controls: dict[str, list[str]], warned: list[str]
) -> None:
    assert [w.criterion for w in unmapped_criteria(CATALOGUE, results, controls)] == warned


def test_the_warning_says_why_and_what_to_write() -> None:
    no_controls, unknown = unmapped_criteria(
        CATALOGUE,
        [result("uat", "evidence", "passed"), AUC],
        {"auc": ["ISO42001:A.6.2.5"]},
    )
    assert no_controls.message.startswith(
        "uat passed but covers nothing in the control matrix: it has no controls: and kind "
        "evidence counts nowhere by default; name the requirement it serves at "
        "criteria[id=uat].controls, one of: B.6.2.5-performance, "
    )
    assert "B.6.2.5-user-testing" in no_controls.message
    assert "A.6.2.5-plan" not in no_controls.message
    assert "its controls (ISO42001:A.6.2.5) name no requirement of it" in unknown.message
