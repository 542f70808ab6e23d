"""A manifest's label and capture time are never differences between two environments."""

from __future__ import annotations

from core_testkit import evaluate

from clearance.core.results import Status

STAGING = {
    "name": "staging",
    "captured_at": "2026-11-30T09:00:00+00:00",
    "runtime": {"python": "3.11.9"},
    "packages": {"openai": "1.51.0"},
}
PRODUCTION = {
    "name": "production",
    "runtime": {"python": "3.11.9"},
    "packages": {"openai": "1.51.0"},
}
ENV = {"id": "env", "kind": "environment", "must_match": ["runtime.python", "packages.openai"]}


def _plan(source: dict, target: dict) -> dict:
    return {"environments": {"staging": {"manifest": source}, "production": {"manifest": target}}}


def test_name_and_capture_time_are_not_differences() -> None:
    """Two captures of equal environments pass with no acknowledgement at all."""
    result = evaluate(ENV, [], plan=_plan(STAGING, PRODUCTION))
    assert result.status is Status.PASSED, result.reason
    assert result.observed == []


def test_a_real_difference_still_counts_beside_the_volatile_fields() -> None:
    """Only the real difference is listed, not name or captured_at."""
    target = {**PRODUCTION, "region": "eu-west-1"}
    result = evaluate(ENV, [], plan=_plan(STAGING, target))
    assert result.status is Status.PENDING
    assert [d["key"] for d in result.observed] == ["region"]
    assert result.reason.startswith("1 unacknowledged difference between")


def test_a_plan_may_still_require_the_name_to_match() -> None:
    """must_match: [name] makes the label strict again (explicit beats the default)."""
    strict = {**ENV, "must_match": ["name"]}
    result = evaluate(strict, [], plan=_plan(STAGING, PRODUCTION))
    assert result.status is Status.FAILED
    assert "name: staging has 'staging', production has 'production'" in result.reason
