"""The rollback evaluator: a target to roll back to, the procedure attached, a recent
successful rehearsal."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from core_testkit import NOW, evaluate, item

from clearance.core.results import ReleasedCandidate, Status

CRITERION = {"id": "rollback-ready", "kind": "rollback", "rehearsed_within": "30d"}
PLAIN = {"id": "rollback-ready", "kind": "rollback"}
PROC, REH = "docs/rollback.md", "rehearsal.yaml"
PLAN = {"rollback": {"to": "previous", "procedure": PROC, "rehearsal": REH}}
PREVIOUS = ReleasedCandidate(
    version="2.3.0", candidate="sha256:" + "1" * 64, released_at=datetime(2024, 3, 1, 9, 0)
)
RECENT = {"date": "2024-05-20", "outcome": "success"}
EXPECTED = {
    "to": "an earlier release in the target, or none for a first release",
    "procedure": "attached",
    "rehearsed_within": "30d",
}


def attached(rehearsal: Any = RECENT) -> list[Any]:
    return [item(PROC), item(REH, rehearsal)]


def plan(**rollback: Any) -> dict[str, Any]:
    return {"rollback": {**PLAN["rollback"], **rollback}}


def seen(**extra: Any) -> dict[str, Any]:
    base = {
        "to": "previous",
        "version": "2.3.0",
        "procedure": PROC,
        "rehearsed_at": "2024-05-20T00:00:00+00:00",
        "outcome": "success",
    }
    return {**base, **extra}


CASES = [
    pytest.param(
        CRITERION,
        PLAN,
        attached(),
        PREVIOUS,
        Status.PASSED,
        [
            "rolls back to 2.3.0, the release last made to production",
            "procedure docs/rollback.md attached",
            "rehearsed 2024-05-20T00:00:00+00:00 (success)",
        ],
        seen(),
        id="ready",
    ),
    pytest.param(
        CRITERION,
        plan(to="none"),
        attached(),
        None,
        Status.PASSED,
        ["nothing to roll back to (first release)"],
        seen(to="none", version=None),
        id="first-release-with-none",
    ),
    pytest.param(
        CRITERION,
        plan(to="2.1.0"),
        attached(),
        PREVIOUS,
        Status.PASSED,
        ["rolls back to 2.1.0 (as written in the plan)"],
        seen(
            to="2.1.0",
            version="2.1.0",
            checked="taken as written; not checked against the release history here",
        ),
        id="explicit-version-taken-as-written",
    ),
    pytest.param(
        CRITERION,
        PLAN,
        attached({"rehearsed_at": "2024-05-31T22:00:00", "outcome": "OK"}),
        PREVIOUS,
        Status.PASSED,
        ["(OK)"],
        seen(rehearsed_at="2024-05-31T22:00:00+00:00", outcome="OK"),
        id="naive-datetime-is-utc",
    ),
    pytest.param(
        CRITERION,
        PLAN,
        attached({"date": date(2024, 5, 3)}),
        PREVIOUS,
        Status.PASSED,
        ["no outcome given"],
        seen(rehearsed_at="2024-05-03T00:00:00+00:00", outcome=None),
        id="date-object-and-no-outcome",
    ),
    pytest.param(
        PLAIN,
        {"rollback": {"to": "previous", "procedure": PROC}},
        [item(PROC)],
        PREVIOUS,
        Status.PASSED,
        ["procedure docs/rollback.md attached"],
        {"to": "previous", "version": "2.3.0", "procedure": PROC},
        id="no-rehearsal-asked",
    ),
    pytest.param(
        CRITERION,
        {},
        attached(),
        PREVIOUS,
        Status.FAILED,
        ["the plan has no rollback section; add e.g. rollback: {to: previous"],
        None,
        id="no-rollback-section",
    ),
    pytest.param(
        CRITERION,
        plan(to="none"),
        attached(),
        PREVIOUS,
        Status.FAILED,
        [
            "rollback.to is none, but version 2.3.0 was released to production on 2024-03-01; "
            "write rollback.to: previous"
        ],
        {"to": "none", "version": None},
        id="none-after-an-earlier-release",
    ),
    pytest.param(
        CRITERION,
        PLAN,
        attached(),
        None,
        Status.FAILED,
        [
            "no earlier release in production to roll back to; for a first release write "
            "rollback.to: none"
        ],
        {"to": "previous", "version": None},
        id="previous-without-an-earlier-release",
    ),
    pytest.param(
        CRITERION,
        PLAN,
        [item(REH, RECENT)],
        PREVIOUS,
        Status.PENDING,
        [
            "the procedure docs/rollback.md is not attached yet; attach it to this criterion",
        ],
        {k: v for k, v in seen().items() if k != "procedure"},
        id="procedure-not-attached",
    ),
    pytest.param(
        PLAIN,
        {"rollback": {"to": "previous"}},
        [],
        PREVIOUS,
        Status.PENDING,
        ["the plan names no rollback procedure; add rollback.procedure"],
        {"to": "previous", "version": "2.3.0"},
        id="procedure-not-named",
    ),
    pytest.param(
        CRITERION,
        {"rollback": {"to": "previous", "procedure": PROC}},
        [item(PROC)],
        PREVIOUS,
        Status.PENDING,
        ["the plan asks for a rehearsal within 30d and names no rehearsal record"],
        {"to": "previous", "version": "2.3.0", "procedure": PROC},
        id="rehearsal-not-named",
    ),
    pytest.param(
        CRITERION,
        PLAN,
        [item(PROC)],
        PREVIOUS,
        Status.PENDING,
        ["the rehearsal record rehearsal.yaml is not attached yet"],
        {"to": "previous", "version": "2.3.0", "procedure": PROC},
        id="rehearsal-not-attached",
    ),
    pytest.param(
        CRITERION,
        PLAN,
        attached({"date": "2024-04-01", "outcome": "success"}),
        PREVIOUS,
        Status.PENDING,
        ["the last rehearsal was 61.5 days ago (2024-04-01), longer than rehearsed_within 30d"],
        seen(rehearsed_at="2024-04-01T00:00:00+00:00"),
        id="rehearsal-too-old",
    ),
    pytest.param(
        CRITERION,
        PLAN,
        attached({"date": "2024-05-30", "outcome": "failed"}),
        PREVIOUS,
        Status.PENDING,
        ['the rehearsal of 2024-05-30 had outcome "failed"; rehearse the rollback again'],
        seen(rehearsed_at="2024-05-30T00:00:00+00:00", outcome="failed"),
        id="rehearsal-failed",
    ),
    pytest.param(
        CRITERION,
        PLAN,
        attached({"date": "last tuesday"}),
        PREVIOUS,
        Status.ERROR,
        ["rehearsal.yaml: the rehearsal date 'last tuesday' is not an ISO 8601 date"],
        {"to": "previous", "version": "2.3.0", "procedure": PROC},
        id="unparseable-date",
    ),
    pytest.param(
        CRITERION,
        PLAN,
        attached({"date": "2030-01-01"}),
        PREVIOUS,
        Status.ERROR,
        ["the rehearsal date 2030-01-01 is in the future"],
        seen(rehearsed_at="2030-01-01T00:00:00+00:00", outcome=None),
        id="future-date",
    ),
    pytest.param(
        CRITERION,
        PLAN,
        attached({"outcome": "success"}),
        PREVIOUS,
        Status.ERROR,
        ["rehearsal.yaml is not a rehearsal record: write a mapping with date"],
        {"to": "previous", "version": "2.3.0", "procedure": PROC},
        id="rehearsal-without-date",
    ),
    pytest.param(
        CRITERION,
        PLAN,
        [item(PROC), item(REH, problem="bad indentation")],
        PREVIOUS,
        Status.ERROR,
        ["rehearsal.yaml could not be read: bad indentation"],
        {"to": "previous", "version": "2.3.0", "procedure": PROC},
        id="unreadable-rehearsal",
    ),
]


@pytest.mark.parametrize(
    ("criterion", "plan_doc", "items", "released", "status", "fragments", "observed"), CASES
)
def test_rollback(
    criterion: dict[str, Any],
    plan_doc: dict[str, Any],
    items: list[Any],
    released: ReleasedCandidate | None,
    status: Status,
    fragments: list[str],
    observed: Any,
) -> None:
    """Each case yields its status, a reason with these fragments, and what was seen."""
    result = evaluate(criterion, items, plan=plan_doc, released=released)
    assert result.status is status, result.reason
    for fragment in fragments:
        assert fragment in result.reason
    assert result.observed == observed
    want = {**EXPECTED, "rehearsed_within": criterion.get("rehearsed_within")}
    assert result.expected == want


def test_rollback_cites_procedure_and_rehearsal() -> None:
    """Both documents the verdict rests on are cited."""
    proc, reh = attached()
    assert evaluate(CRITERION, [proc, reh], plan=PLAN, released=PREVIOUS).evidence == (
        proc.digest,
        reh.digest,
    )


def test_rehearsal_exactly_at_the_limit_counts() -> None:
    """A rehearsal exactly rehearsed_within ago is recent enough."""
    when = (NOW - timedelta(days=30)).isoformat()
    result = evaluate(CRITERION, attached({"rehearsed_at": when}), plan=PLAN, released=PREVIOUS)
    assert result.status is Status.PASSED
