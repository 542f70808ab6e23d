"""The `clearance init` templates: valid plans, all criterion kinds, controls that exist,
and the small files each plan names shipped alongside it."""

import json
from importlib.resources import files

import pytest
import yaml

from clearance.core.criteria import KINDS
from clearance.core.loader import parse_plan
from clearance.errors import UsageError
from clearance.templates import TEMPLATES, template_files

# Files a plan names that the user's pipeline produces, so no template ships them.
PRODUCED = {
    "eval/metrics.json",
    "reports/junit.xml",
    "env/staging.json",
    "models/model.pkl",
    "models/detector.onnx",
    "reports/bandit.sarif",
    "reports/pip-audit.json",
    "reports/semgrep.sarif",
}
CONTROL_BY_KIND = {
    "metric": "B.6.2.5-performance",
    "tests": "B.6.2.5-verification-validation",
    "approval": "B.6.2.5-approvals",
    "environment": "B.6.2.5-environments",
    "rollback": "rollback-versioning",
    "change": "change-management",
    "risk": "risk-mitigations",
    "stakeholders": "B.6.2.5-interested-parties",
    "findings": "B.6.2.5-verification-validation",
}


def _requirement_ids() -> set[str]:
    text = (files("clearance") / "data/controls/iso42001-deployment.yaml").read_text()
    data = yaml.safe_load(text)
    return {r["id"] for c in data["controls"] for r in c.get("requirements", [])}


def _plan(name: str):
    return parse_plan(template_files(name)["plan.yaml"].decode(), f"{name}/plan.yaml")


def test_there_are_templates_with_descriptions():
    assert {"tabular-classifier", "llm-app"} <= set(TEMPLATES)
    assert all(description.strip() for description in TEMPLATES.values())


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_plan_is_valid(name):
    """Every template's plan.yaml passes parse_plan."""
    assert _plan(name).system.owner


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_plan_uses_every_criterion_kind(name):
    assert {c.kind for c in _plan(name).criteria} == set(KINDS)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_criterion_maps_to_known_controls(name):
    known = _requirement_ids()
    for criterion in _plan(name).criteria:
        assert criterion.controls, criterion.id
        assert set(criterion.controls) <= known, criterion.id


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_controls_follow_the_default_mapping_per_kind(name):
    for criterion in _plan(name).criteria:
        if criterion.kind in CONTROL_BY_KIND:
            assert CONTROL_BY_KIND[criterion.kind] in criterion.controls, criterion.id
    uat = _plan(name).criterion("uat")
    assert uat.controls == ["B.6.2.5-user-testing"]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_files_the_plan_names_ship_with_the_template(name):
    plan = _plan(name)
    shipped = set(template_files(name))
    named = {f.path for c in plan.criteria for f in c.named_files(plan)}
    named |= {c.artifact for c in plan.components if c.artifact}
    named |= {e.file for e in plan.environments.values() if e.file}
    assert named - PRODUCED <= shipped
    assert {"env/production.yaml", "risks.yaml", "docs/rollback.md"} <= shipped


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_data_files_parse(name):
    for path, content in template_files(name).items():
        if path.endswith(".json"):
            assert isinstance(json.loads(content), dict), path
        elif path.endswith((".yaml", ".yml")):
            assert isinstance(yaml.safe_load(content), dict), path


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_versions_are_quoted_strings(name):
    plan = _plan(name)
    assert isinstance(plan.release.version, str)
    raw = yaml.safe_load(template_files(name)["plan.yaml"])
    assert isinstance(raw["release"]["version"], str)
    assert all(isinstance(c["version"], str) for c in raw["components"])


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_risk_register_mitigations_are_verified(name):
    register = yaml.safe_load(template_files(name)["risks.yaml"])
    categories = set(_plan(name).criterion("risks").categories)
    assert categories <= {r["category"] for r in register["risks"]}
    for risk in register["risks"]:
        assert risk["mitigations"]
        assert all(m["status"] == "verified" and m["evidence"] for m in risk["mitigations"])


def test_template_files_are_relative_posix_paths_without_caches():
    for name in TEMPLATES:
        for path in template_files(name):
            assert not path.startswith("/") and "\\" not in path
            assert "__pycache__" not in path and not path.endswith(".pyc")


def test_unknown_template_is_a_usage_error_naming_the_known_ones():
    with pytest.raises(UsageError) as caught:
        template_files("nope")
    assert "nope" in str(caught.value)
    for name in TEMPLATES:
        assert name in str(caught.value)
