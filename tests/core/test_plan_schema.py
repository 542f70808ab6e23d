"""The published plan schema and the loader agree: a document one accepts, the other accepts,
for every field of every kind and every value tried, judged by two independent JSON Schema
validators (the `jsonschema` reference implementation and the Rust `jsonschema-rs`).

Two things the schema cannot say are left out on purpose: references across the plan
(`reference_problems`: undeclared environments or components, duplicate ids) and integers
past 2^53, which the loader refuses anywhere (RFC 8785 could not keep them) while JSON Schema
cannot tell 2^60 written as an integer from the same number written as a float.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema
import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from clearance.core.criteria import CRITERION_MODELS
from clearance.core.loader import validate_plan
from clearance.core.plan import PLAN_SCHEMA_ID, Plan, plan_json_schema
from clearance.errors import PlanError

Loc = tuple[str | int, ...]
DIGEST = "sha256:" + "ab" * 32

#: a plan that sets every field of every model, so that every field is tried
FULL: dict[str, Any] = {
    "apiVersion": "clearance/v1",
    "kind": "DeploymentPlan",
    "system": {"id": "credit-scoring", "name": "Credit scoring", "owner": "alice", "purpose": "x"},
    "release": {
        "version": "2.4.0",
        "source": "staging",
        "target": "production",
        "change": {
            "system": "servicenow",
            "id": "CHG0042",
            "implementation_plan": "docs/impl.md",
            "backout_plan": "docs/backout.md",
            "test_plan": "docs/test.md",
        },
        "owner": "bob",
        "window": {"start": "2026-11-02T09:00", "end": "2026-11-02T11:00"},
    },
    "components": [
        {
            "name": "scorer",
            "kind": "model",
            "version": "2.4.0",
            "digest": DIGEST,
            "artifact": "models/scorer.onnx",
            "uri": "s3://models/scorer.onnx",
            "source": "mlflow://models/scorer/3",
            "mlflow_alias": "production",
            "deploy": True,
        },
        {"name": "api", "kind": "software", "version": "1.9.3", "digest": DIGEST},
    ],
    "environments": {
        "staging": {"description": "where it was validated", "file": "env/staging.json"},
        "production": {"manifest": {"hosting": "cloud", "runtime": {"python": "3.11.7"}}},
    },
    "interested_parties": [
        {
            "name": "Loan applicants",
            "impact": "review order",
            "consideration": "human review retained",
            "acknowledged_by": "product-owner",
        }
    ],
    "rollback": {"to": "previous", "procedure": "docs/rollback.md", "rehearsal": "r.json"},
    "criteria": [
        {
            "id": "auc",
            "kind": "metric",
            "title": "AUC",
            "applies_to": ["scorer"],
            "controls": ["B.6.2.5-performance"],
            "advisory": False,
            "evidence": "eval/metrics.json",
            "metric": "holdout.auc",
            "op": ">=",
            "threshold": 0.8,
            "higher_is_better": True,
            "for": "scorer",
            "model_digest_field": "model.digest",
        },
        {
            "id": "drop",
            "kind": "metric",
            "metric": "holdout.auc",
            "baseline": "released",
            "max_drop": 0.01,
        },
        {
            "id": "tests",
            "kind": "tests",
            "evidence": "reports/junit.xml",
            "min_tests": 10,
            "max_skipped_ratio": 0.05,
            "max_failures": 0,
        },
        {
            "id": "uat",
            "kind": "evidence",
            "documents": ["docs/uat.md"],
            "min_documents": 1,
            "attested_by": "product-owner",
            "max_age": "30d",
        },
        {
            "id": "env",
            "kind": "environment",
            "source": "staging",
            "target": "production",
            "must_match": ["runtime.python"],
            "acknowledge": {"hosting": "moves to cloud"},
        },
        {"id": "risks", "kind": "risk", "register": "risks.yaml", "categories": ["privacy"]},
        {
            "id": "signoff",
            "kind": "approval",
            "roles": [{"role": "model-risk", "min": 1}],
            "distinct_people": True,
            "forbid_author": True,
            "expires_after": "14d",
        },
        {
            "id": "chg",
            "kind": "change",
            "mode": "blocking",
            "evidence": "change.json",
            "approved_states": ["approved"],
        },
        {"id": "rollback", "kind": "rollback", "rehearsed_within": "30d"},
        {"id": "parties", "kind": "stakeholders", "require_acknowledgement": True},
        {
            "id": "scan",
            "kind": "findings",
            "evidence": ["scan.sarif"],
            "format": "sarif",
            "max": {"critical": 0, "high": 0},
            "unrated": "high",
            "tools": ["bandit"],
            "max_age": "7d",
            "baseline": "released",
            "max_new": {"critical": 0},
            "count_suppressed": False,
        },
    ],
}

#: values a YAML author may write where another type is expected: quoted numbers and
#: booleans, YAML 1.1 booleans, numbers for booleans, blanks, a final newline, nulls
TRIED: list[Any] = [
    "0.7",
    "1",
    "true",
    "yes",
    "30d",
    "released",
    "",
    " ",
    "\u00a0",
    "x\n",
    1,
    0,
    -1,
    1.0,
    2.5,
    True,
    False,
    None,
    [],
    ["x"],
    {},
    {"x": 1},
]


@cache
def validators() -> tuple[jsonschema.protocols.Validator, Any]:
    schema = plan_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema), jsonschema_rs.validator_for(schema)


def loader_accepts(document: dict[str, Any]) -> bool:
    """Whether the loader takes the document's shape: it loads, or its only problems are
    references across the plan, which it checks only once everything else is valid."""
    try:
        validate_plan(copy.deepcopy(document), "plan.yaml")
    except PlanError as exc:
        return all(
            "is not declared under" in p.message or p.message.startswith("duplicate")
            for p in exc.problems
        )
    return True


def verdicts(document: dict[str, Any]) -> dict[str, bool]:
    python, rust = validators()
    found = {"loader": loader_accepts(document), "jsonschema-rs": rust.is_valid(document)}
    if not _ends_in_newline(document):
        # jsonschema matches `pattern` with Python's re.search, where `$` also matches before
        # a final newline; ECMA-262, which JSON Schema specifies, does not (jsonschema-rs).
        found["jsonschema"] = python.is_valid(document)
    return found


def _ends_in_newline(value: Any) -> bool:
    if isinstance(value, str):
        return value.endswith("\n")
    if isinstance(value, dict):
        return any(_ends_in_newline(k) or _ends_in_newline(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_ends_in_newline(v) for v in value)
    return False


def places(value: Any, loc: Loc = ()) -> Iterator[Loc]:
    """The location of every value in a document, containers included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from places(item, (*loc, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from places(item, (*loc, i))
    if loc:
        yield loc


def replaced(document: dict[str, Any], loc: Loc, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(document)
    parent: Any = out
    for part in loc[:-1]:
        parent = parent[part]
    parent[loc[-1]] = value
    return out


def removed(document: dict[str, Any], loc: Loc) -> dict[str, Any]:
    out = copy.deepcopy(document)
    parent: Any = out
    for part in loc[:-1]:
        parent = parent[part]
    del parent[loc[-1]]
    return out


def field_names(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    if model in seen:
        return set()
    seen.add(model)
    names = set()
    for name, info in model.model_fields.items():
        names.add(info.alias or name)
        for inner in _models(info.annotation):
            names |= field_names(inner, seen)
    return names


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()):
        yield from _models(arg)


def test_the_schema_has_an_id_and_is_valid_json_schema() -> None:
    schema = plan_json_schema()
    assert schema["$id"] == PLAN_SCHEMA_ID == "https://clearance.dev/schemas/plan/v1.json"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_the_full_plan_sets_every_field_of_every_model() -> None:
    """So the agreement below tries every field there is."""
    seen: set[type[BaseModel]] = set()
    wanted = field_names(Plan, seen) | {
        f.alias or n for m in CRITERION_MODELS for n, f in m.model_fields.items()
    }
    written = {part for loc in places(FULL) for part in loc if isinstance(part, str)}
    assert wanted - written == set()


def test_the_full_plan_is_accepted_by_all() -> None:
    assert set(verdicts(FULL).values()) == {True}


@pytest.mark.parametrize(
    ("loc", "value", "message"),
    [
        (("criteria", 0, "threshold"), "0.7", 'expected a number, got "0.7"; write it without'),
        (("criteria", 2, "min_tests"), "10", 'expected a whole number, got "10"; write it'),
        (("criteria", 2, "min_tests"), True, "expected a whole number, got true"),
        (("criteria", 0, "threshold"), False, "expected a number, got false"),
        (("components", 0, "deploy"), 1, "expected true or false, got 1"),
        (("components", 0, "deploy"), "yes", 'expected true or false, got "yes"; write it'),
        (("system", "name"), "   ", "must not be empty"),
    ],
)
def test_quoted_and_mistyped_values_are_refused_by_both(loc: Loc, value: Any, message: str) -> None:
    """The issue's `threshold: "0.7"` and its kin: refused by the schema and by the loader,
    whose message says what to write instead."""
    document = replaced(FULL, loc, value)
    assert set(verdicts(document).values()) == {False}
    with pytest.raises(PlanError) as exc:
        validate_plan(document, "plan.yaml")
    assert any(message in p.message for p in exc.value.problems), exc.value.problems


@pytest.mark.parametrize(
    ("loc", "value"),
    [(("criteria", 2, "min_tests"), 10.0), (("criteria", 0, "threshold"), 1)],
)
def test_whole_floats_and_integers_are_numbers_to_both(loc: Loc, value: Any) -> None:
    """JSON has one number type: 10.0 is a whole number and 1 a number, to both."""
    assert set(verdicts(replaced(FULL, loc, value)).values()) == {True}


@pytest.mark.parametrize(
    ("old", "new"), [("apiVersion", "api_version"), ("register", "register_file")]
)
def test_field_names_are_refused_where_the_schema_has_an_alias(old: str, new: str) -> None:
    document = copy.deepcopy(FULL)
    holder = document if old == "apiVersion" else document["criteria"][5]
    holder[new] = holder.pop(old)
    assert set(verdicts(document).values()) == {False}


def test_every_value_tried_in_every_place_gets_one_verdict() -> None:
    """Each value of TRIED in place of each value of the full plan, each key removed, and an
    unknown key added to each mapping: the loader and both validators agree every time."""
    documents: list[tuple[str, dict[str, Any]]] = []
    for loc in places(FULL):
        base, at = alone(loc)
        values = TRIED if _is_scalar(_at(FULL, loc)) else FOR_CONTAINERS
        documents += [(f"{loc} = {value!r}", replaced(base, at, value)) for value in values]
        if isinstance(loc[-1], str):
            documents.append((f"{loc} removed", removed(base, at)))
        if isinstance(_at(FULL, loc), dict):
            documents.append((f"{loc} + Unknown", replaced(base, (*at, "Unknown"), "x")))
    disagreements = []
    for label, document in documents:
        found = verdicts(document)
        if len(set(found.values())) != 1:
            disagreements.append((label, found))
    assert disagreements == []
    assert len(documents) > 1500


def alone(loc: Loc) -> tuple[dict[str, Any], Loc]:
    """The full plan with only the criterion that `loc` is in (none for a place outside the
    criteria), and where `loc` is in it: each criterion is tried on its own, which keeps
    the reference validator's time in bounds (it tries every criterion against every kind)."""
    if loc[0] != "criteria" or len(loc) == 1:
        return ({**FULL, "criteria": []} if loc[0] != "criteria" else FULL), loc
    index = loc[1]
    assert isinstance(index, int)
    return {**FULL, "criteria": [FULL["criteria"][index]]}, ("criteria", 0, *loc[2:])


#: containers are tried with a value of each other type
FOR_CONTAINERS: list[Any] = ["x", 1, True, None, [], {}]


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _at(document: Any, loc: Loc) -> Any:
    for part in loc:
        document = document[part]
    return document


# Unicode White_Space (what the loader strips from text), Python's other isspace()
# characters, and invisible characters that are not White_Space
BLANKS = [
    *"\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000",
    *(chr(c) for c in range(0x2000, 0x200B)),
    *"\x1c\x1d\x1e\x1f\u200b\ufeff\u180e",
]


@pytest.mark.parametrize("char", BLANKS, ids=[f"U+{ord(c):04X}" for c in BLANKS])
def test_blank_text_gets_one_verdict(char: str) -> None:
    """A name made of one such character, alone or twice: blank to both or to neither."""
    for text in (char, char * 2, f"{char}x{char}"):
        found = verdicts(replaced(FULL, ("system", "name"), text))
        assert len(set(found.values())) == 1, (text, found)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
    | st.sampled_from(["0.7", "30d", DIGEST, "released", "metric", "clearance/v1", "staging"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.text(max_size=4) | st.sampled_from(["id", "kind", "threshold", "baseline", "role"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(loc=st.sampled_from(list(places(FULL))), value=json_values)
def test_any_json_value_anywhere_gets_one_verdict(loc: Loc, value: Any) -> None:
    found = verdicts(replaced(FULL, loc, value))
    assert len(set(found.values())) == 1, found
