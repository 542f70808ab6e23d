"""Builders shared by the core tests: a valid plan, evidence items, and one-call evaluation."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from clearance.core.evaluators import EVALUATORS
from clearance.core.plan import Plan
from clearance.core.results import EvaluationContext, EvidenceItem, Result, Status

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
CANDIDATE = "sha256:" + "c" * 64
OLD_CANDIDATE = "sha256:" + "0" * 64
COMPONENT_DIGEST = "sha256:" + "ab" * 32


def make_plan(criteria: Iterable[Mapping[str, Any]] = (), **sections: Any) -> Plan:
    """A valid plan (staging -> production, one model); `sections` replace or, for dicts
    such as release, extend the defaults."""
    doc: dict[str, Any] = {
        "apiVersion": "clearance/v1",
        "kind": "DeploymentPlan",
        "system": {"id": "credit-scoring", "name": "Credit scoring", "owner": "alice@example.com"},
        "release": {"version": "2.4.0", "source": "staging", "target": "production"},
        "components": [
            {"name": "scorer", "kind": "model", "version": "2.4.0", "digest": COMPONENT_DIGEST}
        ],
        "environments": {"staging": {}, "production": {}},
        "criteria": list(criteria),
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict) and key != "environments":
            doc[key] = {**doc[key], **value}
        else:
            doc[key] = value
    return Plan.model_validate(doc)


def item(
    name: str,
    content: Any = None,
    *,
    problem: str | None = None,
    added_by: str = "ci-bot",
    added_at: datetime = NOW - timedelta(hours=1),
    role: str | None = None,
) -> EvidenceItem:
    digest = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
    return EvidenceItem(
        name=name,
        digest=digest,
        added_by=added_by,
        added_at=added_at,
        role=role,
        content=content,
        problem=problem,
    )


def evaluate(
    criterion: Mapping[str, Any],
    items: Sequence[EvidenceItem] = (),
    plan: Mapping[str, Any] | None = None,
    **context: Any,
) -> Result:
    """Evaluate one criterion in a fresh plan, and check what every result must satisfy."""
    built = make_plan([criterion], **(plan or {}))
    crit = built.criteria[0]
    ctx = EvaluationContext(
        plan=built,
        candidate=context.pop("candidate", CANDIDATE),
        now=context.pop("now", NOW),
        evidence={crit.id: list(items)},
        **context,
    )
    result = EVALUATORS[crit.kind](crit, ctx)
    assert_well_formed(result, crit.id, crit.kind, crit.advisory, items)
    return result


def assert_well_formed(
    result: Result, cid: str, kind: str, advisory: bool, items: Sequence[EvidenceItem]
) -> None:
    """Every result names its criterion, is JSON data, cites only evidence it was given, and
    says what to do next as actions, never as commands in its reason."""
    assert (result.id, result.kind, result.advisory) == (cid, kind, advisory)
    assert result.reason and result.reason[0] != " "
    json.dumps(result.as_json(), allow_nan=False)
    assert set(result.evidence) <= {i.digest for i in items}
    assert len(set(result.evidence)) == len(result.evidence)
    assert_next_actions(result)


def writes_a_command(reason: str) -> bool:
    """Whether a reason spells out a `clearance` command instead of leaving it to a renderer."""
    return "`clearance" in reason or "clearance " in reason


def assert_next_actions(result: Result) -> None:
    """A result that did not pass offers at least one next action, each for its own criterion
    and each once; a passed one offers none; no reason writes a command."""
    assert not writes_a_command(result.reason), result.reason
    if result.status is Status.PASSED:
        assert result.next == ()
    else:
        assert result.next, f"{result.status.value} without a next action: {result.reason}"
    assert all(action.criterion == result.id for action in result.next)
    assert len(set(result.next)) == len(result.next)
    assert result.as_json()["next"] == [action.as_json() for action in result.next]


def digests(*items: EvidenceItem) -> tuple[str, ...]:
    return tuple(i.digest for i in items)
