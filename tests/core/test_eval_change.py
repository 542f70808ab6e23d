"""The change evaluator: the release's change ticket approved (blocking) or recorded."""

from __future__ import annotations

from typing import Any

import pytest
from core_testkit import evaluate, item

from clearance.core.evaluators.change import TicketError, read_ticket
from clearance.core.results import Status

FILE = "change/CHG0042.json"
BLOCKING = {"id": "change", "kind": "change", "evidence": FILE}
UNNAMED = {"id": "change", "kind": "change"}
RECORD = {"id": "change", "kind": "change", "mode": "record"}
WITH_CHANGE = {"release": {"change": {"system": "servicenow", "id": "CHG0042"}}}
STATES = ["approved", "scheduled", "implement"]
EXPECTED = {"mode": "blocking", "id": "CHG0042", "state": STATES}

CASES = [
    pytest.param(
        BLOCKING,
        [item(FILE, {"number": "CHG0042", "state": "Scheduled"})],
        WITH_CHANGE,
        Status.PASSED,
        ['CHG0042 (servicenow) is in state "Scheduled", per change/CHG0042.json'],
        {"id": "CHG0042", "state": "Scheduled"},
        EXPECTED,
        id="approved-state",
    ),
    pytest.param(
        BLOCKING,
        [
            item(
                FILE,
                {
                    "result": {
                        "number": {"display_value": "CHG0042"},
                        "approval": {"value": "approved"},
                    }
                },
            )
        ],
        WITH_CHANGE,
        Status.PASSED,
        ['is in state "approved"'],
        {"id": "CHG0042", "state": "approved"},
        EXPECTED,
        id="servicenow-api-shape",
    ),
    pytest.param(
        BLOCKING,
        [item(FILE, {"key": "CHG0042", "fields": {"status": {"name": "Approved"}}})],
        WITH_CHANGE,
        Status.PASSED,
        ['is in state "Approved"'],
        {"id": "CHG0042", "state": "Approved"},
        EXPECTED,
        id="jira-shape",
    ),
    pytest.param(
        UNNAMED,
        [
            item("chg.yaml", {"id": "CHG0042", "status": "approved"}),
            item("other.yaml", {"id": "CHG0001", "status": "assess"}),
        ],
        WITH_CHANGE,
        Status.PASSED,
        ["per chg.yaml"],
        {"id": "CHG0042", "state": "approved"},
        EXPECTED,
        id="unnamed-export-for-the-plans-ticket-preferred",
    ),
    pytest.param(
        {**BLOCKING, "approved_states": ["Authorized"]},
        [item(FILE, {"id": "chg0042", "status": "authorized"})],
        WITH_CHANGE,
        Status.PASSED,
        ['is in state "authorized"'],
        {"id": "chg0042", "state": "authorized"},
        {**EXPECTED, "state": ["Authorized"]},
        id="custom-states-case-insensitive",
    ),
    pytest.param(
        BLOCKING,
        [item(FILE, {"number": "CHG0042", "state": "assess"})],
        WITH_CHANGE,
        Status.PENDING,
        ['CHG0042 is in state "assess"; the release waits for approved or scheduled or implement'],
        {"id": "CHG0042", "state": "assess"},
        EXPECTED,
        id="not-approved-yet",
    ),
    pytest.param(
        BLOCKING,
        [],
        WITH_CHANGE,
        Status.PENDING,
        [
            "the export of CHG0042 is not attached yet; export the ticket from servicenow",
            "as JSON or YAML and attach it to this criterion",
        ],
        None,
        EXPECTED,
        id="export-missing",
    ),
    pytest.param(
        UNNAMED,
        [],
        WITH_CHANGE,
        Status.PENDING,
        ["the export of CHG0042 is not attached yet"],
        None,
        EXPECTED,
        id="unnamed-export-missing",
    ),
    pytest.param(
        BLOCKING,
        [item(FILE, {"number": "CHG0041", "state": "approved"})],
        WITH_CHANGE,
        Status.FAILED,
        ["change/CHG0042.json is the export of CHG0041, but the plan names CHG0042"],
        {"id": "CHG0041", "state": "approved"},
        EXPECTED,
        id="wrong-ticket",
    ),
    pytest.param(
        BLOCKING,
        [item(FILE, {"number": "CHG0042", "state": "approved"})],
        {},
        Status.FAILED,
        ["the plan has no release.change; add the change ticket reference"],
        None,
        {"mode": "blocking"},
        id="no-change-reference",
    ),
    pytest.param(
        RECORD,
        [],
        {},
        Status.FAILED,
        ["the plan has no release.change"],
        None,
        {"mode": "record"},
        id="record-mode-still-needs-the-reference",
    ),
    pytest.param(
        RECORD,
        [],
        WITH_CHANGE,
        Status.PASSED,
        ["change CHG0042 (servicenow) is recorded", "does not enforce the ticket's approval"],
        {"system": "servicenow", "id": "CHG0042"},
        {"mode": "record", "id": "CHG0042"},
        id="record-mode",
    ),
    pytest.param(
        BLOCKING,
        [item(FILE, problem="Expecting value: line 1 column 1")],
        WITH_CHANGE,
        Status.ERROR,
        ["change/CHG0042.json could not be read: Expecting value"],
        None,
        EXPECTED,
        id="unreadable",
    ),
    pytest.param(
        BLOCKING,
        [item(FILE, {"state": "approved"})],
        WITH_CHANGE,
        Status.ERROR,
        [
            "change/CHG0042.json is not a change ticket export this criterion can read: it has no "
            "ticket id under id, number, key"
        ],
        None,
        EXPECTED,
        id="export-without-id",
    ),
    pytest.param(
        BLOCKING,
        [item(FILE, {"number": "CHG0042"})],
        WITH_CHANGE,
        Status.ERROR,
        ["it has no state under status, state, approval"],
        None,
        EXPECTED,
        id="export-without-state",
    ),
    pytest.param(
        BLOCKING,
        [item(FILE, ["CHG0042", "approved"])],
        WITH_CHANGE,
        Status.ERROR,
        ["it is not a mapping of ticket fields"],
        None,
        EXPECTED,
        id="export-of-wrong-shape",
    ),
]


@pytest.mark.parametrize(
    ("criterion", "items", "plan", "status", "fragments", "observed", "expected"), CASES
)
def test_change(
    criterion: dict[str, Any],
    items: list[Any],
    plan: dict[str, Any],
    status: Status,
    fragments: list[str],
    observed: Any,
    expected: Any,
) -> None:
    """Each case yields its status, a reason with these fragments, and the ticket seen."""
    result = evaluate(criterion, items, plan=plan)
    assert result.status is status, result.reason
    for fragment in fragments:
        assert fragment in result.reason
    assert result.observed == observed
    assert result.expected == expected


def test_change_cites_the_export_read() -> None:
    """The export the state was read from is cited."""
    export = item(FILE, {"number": "CHG0042", "state": "approved"})
    assert evaluate(BLOCKING, [export], plan=WITH_CHANGE).evidence == (export.digest,)


@pytest.mark.parametrize(
    "content",
    [
        {"id": True, "state": "approved"},
        {"id": "X", "state": "  "},
        {"result": [{"id": "X"}, {"id": "Y"}]},
    ],
)
def test_read_ticket_refuses_exports_without_usable_fields(content: Any) -> None:
    """Booleans, blank states and ambiguous result lists are not ticket fields."""
    with pytest.raises(TicketError):
        read_ticket(content)


def _reported(state: str, decision: str, hours_ago: float = 0.5) -> Any:
    from datetime import timedelta

    from core_testkit import NOW

    from clearance.core.results import TicketState

    at = NOW - timedelta(hours=hours_ago)
    return TicketState("servicenow", "CHG0042", state, decision, at, "delivery-1")


@pytest.mark.parametrize(
    ("criterion", "ticket", "status", "fragment"),
    [
        (
            UNNAMED,
            ("Scheduled", "approved"),
            Status.PASSED,
            'is in state "Scheduled", as servicenow',
        ),
        (UNNAMED, ("Implement", "pending"), Status.PASSED, 'state "Implement"'),
        (UNNAMED, ("Assess", "pending"), Status.PENDING, "the release waits for approved"),
        (UNNAMED, ("Canceled", "rejected"), Status.FAILED, "CHG0042 was rejected"),
        (RECORD, ("Canceled", "rejected"), Status.PASSED, "last reported it 'Canceled' (rejected)"),
    ],
    ids=["approved", "approved-state-name", "pending", "rejected-blocks", "record-mode-records"],
)
def test_change_reads_the_state_reported_by_webhook(
    criterion: dict[str, Any], ticket: tuple[str, str], status: Status, fragment: str
) -> None:
    """Without an export, the ticket state a webhook reported decides (blocking mode) or is
    shown and never blocks (record mode)."""
    result = evaluate(criterion, [], plan=WITH_CHANGE, change_ticket=_reported(*ticket))
    assert result.status is status, result.reason
    assert fragment in result.reason
    assert result.observed["state"] == ticket[0]


def test_the_newest_of_export_and_webhook_report_wins() -> None:
    """An export attached after the webhook's report overrides it, and the other way round."""
    export = item(FILE, {"number": "CHG0042", "state": "approved"})  # added an hour ago
    older = _reported("Canceled", "rejected", hours_ago=2)
    newer = _reported("Canceled", "rejected", hours_ago=0.1)
    assert evaluate(BLOCKING, [export], plan=WITH_CHANGE, change_ticket=older).status is (
        Status.PASSED
    )
    assert evaluate(BLOCKING, [export], plan=WITH_CHANGE, change_ticket=newer).status is (
        Status.FAILED
    )
