"""Metrics tied to the model they were measured on: the value of an MLflow evidence document,
and the `for: COMPONENT` rule, which fails a metric measured on another model than the
component this candidate releases, naming both digests."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from clearance.core.criteria import MetricCriterion
from clearance.core.evaluators._common import (
    PathFound,
    criterion_field,
    fix_plan,
    lookup,
    make_result,
)
from clearance.core.results import EvaluationContext, EvidenceItem, NextAction, Result, Status

DEFAULT_FIELD = "model_digest"
_HEX = re.compile(r"(?:sha256:)?([0-9a-fA-F]{64})")


def document_value(content: Any) -> PathFound | str:
    """The value an MLflow evidence document recorded, or why there is none."""
    if not isinstance(content, Mapping) or "value" not in content:
        return "it is not an MLflow metric document (no value); check it again to re-read it"
    return PathFound(content["value"])


def measured_on(
    criterion: MetricCriterion,
    ctx: EvaluationContext,
    item: EvidenceItem,
    path: str,
    from_mlflow: bool,
) -> Result | None:
    """None when the criterion names no component or the metric was measured on its digest;
    else the FAILED result saying on what it was measured and what this candidate has."""
    component = criterion.for_
    if component is None:
        return None
    wanted = ctx.components.get(component)
    name = criterion.metric
    rerun = [NextAction("rerun", criterion.id, path=path), NextAction("waive", criterion.id)]
    if wanted is None:
        reason = f'component "{component}" is not part of this candidate; fix "for" in the plan'
        fix = [fix_plan(criterion.id, criterion_field(criterion.id, "for"))]
        return make_result(criterion, Status.ERROR, reason, None, None, [item], fix)
    expected = {"for": component, "model_digest": wanted}
    said = _said_mlflow(item.content) if from_mlflow else _said_file(criterion, item.content)
    if isinstance(said, str):
        reason = f"{name} in {path} cannot be tied to component {component} ({wanted}): {said}"
        return make_result(criterion, Status.FAILED, reason, None, expected, [item], rerun)
    if wanted.lower() in said:
        return None
    shown = " or ".join(said)
    reason = (
        f"{name} in {path} was measured on model {shown}, but component {component} of this "
        f"candidate is {wanted}; evaluate this candidate's model and attach its metrics"
    )
    observed = {"model_digest": said[0] if len(said) == 1 else said}
    return make_result(criterion, Status.FAILED, reason, observed, expected, [item], rerun)


def _said_file(criterion: MetricCriterion, content: Any) -> list[str] | str:
    field = criterion.model_digest_field or DEFAULT_FIELD
    found = lookup(content, field) if isinstance(content, Mapping | list) else None
    if not isinstance(found, PathFound):
        return (
            f'the file does not say which model it was measured on (no "{field}"); write the '
            "sha256 digest of the evaluated model there, or name the field with "
            "model_digest_field"
        )
    match = _HEX.fullmatch(str(found.value).strip())
    if match is None:
        return (
            f'its "{field}" is {str(found.value)[:80]!r}, not a sha256 digest; write the digest '
            "of the evaluated model (sha256:<hex>)"
        )
    return ["sha256:" + match[1].lower()]


def _said_mlflow(content: Any) -> list[str] | str:
    models = content.get("measured_on") if isinstance(content, Mapping) else None
    if not isinstance(models, list):
        return "the MLflow document does not list the models its run logged; check again"
    digests = [str(m.get("digest", "")).lower() for m in models if isinstance(m, Mapping)]
    if not digests:
        run = content.get("run_id") if isinstance(content, Mapping) else None
        return (
            f"MLflow run {run} registered no model version, so nothing says which model it "
            "measured; register the model from the run that logged the metric"
        )
    return digests
