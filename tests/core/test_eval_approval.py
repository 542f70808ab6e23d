"""The approval evaluator: quorum per role on this candidate, vetoes, separation of duties,
expiry; checked by cases and against a brute-force reference on random approvals."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import product
from typing import Any, Literal

import pytest
from core_testkit import CANDIDATE, NOW, OLD_CANDIDATE, evaluate
from hypothesis import event, given, settings
from hypothesis import strategies as st

from clearance.core.evaluators.approval import match_people
from clearance.core.results import ApprovalRecord, Status

OWNER = "alice@example.com"
SIGNOFF = {
    "id": "signoff",
    "kind": "approval",
    "roles": [{"role": "model-risk", "min": 1}, {"role": "eng-manager", "min": 1}],
    "distinct_people": True,
    "forbid_author": True,
    "expires_after": "14d",
}
EXPECTED = {"model-risk": 1, "eng-manager": 1}


def rec(
    person: str,
    role: str,
    decision: Literal["approve", "reject", "withdraw"] = "approve",
    days_ago: float = 1,
    candidate: str = CANDIDATE,
    comment: str = "",
    identity: str | None = None,
    evidence_set: str | None = None,
) -> ApprovalRecord:
    return ApprovalRecord(
        person=person,
        role=role,
        decision=decision,
        candidate=candidate,
        at=NOW - timedelta(days=days_ago),
        comment=comment,
        identity=identity,
        evidence_set=evidence_set,
    )


BOB, CAROL = rec("bob", "model-risk"), rec("carol", "eng-manager")

CASES = [
    pytest.param(
        SIGNOFF,
        [BOB, CAROL],
        {},
        Status.PASSED,
        [
            "every role has its quorum on this candidate: model-risk: 1 of 1 (bob), "
            "eng-manager: 1 of 1 (carol)"
        ],
        {"model-risk": ["bob"], "eng-manager": ["carol"]},
        id="quorum-met",
    ),
    pytest.param(
        SIGNOFF,
        [BOB],
        {},
        Status.PENDING,
        [
            "waiting for approvals on this candidate: model-risk: 1 of 1 (bob), "
            "eng-manager: 0 of 1",
            "ask a person in role eng-manager to approve this candidate",
        ],
        {"model-risk": ["bob"], "eng-manager": []},
        id="role-missing",
    ),
    pytest.param(
        SIGNOFF,
        [],
        {},
        Status.PENDING,
        ["model-risk: 0 of 1, eng-manager: 0 of 1", "roles model-risk, eng-manager"],
        {"model-risk": [], "eng-manager": []},
        id="nothing-yet",
    ),
    pytest.param(
        SIGNOFF,
        [BOB, CAROL, rec("dan", "eng-manager", "reject", comment=" p95 regressed ")],
        {},
        Status.FAILED,
        [
            'dan (eng-manager) rejected it: "p95 regressed"',
            "the release waits until each rejection is withdrawn by the person who made it",
        ],
        {"model-risk": ["bob"], "eng-manager": ["carol"]},
        id="rejection-vetoes",
    ),
    pytest.param(
        SIGNOFF,
        [BOB, rec("carol", "eng-manager", "reject", days_ago=2), rec("carol", "eng-manager")],
        {},
        Status.FAILED,
        ["carol (eng-manager) rejected it"],
        {"model-risk": ["bob"], "eng-manager": []},
        id="re-approval-without-withdrawal-does-not-lift-a-rejection",
    ),
    pytest.param(
        SIGNOFF,
        [
            BOB,
            rec("carol", "eng-manager", "reject", days_ago=3),
            rec("carol", "eng-manager", "withdraw", days_ago=2),
            rec("carol", "eng-manager"),
        ],
        {},
        Status.PASSED,
        ["eng-manager: 1 of 1 (carol)"],
        {"model-risk": ["bob"], "eng-manager": ["carol"]},
        id="rejection-withdrawn-then-approved",
    ),
    pytest.param(
        {**SIGNOFF, "roles": [{"role": "model-risk", "min": 2}]},
        [rec("bob", "model-risk", identity="bob"), rec("bob2", "model-risk", identity="bob")],
        {},
        Status.PENDING,
        ["model-risk: 1 of 2"],
        {"model-risk": ["bob2"]},
        id="two-names-of-one-person-count-once",
    ),
    pytest.param(
        SIGNOFF,
        [BOB, rec("carol", "eng-manager", evidence_set="sha256:old")],
        {"evidence_set": "sha256:new"},
        Status.PENDING,
        ["approval by carol (eng-manager) was given before the evidence changed"],
        {"model-risk": ["bob"], "eng-manager": []},
        id="approval-over-other-evidence-is-stale",
    ),
    pytest.param(
        SIGNOFF,
        [BOB, CAROL, rec("carol", "eng-manager", "reject", days_ago=0.5)],
        {},
        Status.FAILED,
        ["carol (eng-manager) rejected it"],
        {"model-risk": ["bob"], "eng-manager": []},
        id="approval-replaced-by-later-rejection",
    ),
    pytest.param(
        SIGNOFF,
        [BOB, rec("carol", "eng-manager", "reject", days_ago=40)],
        {},
        Status.FAILED,
        ["carol (eng-manager) rejected it"],
        {"model-risk": ["bob"], "eng-manager": []},
        id="rejections-do-not-expire",
    ),
    pytest.param(
        SIGNOFF,
        [BOB, CAROL, rec("dan", "eng-manager", "reject", candidate=OLD_CANDIDATE)],
        {},
        Status.PASSED,
        ["rejection by dan (eng-manager) was for an earlier candidate"],
        {"model-risk": ["bob"], "eng-manager": ["carol"]},
        id="rejection-of-earlier-candidate-does-not-count",
    ),
    pytest.param(
        SIGNOFF,
        [BOB, rec("carol", "eng-manager", candidate=OLD_CANDIDATE)],
        {},
        Status.PENDING,
        ["approval by carol (eng-manager) was for an earlier candidate", "eng-manager: 0 of 1"],
        {"model-risk": ["bob"], "eng-manager": []},
        id="approval-of-earlier-candidate-does-not-carry-over",
    ),
    pytest.param(
        SIGNOFF,
        [rec("bob", "model-risk", candidate=OLD_CANDIDATE, days_ago=3), BOB, CAROL],
        {},
        Status.PASSED,
        ["model-risk: 1 of 1 (bob)"],
        {"model-risk": ["bob"], "eng-manager": ["carol"]},
        id="re-approved-on-this-candidate",
    ),
    pytest.param(
        SIGNOFF,
        [BOB, rec("carol", "eng-manager", days_ago=15)],
        {},
        Status.PENDING,
        [
            "the approval by carol (eng-manager) of 2024-05-17 has expired (older than 14d); "
            "ask carol to approve again"
        ],
        {"model-risk": ["bob"], "eng-manager": []},
        id="expired",
    ),
    pytest.param(
        SIGNOFF,
        [BOB, rec("carol", "eng-manager", days_ago=14)],
        {},
        Status.PASSED,
        ["eng-manager: 1 of 1 (carol)"],
        {"model-risk": ["bob"], "eng-manager": ["carol"]},
        id="exactly-at-expiry-counts",
    ),
    pytest.param(
        {**SIGNOFF, "expires_after": None},
        [BOB, rec("carol", "eng-manager", days_ago=400)],
        {},
        Status.PASSED,
        ["(carol)"],
        {"model-risk": ["bob"], "eng-manager": ["carol"]},
        id="no-expiry",
    ),
    pytest.param(
        SIGNOFF,
        [BOB, rec(" Alice@Example.com ", "eng-manager")],
        {},
        Status.PENDING,
        ["Alice@Example.com  is an author of this plan and cannot approve it"],
        {"model-risk": ["bob"], "eng-manager": []},
        id="plan-owner-cannot-approve",
    ),
    pytest.param(
        SIGNOFF,
        [BOB, rec("dave", "eng-manager")],
        {"authors": frozenset({"DAVE"})},
        Status.PENDING,
        ["dave is an author of this plan and cannot approve it"],
        {"model-risk": ["bob"], "eng-manager": []},
        id="submitter-cannot-approve",
    ),
    pytest.param(
        {**SIGNOFF, "forbid_author": False},
        [BOB, rec("dave", "eng-manager")],
        {"authors": frozenset({"dave"})},
        Status.PASSED,
        ["(dave)"],
        {"model-risk": ["bob"], "eng-manager": ["dave"]},
        id="authors-allowed-when-not-forbidden",
    ),
    pytest.param(
        SIGNOFF,
        [BOB, rec("bob", "eng-manager")],
        {},
        Status.PENDING,
        [
            "bob approved as model-risk and eng-manager but counts once (distinct_people)",
            "eng-manager: 0 of 1",
        ],
        {"model-risk": ["bob"], "eng-manager": []},
        id="one-person-one-role",
    ),
    pytest.param(
        {**SIGNOFF, "distinct_people": False},
        [BOB, rec("bob", "eng-manager")],
        {},
        Status.PASSED,
        ["model-risk: 1 of 1 (bob), eng-manager: 1 of 1 (bob)"],
        {"model-risk": ["bob"], "eng-manager": ["bob"]},
        id="one-person-many-roles-when-allowed",
    ),
    pytest.param(
        SIGNOFF,
        [rec("bob", "model-risk"), rec("bob", "eng-manager"), rec("carol", "model-risk")],
        {},
        Status.PASSED,
        ["model-risk: 1 of 1 (carol), eng-manager: 1 of 1 (bob)"],
        {"model-risk": ["carol"], "eng-manager": ["bob"]},
        id="assignment-found-where-first-come-would-fail",
    ),
    pytest.param(
        {**SIGNOFF, "roles": [{"role": "model-risk", "min": 2}]},
        [rec("bob", "model-risk"), rec("Bob ", "Model-Risk")],
        {},
        Status.PENDING,
        ["model-risk: 1 of 2"],
        {"model-risk": ["Bob "]},
        id="same-person-whatever-the-case-counts-once",
    ),
    pytest.param(
        {**SIGNOFF, "roles": [{"role": "model-risk", "min": 2}]},
        [rec("bob", "model-risk"), rec("erin", "model-risk"), rec("x", "security", "reject")],
        {},
        Status.PASSED,
        ["model-risk: 2 of 2 (bob, erin)"],
        {"model-risk": ["bob", "erin"]},
        id="other-roles-ignored",
    ),
]


@pytest.mark.parametrize(
    ("criterion", "records", "context", "status", "fragments", "observed"), CASES
)
def test_approval(
    criterion: dict[str, Any],
    records: list[ApprovalRecord],
    context: dict[str, Any],
    status: Status,
    fragments: list[str],
    observed: Any,
) -> None:
    """Each case yields its status, a reason with these fragments, and who counted."""
    result = evaluate(criterion, approvals=records, **context)
    assert result.status is status, result.reason
    for fragment in fragments:
        assert fragment in result.reason
    assert result.observed == observed
    assert result.expected == {r["role"]: r["min"] for r in criterion["roles"]}
    assert result.evidence == ()


def test_match_people_fills_every_seat_it_can() -> None:
    """The matching is maximum: it moves an earlier choice to make room."""
    assigned = match_people({"a": ["p", "q"], "b": ["p"]}, {"a": 1, "b": 1})
    assert assigned == {"q": "a", "p": "b"}


# --- property: the verdict equals a brute-force reference ------------------------------------

PEOPLE = ["ann", "Ann ", "bob", "cy", "dee", OWNER]
ROLES = ["model-risk", "eng", "product"]


def reference(
    records: list[ApprovalRecord],
    quorum: dict[str, int],
    authors: set[str],
    expires: int | None,
    distinct: bool,
    forbid: bool,
) -> Status:
    """Status by the rules written out plainly, trying every assignment of people to roles."""

    def norm(s: str) -> str:
        return s.strip().casefold()

    # replay each person's records per role in time order: a rejection stands until withdrawn
    state: dict[tuple[str, str], tuple[datetime, ApprovalRecord]] = {}
    order = sorted(range(len(records)), key=lambda i: (records[i].at, i))
    for idx in order:
        r = records[idx]
        if r.candidate != CANDIDATE or norm(r.role) not in quorum:
            continue
        key = (norm(r.person), norm(r.role))
        held = state.get(key)
        if r.decision == "withdraw":
            state.pop(key, None)
        elif r.decision == "reject" or held is None or held[1].decision != "reject":
            state[key] = (r.at, r)
    latest = {k: (at, 0, r) for k, (at, r) in state.items()}
    if any(r.decision == "reject" for _, _, r in latest.values()):
        return Status.FAILED
    banned = {norm(a) for a in authors} | {norm(OWNER)} if forbid else set()
    approved = {
        key
        for key, (at, _, r) in latest.items()
        if r.decision == "approve"
        and key[0] not in banned
        and (expires is None or NOW - at <= timedelta(days=expires))
    }
    people = sorted({p for p, _ in approved})
    if not distinct:
        ok = all(sum((p, role) in approved for p in people) >= n for role, n in quorum.items())
        return Status.PASSED if ok else Status.PENDING
    for choice in product([None, *quorum], repeat=len(people)):
        if all(
            c is None or (p, c) in approved for p, c in zip(people, choice, strict=True)
        ) and all(choice.count(role) >= n for role, n in quorum.items()):
            return Status.PASSED
    return Status.PENDING


records_strategy = st.lists(
    st.builds(
        rec,
        person=st.sampled_from(PEOPLE),
        role=st.sampled_from([*ROLES, "Model-Risk", "security"]),
        decision=st.sampled_from(["approve"] * 8 + ["reject", "withdraw"]),
        days_ago=st.integers(0, 20),
        candidate=st.sampled_from([CANDIDATE] * 4 + [OLD_CANDIDATE]),
    ),
    max_size=12,
)


@settings(max_examples=500, deadline=None)
@given(
    records=records_strategy,
    quorum=st.dictionaries(st.sampled_from(ROLES), st.integers(1, 2), min_size=1),
    authors=st.sets(st.sampled_from(["ANN", "bob", "zed"]), max_size=2),
    expires=st.sampled_from([None, 7, 14]),
    distinct=st.booleans(),
    forbid=st.booleans(),
)
def test_approval_verdict_matches_brute_force(
    records: list[ApprovalRecord],
    quorum: dict[str, int],
    authors: set[str],
    expires: int | None,
    distinct: bool,
    forbid: bool,
) -> None:
    """For any approvals, the verdict is what the rules say, and observed respects them."""
    criterion = {
        "id": "signoff",
        "kind": "approval",
        "roles": [{"role": role, "min": n} for role, n in quorum.items()],
        "distinct_people": distinct,
        "forbid_author": forbid,
        "expires_after": None if expires is None else f"{expires}d",
    }
    result = evaluate(criterion, approvals=records, authors=frozenset(authors))
    event(f"{result.status.value} distinct={distinct}")
    assert result.status is reference(records, quorum, authors, expires, distinct, forbid)
    counted = [p.strip().casefold() for people in result.observed.values() for p in people]
    if distinct:
        assert len(counted) == len(set(counted))
    if forbid:
        assert not {p for p in counted} & ({a.casefold() for a in authors} | {OWNER})
    if result.status is not Status.FAILED:
        met = all(len(result.observed[role]) >= n for role, n in quorum.items())
        assert met is (result.status is Status.PASSED)


@settings(max_examples=300, deadline=None)
@given(
    eligible=st.dictionaries(
        st.sampled_from(ROLES),
        st.lists(st.sampled_from(["p", "q", "r", "s"]), unique=True),
    ),
    mins=st.lists(st.integers(1, 3), min_size=3, max_size=3),
)
def test_match_people_is_maximum(eligible: dict[str, list[str]], mins: list[int]) -> None:
    """The matching fills as many seats as the best assignment of people to roles does."""
    quorum = {role: n for role, n in zip(ROLES, mins, strict=True) if role in eligible}
    assigned = match_people(eligible, quorum)
    assert all(person in eligible[role] for person, role in assigned.items())
    assert all(list(assigned.values()).count(role) <= n for role, n in quorum.items())
    people = sorted({p for ps in eligible.values() for p in ps})
    best = max(
        (
            sum(min(choice.count(role), n) for role, n in quorum.items())
            for choice in product([None, *quorum], repeat=len(people))
            if all(c is None or p in eligible[c] for p, c in zip(people, choice, strict=True))
        ),
        default=0,
    )
    assert len(assigned) == best
