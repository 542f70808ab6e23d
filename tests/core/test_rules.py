"""The rules of sign-offs, waivers and identity, each with one home in core: table-driven,
and checked with hypothesis where a property must hold for every input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearance.core.identity import (
    ADMIN,
    InvalidName,
    Permission,
    Person,
    PersonKey,
    RoleGrant,
    normalise_name,
    permitted,
    valid_name,
)
from clearance.core.results import ApprovalRecord
from clearance.core.signoffs import is_author, standing_rejection, waiver_problem

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CANDIDATE = "sha256:" + "c" * 64


def record(decision: str, minutes: int, who: str = "dana@example.com", role: str = "model-risk"):
    return ApprovalRecord(
        person=who, role=role, decision=decision, candidate=CANDIDATE,  # type: ignore[arg-type]
        at=T0 + timedelta(minutes=minutes),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("names", "authors", "expected"),
    [
        (["Dana@Example.com"], {"dana@example.com"}, True),
        (["dana@example.com"], {" DANA@EXAMPLE.COM "}, True),
        (["dana.alt@example.com", "dana@example.com"], {"dana@example.com"}, True),
        (["erik@example.com"], {"dana@example.com"}, False),
        ([], {"dana@example.com"}, False),
    ],
)
def test_authors_are_matched_case_insensitively_by_any_name(names, authors, expected) -> None:
    assert is_author(names, authors) is expected


@pytest.mark.parametrize(
    ("history", "stands"),
    [
        ([("reject", 1)], True),
        ([("reject", 1), ("approve", 2)], True),
        ([("reject", 1), ("withdraw", 2)], False),
        ([("withdraw", 2), ("reject", 1)], False),  # order is by time, not by list
        ([("reject", 1), ("withdraw", 2), ("reject", 3)], True),
        ([("approve", 1)], False),
    ],
)
def test_a_rejection_stands_until_its_author_withdraws_it(history, stands) -> None:
    records = [record(d, m) for d, m in history]
    assert standing_rejection(records, "DANA@example.com", "model-risk", CANDIDATE) is stands


def test_someone_elses_withdrawal_does_not_lift_a_rejection() -> None:
    records = [record("reject", 1), record("withdraw", 2, who="erik@example.com")]
    assert standing_rejection(records, "dana@example.com", "model-risk", CANDIDATE)


def _problem(**changes):
    args = dict(
        signer_names=("rita@example.com",),
        role="risk-officer",
        holds_role=True,
        allowed_roles={"risk-officer"},
        authors={"alice@example.com", "bob@example.com"},
        criterion_id="auc",
        unwaivable_ids=frozenset({"security-signoff"}),
        signed_at=T0,
        expires_at=T0 + timedelta(days=14),
        max_duration=timedelta(days=90),
    )
    return waiver_problem(**{**args, **changes})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, None),
        ({"criterion_id": "security-signoff"}, "does not let it be waived"),
        ({"allowed_roles": set()}, "no policy rule"),
        ({"role": "model-risk"}, "lets only risk-officer"),
        ({"holds_role": False}, "no longer holds role"),
        ({"signer_names": ("Bob@Example.com",)}, "separation of duties"),
        ({"expires_at": T0 + timedelta(days=91)}, "longer than the 90 days"),
    ],
)
def test_waiver_rules(changes, expected) -> None:
    problem = _problem(**changes)
    assert (problem is None) if expected is None else (expected in (problem or ""))


@given(st.text(max_size=60))
def test_valid_name_normalises_or_refuses(text: str) -> None:
    try:
        name = valid_name(text)
    except InvalidName:
        return
    assert name == normalise_name(text) and name == name.strip().casefold() and name


@pytest.mark.parametrize("name", ["unsigned", "Clearance", " UNSIGNED "])
def test_reserved_names_name_no_person(name: str) -> None:
    with pytest.raises(InvalidName, match="reserved"):
        valid_name(name)


@pytest.mark.parametrize(
    ("text", "grant"),
    [
        ("model-risk", RoleGrant("model-risk", None)),
        ("Model-Risk", RoleGrant("model-risk", None)),
        ("credit-scoring:eng-manager", RoleGrant("eng-manager", "credit-scoring")),
    ],
)
def test_roles_parse(text: str, grant: RoleGrant) -> None:
    assert RoleGrant.parse(text) == grant


@pytest.mark.parametrize("text", ["", "a b", "x:", "-bad"])
def test_bad_roles_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a role"):
        RoleGrant.parse(text)


def test_only_administrators_have_permissions() -> None:
    admin = Person("a@example.com", "a@example.com", [RoleGrant(ADMIN, None)])
    scoped = Person("b@example.com", "b@example.com", [RoleGrant(ADMIN, "one-system")])
    other = Person("c@example.com", "c@example.com", [RoleGrant("model-risk", None)])
    for permission in Permission:
        assert permitted(admin, permission)
        assert not permitted(scoped, permission)  # admin of one system is not an admin
        assert not permitted(other, permission)
        assert not permitted(None, permission)


def test_a_key_signs_only_inside_its_window() -> None:
    key = PersonKey(
        "sha256:k", b"\0" * 32, "2026-01-01T00:00:00.000000Z", "2026-06-01T00:00:00.000000Z"
    )
    assert key.valid_at("2026-03-01T00:00:00.000000Z")
    assert not key.valid_at("2025-12-31T23:59:59.000000Z")
    assert not key.valid_at("2026-06-01T00:00:00.000000Z")
