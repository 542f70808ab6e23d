"""The evidence evaluator: documents attached, current, and attested as the plan asks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from core_testkit import NOW, evaluate, item

from clearance.core.results import Status

UAT = {"id": "uat", "kind": "evidence", "documents": ["docs/uat.pdf"]}
ATTESTED = {**UAT, "attested_by": "product-owner"}
FRESH = {**UAT, "max_age": "30d"}
OLD = NOW - timedelta(days=45)


def expected(**over: Any) -> dict[str, Any]:
    return {
        "documents": ["docs/uat.pdf"],
        "min_documents": 1,
        "attested_by": None,
        "max_age": None,
        **over,
    }


def seen(
    documents: list[str], stale: list[str] | None = None, attested_by: list[str] | None = None
) -> dict[str, Any]:
    return {"documents": documents, "stale": stale or [], "attested_by": attested_by or []}


CASES = [
    pytest.param(
        UAT,
        [item("docs/uat.pdf")],
        Status.PASSED,
        ["1 document attached (docs/uat.pdf)"],
        seen(["docs/uat.pdf"]),
        expected(),
        id="named-document-attached",
    ),
    pytest.param(
        ATTESTED,
        [item("docs/uat.pdf", added_by="dana", role="Product-Owner")],
        Status.PASSED,
        ["attested by dana (product-owner)"],
        seen(["docs/uat.pdf"], attested_by=["dana"]),
        expected(attested_by="product-owner"),
        id="attested-role-compared-case-insensitively",
    ),
    pytest.param(
        {"id": "uat", "kind": "evidence", "min_documents": 2},
        [item("a.pdf"), item("b.pdf")],
        Status.PASSED,
        ["2 documents attached (a.pdf, b.pdf)"],
        seen(["a.pdf", "b.pdf"]),
        expected(documents=[], min_documents=2),
        id="unnamed-documents-count",
    ),
    pytest.param(
        {**UAT, "min_documents": 2},
        [item("docs/uat.pdf"), item("notes.md")],
        Status.PASSED,
        ["2 documents attached"],
        seen(["docs/uat.pdf", "notes.md"]),
        expected(min_documents=2),
        id="extra-documents-count-toward-the-minimum",
    ),
    pytest.param(
        FRESH,
        [item("docs/uat.pdf", added_at=NOW - timedelta(days=30))],
        Status.PASSED,
        ["1 document attached"],
        seen(["docs/uat.pdf"]),
        expected(max_age="30d"),
        id="exactly-max-age-counts",
    ),
    pytest.param(
        UAT,
        [],
        Status.PENDING,
        [
            "docs/uat.pdf is not attached yet; attach it to this criterion",
        ],
        seen([]),
        expected(),
        id="named-document-missing",
    ),
    pytest.param(
        {**UAT, "documents": ["docs/uat.pdf", "docs/signoff.pdf"]},
        [item("docs/uat.pdf")],
        Status.PENDING,
        ["docs/signoff.pdf is not attached yet"],
        seen(["docs/uat.pdf"]),
        expected(documents=["docs/uat.pdf", "docs/signoff.pdf"]),
        id="one-named-document-missing",
    ),
    pytest.param(
        {**UAT, "min_documents": 3},
        [item("docs/uat.pdf")],
        Status.PENDING,
        ["1 of 3 documents attached; attach more"],
        seen(["docs/uat.pdf"]),
        expected(min_documents=3),
        id="too-few-documents",
    ),
    pytest.param(
        FRESH,
        [item("docs/uat.pdf", added_at=OLD)],
        Status.PENDING,
        [
            "docs/uat.pdf was added 45 days ago, older than max_age 30d; attach a current version",
            "0 of 1 documents attached (1 more older than max_age 30d)",
        ],
        seen([], stale=["docs/uat.pdf"]),
        expected(max_age="30d"),
        id="named-document-too-old",
    ),
    pytest.param(
        ATTESTED,
        [item("docs/uat.pdf", added_by="ci-bot")],
        Status.PENDING,
        [
            "no document is attested by a person in role product-owner yet; a person in role "
            "product-owner attaches the document, attesting it",
        ],
        seen(["docs/uat.pdf"]),
        expected(attested_by="product-owner"),
        id="not-attested",
    ),
    pytest.param(
        {**ATTESTED, "max_age": "30d"},
        [item("docs/uat.pdf"), item("signoff.pdf", role="product-owner", added_at=OLD)],
        Status.PENDING,
        ["no document is attested by a person in role product-owner"],
        seen(["docs/uat.pdf"], stale=["signoff.pdf"]),
        expected(attested_by="product-owner", max_age="30d"),
        id="stale-attestation-does-not-count",
    ),
    pytest.param(
        UAT,
        [item("docs/uat.pdf", problem="upload truncated")],
        Status.ERROR,
        ["docs/uat.pdf could not be read: upload truncated"],
        None,
        expected(),
        id="unreadable",
    ),
]


@pytest.mark.parametrize(
    ("criterion", "items", "status", "fragments", "observed", "expected"), CASES
)
def test_evidence(
    criterion: dict[str, Any],
    items: list[Any],
    status: Status,
    fragments: list[str],
    observed: Any,
    expected: Any,
) -> None:
    """Each case yields its status, a reason with these fragments, and what was counted."""
    result = evaluate(criterion, items)
    assert result.status is status, result.reason
    for fragment in fragments:
        assert fragment in result.reason
    assert result.observed == observed
    assert result.expected == expected


def test_evidence_cites_only_documents_that_count() -> None:
    """Stale documents are not cited; the current ones are."""
    new, old = item("docs/uat.pdf"), item("old.pdf", added_at=OLD)
    assert evaluate(FRESH, [old, new]).evidence == (new.digest,)


def test_naive_added_at_is_utc() -> None:
    """A naive added_at is read as UTC, not rejected."""
    naive = item("docs/uat.pdf", added_at=(NOW - timedelta(days=1)).replace(tzinfo=None))
    assert evaluate(FRESH, [naive]).status is Status.PASSED
