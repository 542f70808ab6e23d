"""From results to GO or NO-GO: every required criterion passed or waived."""

from __future__ import annotations

import json
from typing import Any

import pytest
from core_testkit import CANDIDATE, NOW, make_plan

from clearance.core.decision import evaluate_release
from clearance.core.results import ApprovalRecord, EvaluationContext, Status

STAKEHOLDERS = {"id": "stakeholders", "kind": "stakeholders"}
PARTY = {"name": "Loan applicants", "impact": "review order", "consideration": "human review"}
SIGNOFF = {"id": "signoff", "kind": "approval", "roles": [{"role": "model-risk"}]}
APPROVED = ApprovalRecord(
    person="bob", role="model-risk", decision="approve", candidate=CANDIDATE, at=NOW
)


def decide(
    criteria: list[dict[str, Any]],
    parties: list[dict[str, Any]],
    approvals: tuple[ApprovalRecord, ...] = (),
) -> Any:
    plan = make_plan(criteria, interested_parties=parties)
    return evaluate_release(
        EvaluationContext(plan=plan, candidate=CANDIDATE, now=NOW, approvals=approvals)
    )


@pytest.mark.parametrize(
    ("criteria", "parties", "approvals", "decision", "blocking"),
    [
        pytest.param([STAKEHOLDERS, SIGNOFF], [PARTY], (APPROVED,), "GO", [], id="all-passed"),
        pytest.param([], [], (), "GO", [], id="no-criteria"),
        pytest.param(
            [STAKEHOLDERS, SIGNOFF], [PARTY], (), "NO-GO", ["signoff"], id="pending-blocks"
        ),
        pytest.param(
            [STAKEHOLDERS, SIGNOFF],
            [],
            (),
            "NO-GO",
            ["stakeholders", "signoff"],
            id="blocking-in-plan-order",
        ),
        pytest.param(
            [{**STAKEHOLDERS, "advisory": True}, SIGNOFF],
            [],
            (APPROVED,),
            "GO",
            [],
            id="advisory-never-blocks",
        ),
    ],
)
def test_decision(
    criteria: list[dict[str, Any]],
    parties: list[dict[str, Any]],
    approvals: tuple[ApprovalRecord, ...],
    decision: str,
    blocking: list[str],
) -> None:
    """GO exactly when every required criterion clears; blocking lists the rest in order."""
    evaluation = decide(criteria, parties, approvals)
    assert evaluation.decision == decision
    assert [r.id for r in evaluation.blocking()] == blocking
    assert [r.id for r in evaluation.results] == [c["id"] for c in criteria]


def test_advisory_result_is_still_evaluated_and_shown() -> None:
    """An advisory criterion keeps its real status; it just does not block."""
    evaluation = decide([{**STAKEHOLDERS, "advisory": True}], [])
    assert evaluation.results[0].status is Status.PENDING
    assert evaluation.results[0].advisory is True


def test_evaluation_as_json_is_plain_json() -> None:
    """The evaluation serialises to JSON with the decision, candidate and every criterion."""
    data = decide([STAKEHOLDERS, SIGNOFF], [PARTY]).as_json()
    assert json.loads(json.dumps(data)) == data
    assert data["decision"] == "NO-GO"
    assert data["candidate"] == CANDIDATE
    assert [c["status"] for c in data["criteria"]] == ["passed", "pending"]
    assert set(data["criteria"][0]) == {
        "id",
        "kind",
        "status",
        "reason",
        "observed",
        "expected",
        "evidence",
        "advisory",
    }
