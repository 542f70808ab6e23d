"""The demo's plan.yaml: the template adapted, valid, and set to what the demo model reaches."""

import pytest

from clearance.core.criteria import KINDS
from clearance.core.loader import parse_plan
from clearance.demo import environments
from clearance.demo.plan import (
    ACCURACY_GAP_CEILING,
    AUC_FLOOR,
    MIN_TESTS,
    OWNER,
    TemplateChanged,
    demo_plan_text,
    replace_block,
    set_in_criterion,
)

CAPTURED = {
    "name": "staging",
    "hosting": "unknown",
    "runtime": {"python": "3.11.7", "os": "linux"},
    "packages": {"scikit-learn": "1.5.2", "numpy": "2.0.1"},
    "hardware": {"cpu": "8 cores", "accelerator": "none"},
}


def _demo_plan():
    staging, _ = environments.complete_staging(CAPTURED)
    production = environments.production_from(staging)
    acknowledge = environments.acknowledgements(staging, production)
    return parse_plan(demo_plan_text(acknowledge), "plan.yaml"), acknowledge


def test_demo_plan_is_valid_and_uses_every_kind():
    plan, _ = _demo_plan()
    assert {c.kind for c in plan.criteria} == set(KINDS)
    assert plan.system.id == "diabetes-progression"
    assert plan.system.owner == OWNER


def test_demo_plan_sets_the_demo_thresholds():
    plan, _ = _demo_plan()
    auc = plan.criterion("auc")
    assert (auc.metric, auc.op, auc.threshold) == ("holdout.auc", ">=", AUC_FLOOR)
    fairness = plan.criterion("fairness")
    assert (fairness.metric, fairness.op, fairness.threshold) == (
        "fairness.accuracy_gap", "<=", ACCURACY_GAP_CEILING,
    )  # fmt: skip
    regression = plan.criterion("no-regression")
    assert (regression.baseline, regression.max_drop) == ("released", 0.02)
    assert plan.criterion("tests").min_tests == MIN_TESTS


def test_demo_plan_names_the_demo_files():
    plan, _ = _demo_plan()
    named = {f.path for c in plan.criteria for f in c.named_files(plan)}
    assert {
        "eval/metrics.json", "reports/junit.xml", "env/staging.json", "env/production.yaml",
        "risks.yaml", "change/CHG0042.json", "docs/rollback.md", "docs/rollback-rehearsal.json",
    } <= named  # fmt: skip
    assert {c.artifact for c in plan.components} == {"models/model.pkl", "service/score.py"}


def test_uat_names_no_document_and_wants_the_product_owner():
    plan, _ = _demo_plan()
    uat = plan.criterion("uat")
    assert uat.documents == []
    assert uat.attested_by == "product-owner"


def test_sign_offs_need_model_risk_and_eng_manager_from_other_people():
    plan, _ = _demo_plan()
    signoff = plan.criterion("signoff")
    assert {(r.role, r.min) for r in signoff.roles} == {("model-risk", 1), ("eng-manager", 1)}
    assert signoff.distinct_people and signoff.forbid_author
    assert plan.rollback is not None and plan.rollback.to == "none"


def test_every_environment_difference_is_acknowledged():
    plan, acknowledge = _demo_plan()
    env = plan.criterion("environments")
    assert env.must_match == list(environments.MUST_MATCH)
    assert env.acknowledge == acknowledge
    assert {"hosting", "provider", "region"} <= set(env.acknowledge)


def test_template_drift_is_reported():
    with pytest.raises(TemplateChanged):
        replace_block("a: 1\n", "system:", "system: {}\n")
    with pytest.raises(TemplateChanged):
        set_in_criterion("criteria:\n  - id: auc\n    kind: metric\n", "auc", "threshold", "1")


def test_replace_block_keeps_what_follows():
    text = "a:\n  b: 1\n  c: 2\n\n# next\nd: 3\n"
    assert replace_block(text, "a:", "a: {}\n") == "a: {}\n\n# next\nd: 3\n"
