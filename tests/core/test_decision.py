"""From results to GO or NO-GO: every required criterion passed or waived."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from core_testkit import CANDIDATE, NOW, item, make_plan, writes_a_command

from clearance.core.decision import evaluate_release
from clearance.core.results import (
    ApprovalRecord,
    EvaluationContext,
    NextAction,
    Result,
    Status,
    WaiverRecord,
)

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
        "next",
    }


AUC = {
    "id": "auc",
    "kind": "metric",
    "evidence": "eval/metrics.json",
    "metric": "auc",
    "threshold": 0.85,
}
LOW_AUC = {"auc": [item("eval/metrics.json", {"auc": 0.8})]}
WAIVER = WaiverRecord(
    criterion_id="auc",
    person="rita",
    role="risk-officer",
    justification="known dip",
    candidate=CANDIDATE,
    at=NOW - timedelta(days=1),
    expires_at=NOW + timedelta(days=13),
)


def failing_auc(**context: Any) -> Result:
    plan = make_plan([AUC])
    ctx = EvaluationContext(plan=plan, candidate=CANDIDATE, now=NOW, evidence=LOW_AUC, **context)
    return evaluate_release(ctx).results[0]


def test_a_failed_criterion_offers_a_fix_and_a_waiver() -> None:
    """Without a waiver, a failed metric offers to rerun the evaluation or to waive it."""
    result = failing_auc()
    assert result.status is Status.FAILED
    assert [a.kind for a in result.next] == ["rerun", "waive"]


def test_a_waived_result_keeps_its_fixes_but_offers_no_second_waiver() -> None:
    """A waiver expires, so the way to pass stays on show; waiving again is not offered."""
    result = failing_auc(waivers=(WAIVER,))
    assert result.status is Status.WAIVED
    assert result.next == (NextAction("rerun", "auc", path="eval/metrics.json"),)
    assert "without the waiver: failed" in result.reason


def test_an_unwaivable_criterion_is_not_offered_a_waiver() -> None:
    """Criteria that no waiver can clear keep their status and drop the waive action."""
    result = failing_auc(waivers=(WAIVER,), unwaivable=frozenset({"auc"}))
    assert result.status is Status.FAILED
    assert [a.kind for a in result.next] == ["rerun"]


def test_a_void_waiver_note_keeps_the_next_actions() -> None:
    """A waiver that does not count is explained in the reason; the actions stay as they were."""
    result = failing_auc(void_waivers={"auc": ["the waiver by mallory does not count: no role"]})
    assert result.status is Status.FAILED
    assert result.reason.endswith("; the waiver by mallory does not count: no role")
    assert [a.kind for a in result.next] == ["rerun", "waive"]


def test_no_reason_of_a_decision_writes_a_command() -> None:
    """Waived, void-noted and plain results alike leave commands to the renderers."""
    results = [
        failing_auc(),
        failing_auc(waivers=(WAIVER,)),
        failing_auc(void_waivers={"auc": ["the waiver by mallory does not count: no role"]}),
        *decide([STAKEHOLDERS, SIGNOFF], [], ()).results,
    ]
    assert not [r.reason for r in results if writes_a_command(r.reason)]
