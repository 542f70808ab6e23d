"""Metrics tied to the model they were measured on (`for: COMPONENT`), and MLflow sources as
a plan writes them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tests.core.core_testkit import NOW, item, make_plan

from clearance.core.evaluators import EVALUATORS
from clearance.core.results import EvaluationContext, ReleasedCandidate
from clearance.core.sources import MlflowRef, is_source, parse_mlflow, parse_model_source

V100 = "sha256:" + "10" * 32
V110 = "sha256:" + "11" * 32
NO_REGRESSION = {
    "id": "no-regression",
    "kind": "metric",
    "evidence": "eval/metrics.json",
    "metric": "holdout.auc",
    "baseline": "released",
    "max_drop": 0.01,
    "for": "scorer",
}


def evaluate(criterion: dict[str, Any], content: Any, component: str = V110, **ctx: Any) -> Any:
    plan = make_plan([criterion])
    crit = plan.criteria[0]
    context = EvaluationContext(
        plan=plan,
        candidate="sha256:" + "c" * 64,
        now=NOW,
        evidence={crit.id: [item(criterion.get("evidence", "m.json"), content)]},
        components={"scorer": component},
        **ctx,
    )
    return EVALUATORS["metric"](crit, context)


def released_100() -> ReleasedCandidate:
    return ReleasedCandidate(
        version="1.0.0",
        candidate="sha256:" + "1" * 64,
        released_at=NOW - timedelta(days=30),
        metrics={"holdout.auc": 0.9},
    )


def test_the_issue_case_old_metrics_file_cannot_pass_for_the_new_model() -> None:
    """The 1.1.0 candidate with the 1.0.0 metrics file, whose own model field says 1.0.0's
    digest: no-regression fails and names both digests."""
    content = {"holdout": {"auc": 0.9}, "model": "1.0.0", "model_digest": V100}
    result = evaluate(NO_REGRESSION, content, released=released_100())
    assert result.status.value == "failed"
    assert V100 in result.reason and V110 in result.reason
    assert "was measured on model" in result.reason
    assert result.expected == {"for": "scorer", "model_digest": V110}
    assert [a.kind for a in result.next] == ["rerun", "waive"]


def test_the_metrics_file_of_this_model_passes() -> None:
    content = {"holdout": {"auc": 0.9}, "model_digest": V110.upper().replace("SHA256:", "")}
    assert evaluate(NO_REGRESSION, content, released=released_100()).status.value == "passed"


def test_a_file_that_does_not_say_its_model_fails_with_what_to_write() -> None:
    result = evaluate(NO_REGRESSION, {"holdout": {"auc": 0.9}})
    assert result.status.value == "failed"
    assert 'no "model_digest"' in result.reason and V110 in result.reason


def test_the_field_is_named_by_the_criterion() -> None:
    criterion = {**NO_REGRESSION, "model_digest_field": "model.sha"}
    content = {"holdout": {"auc": 0.9}, "model": {"sha": V110}, "model_digest": V100}
    assert evaluate(criterion, content).status.value == "passed"


def test_a_version_is_not_a_digest() -> None:
    result = evaluate(NO_REGRESSION, {"holdout": {"auc": 0.9}, "model_digest": "1.1.0"})
    assert result.status.value == "failed" and "not a sha256 digest" in result.reason


def test_without_for_nothing_is_asked_of_the_file() -> None:
    criterion = {k: v for k, v in NO_REGRESSION.items() if k != "for"}
    assert evaluate(criterion, {"holdout": {"auc": 0.9}}).status.value == "passed"


def test_mlflow_documents_say_it_through_the_models_their_run_logged() -> None:
    criterion = {**NO_REGRESSION, "evidence": "mlflow://models/scorer/2#auc"}
    doc = {"value": 0.9, "run_id": "r1", "measured_on": [{"name": "scorer", "digest": V100}]}
    result = evaluate(criterion, doc)
    assert result.status.value == "failed" and V100 in result.reason and V110 in result.reason
    doc["measured_on"].append({"name": "scorer", "digest": V110})
    passed = evaluate(criterion, doc)
    assert passed.status.value == "passed" and passed.observed["value"] == 0.9


def test_an_undeclared_component_is_a_plan_problem() -> None:
    from clearance.core.plan import reference_problems

    plan = make_plan([{**NO_REGRESSION, "for": "nosuch"}])
    assert any(loc == ("criteria", 0, "for") for loc, _ in reference_problems(plan))


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "mlflow://runs/abc123#holdout_auc",
            MlflowRef("run", run_id="abc123", metric="holdout_auc"),
        ),
        ("mlflow://runs/abc123", MlflowRef("run", run_id="abc123")),
        (
            "mlflow://models/helpdesk/3#auc",
            MlflowRef("model", name="helpdesk", version="3", metric="auc"),
        ),
        (
            "mlflow://models/help%2Fdesk@production",
            MlflowRef("model", name="help/desk", alias="production"),
        ),
        ("MLFLOW://runs/x#holdout.auc", MlflowRef("run", run_id="x", metric="holdout.auc")),
    ],
)
def test_mlflow_uris_parse(uri: str, expected: MlflowRef) -> None:
    assert is_source(uri) and parse_mlflow(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "mlflow://runs/",
        "mlflow://runs/a/b",
        "mlflow://models/x",
        "mlflow://models/x/v1",
        "mlflow://runs/a#",
        "mlflow://experiments/1",
    ],
)
def test_malformed_mlflow_uris_say_the_forms(uri: str) -> None:
    with pytest.raises(ValueError, match="mlflow://"):
        parse_mlflow(uri)


def test_a_component_source_names_a_model_version_only() -> None:
    assert parse_model_source("mlflow://models/m@prod").alias == "prod"
    for uri in ("mlflow://runs/abc", "mlflow://models/m/1#auc"):
        with pytest.raises(ValueError, match="not a registered model version"):
            parse_model_source(uri)
    assert not is_source("eval/metrics.json")
