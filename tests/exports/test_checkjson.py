"""`check --format json` carries a schema version and follows the JSON Schema that
`clearance schema --output json` publishes, checked with jsonschema (draft 2020-12)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearance.core.controls import Unmapped
from clearance.core.decision import Evaluation
from clearance.core.results import ACTION_FIELDS, NextAction, Result, Status
from clearance.exports.checkjson import (
    CHECK_SCHEMA_ID,
    SCHEMA_VERSION,
    check_json,
    check_json_schema,
)

CANDIDATE = "sha256:" + "ab" * 32
REVISION = "sha256:" + "cd" * 32
EVIDENCE = "sha256:" + "ef" * 32


def validator() -> jsonschema.Draft202012Validator:
    schema = check_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def body(evaluation: Evaluation, warnings: list[Unmapped] | None = None) -> dict[str, Any]:
    return check_json(
        evaluation,
        system="credit-scoring",
        version="2.4.0",
        revision=REVISION,
        warnings=warnings or [],
    )


MIXED = Evaluation(
    decision="NO-GO",
    candidate=CANDIDATE,
    results=(
        Result("auc", "metric", Status.PASSED, "ok", 0.87, ">= 0.8", (EVIDENCE,)),
        Result(
            "signoff",
            "approval",
            Status.PENDING,
            "waiting",
            {"model-risk": []},
            {"model-risk": 1},
            next=(NextAction("approve", "signoff", role="model-risk"),),
        ),
        Result("drift", "metric", Status.FAILED, "drift", advisory=True),
        Result("bias", "metric", Status.WAIVED, "waived by dana"),
    ),
)
WARNING = Unmapped("uat", "evidence", (), ("B.6.2.5-user-testing",))


def test_output_names_its_schema_version_and_validates() -> None:
    found = body(MIXED, [WARNING])
    assert next(iter(found)) == "schema_version" and found["schema_version"] == SCHEMA_VERSION
    assert list(validator().iter_errors(found)) == []
    assert found["warnings"] == [
        {
            "kind": "unmapped-control",
            "criterion": "uat",
            "controls": [],
            "message": WARNING.message,
        }
    ]


def test_output_keeps_every_field_it_had_before() -> None:
    """Consumers of the unversioned output still find decision, candidate and criteria as
    `Evaluation.as_json` writes them."""
    found = body(MIXED)
    before = MIXED.as_json()
    assert {k: found[k] for k in before} == before


def test_schema_has_an_id_and_is_draft_2020_12() -> None:
    schema = check_json_schema()
    assert schema["$id"] == CHECK_SCHEMA_ID == "https://clearance.dev/schemas/check-output/v1.json"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda b: b.pop("schema_version"), "schema_version"),
        (lambda b: b.update(schema_version="0.9"), "schema_version"),
        (lambda b: b.update(extra=1), "extra"),
        (lambda b: b["criteria"][0].update(title="AUC"), "title"),
        (lambda b: b["criteria"][0].update(status="skipped"), "status"),
        (lambda b: b["criteria"][0].update(evidence=["abc"]), "evidence"),
        (lambda b: b["criteria"][1]["next"][0].pop("person"), "person"),
        (lambda b: b.update(decision="MAYBE"), "decision"),
    ],
)
def test_schema_refuses_output_it_does_not_describe(change: Any, where: str) -> None:
    """A field added, removed or retyped without publishing it fails validation."""
    found = body(MIXED)
    change(found)
    errors = list(validator().iter_errors(found))
    assert errors and any(where in str(e.path) + e.message for e in errors)


def test_every_kind_status_and_action_is_in_the_schema() -> None:
    defs = check_json_schema()["$defs"]
    assert defs["result"]["properties"]["status"]["enum"] == [s.value for s in Status]
    assert defs["action"]["properties"]["kind"]["enum"] == list(ACTION_FIELDS)
    assert "findings" in defs["result"]["properties"]["kind"]["enum"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(
    observed=json_values,
    expected=json_values,
    text=st.text(),
    status=st.sampled_from(list(Status)),
    advisory=st.booleans(),
)
def test_output_validates_whatever_the_evaluation_observed(
    observed: Any, expected: Any, text: str, status: Status, advisory: bool
) -> None:
    evaluation = Evaluation(
        decision="NO-GO",
        candidate=CANDIDATE,
        results=(
            Result(
                text,
                "metric",
                status,
                text,
                observed,
                expected,
                (EVIDENCE,),
                advisory,
                (NextAction("accept", text, about=(text, text)),),
            ),
        ),
    )
    assert validator().is_valid(body(evaluation, [Unmapped(text, "metric", (text,), ())]))
