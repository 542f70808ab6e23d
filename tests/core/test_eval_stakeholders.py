"""The stakeholders evaluator: every interested party has an impact and a consideration."""

from __future__ import annotations

from typing import Any

import pytest
from core_testkit import evaluate

from clearance.core.results import Status

CRITERION = {"id": "stakeholders", "kind": "stakeholders"}
EXPECTED = {"parties": ">= 1", "each_has": ["impact", "consideration"]}
APPLICANTS = {
    "name": "Loan applicants",
    "impact": "ranking affects review order",
    "consideration": "human review retained",
}

CASES = [
    pytest.param(
        [APPLICANTS],
        Status.PASSED,
        ["1 interested party has an impact and a consideration (Loan applicants)"],
        {"parties": 1, "incomplete": {}},
        id="complete",
    ),
    pytest.param(
        [APPLICANTS, {**APPLICANTS, "name": "Reviewers"}],
        Status.PASSED,
        ["2 interested parties have"],
        {"parties": 2, "incomplete": {}},
        id="several-complete",
    ),
    pytest.param(
        [],
        Status.PENDING,
        ["the plan lists no interested parties; add interested_parties"],
        {"parties": 0},
        id="none-listed",
    ),
    pytest.param(
        [APPLICANTS, {"name": "Regulator", "impact": "  "}],
        Status.PENDING,
        ["1 of 2 interested parties is incomplete: Regulator has no impact and no consideration"],
        {"parties": 2, "incomplete": {"Regulator": ["impact", "consideration"]}},
        id="blank-and-missing-fields",
    ),
    pytest.param(
        [{**APPLICANTS, "consideration": None}, {"name": "Ops", "consideration": "on-call"}],
        Status.PENDING,
        [
            "2 of 2 interested parties are incomplete",
            "Loan applicants has no consideration",
            "Ops has no impact",
        ],
        {"parties": 2, "incomplete": {"Loan applicants": ["consideration"], "Ops": ["impact"]}},
        id="each-party-named",
    ),
]


@pytest.mark.parametrize(("parties", "status", "fragments", "observed"), CASES)
def test_stakeholders(
    parties: list[dict[str, Any]], status: Status, fragments: list[str], observed: Any
) -> None:
    """Each case yields its status, a reason naming the parties, and what is incomplete."""
    result = evaluate(CRITERION, plan={"interested_parties": parties})
    assert result.status is status, result.reason
    for fragment in fragments:
        assert fragment in result.reason
    assert result.observed == observed
    assert result.expected == EXPECTED
    assert result.evidence == ()
