"""Plan loading: every problem as file:line:column with the field and what is expected."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.core.loader import parse_plan
from clearance.errors import PlanError

VALID = textwrap.dedent(
    """\
    apiVersion: clearance/v1
    kind: DeploymentPlan
    system: {id: credit-scoring, name: Credit scoring, owner: alice@example.com}
    release:
      version: "2.4.0"
      source: staging
      target: production
    components:
      - {name: scorer, kind: model, version: "2.4.0", artifact: models/scorer.onnx}
    environments:
      staging: {file: env/staging.json}
      production: {manifest: {hosting: cloud}}
    criteria:
      - id: auc
        kind: metric
        evidence: eval/metrics.json
        metric: holdout.auc
        threshold: 0.85
      - {id: signoff, kind: approval, roles: [{role: model-risk}]}
    """
)


def problems(text: str) -> list[str]:
    with pytest.raises(PlanError) as info:
        parse_plan(text, "plan.yaml")
    return [str(p) for p in info.value.problems]


def test_valid_plan_parses() -> None:
    plan = parse_plan(VALID, "plan.yaml")
    assert [c.id for c in plan.criteria] == ["auc", "signoff"]
    assert plan.owner == "alice@example.com"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "threshold: 0.85",
            "threshold: high",
            'plan.yaml:18:16: criteria[0].threshold: expected a number, got "high"',
        ),
        (
            "threshold: 0.85",
            "thresold: 0.85",
            'plan.yaml:18:5: criteria[0].thresold: unknown field "thresold"; '
            'did you mean "threshold"?',
        ),
        (
            "kind: metric",
            "kind: metrik",
            'plan.yaml:14:5: criteria[0]: unknown kind "metrik"; expected one of: metric, tests, '
            "evidence, environment, risk, approval, change, rollback, stakeholders, findings",
        ),
        (
            'version: "2.4.0"\n  source',
            "version: 2.4\n  source",
            "plan.yaml:5:12: release.version: expected text, got 2.4; quote it",
        ),
        (
            "{role: model-risk}",
            "{role: model-risk, min: 0}",
            "criteria[1].roles[0].min: expected a number >= 1, got 0",
        ),
        (
            "id: auc",
            "id: Auc Score",
            "criteria[0].id: expected lower-case letters, digits",
        ),
        (
            "artifact: models/scorer.onnx",
            "digest: abc",
            "components[0].digest: expected sha256: followed by 64 lower-case hex digits",
        ),
        (
            "name: scorer, kind: model",
            "name: scorer, kind: weights",
            "components[0].kind: expected 'model', 'software', 'config' or 'data', got \"weights\"",
        ),
        (
            "    threshold: 0.85\n",
            "",
            "criteria[0]: give a threshold, or baseline: released with max_drop",
        ),
        (
            "apiVersion: clearance/v1\n",
            "",
            "plan.yaml:1:1: apiVersion: required; add `apiVersion:`",
        ),
        (
            "target: production",
            "target: prod",
            'plan.yaml:7:11: release.target: environment "prod" is not declared under '
            "environments (production, staging); add it there",
        ),
        (
            "{id: signoff, kind: approval",
            "{id: auc, kind: approval",
            'plan.yaml:19:10: criteria[1].id: duplicate criterion id "auc" (also criteria[0])',
        ),
        (
            "{role: model-risk}]}",
            "{role: model-risk}], applies_to: [api]}",
            'criteria[1].applies_to[0]: component "api" is not declared under components (scorer)',
        ),
        (
            "system: {id",
            "system: {id: x, id",
            'plan.yaml:3:17: duplicate key "id"',
        ),
        (
            "staging: {file: env/staging.json}",
            "staging: {file: env/staging.json, manifest: {a: 1}}",
            "environments.staging: give the manifest inline or as a file, not both",
        ),
    ],
)
def test_problem_messages(old: str, new: str, expected: str) -> None:
    assert old in VALID
    found = problems(VALID.replace(old, new, 1))
    assert any(expected in p for p in found), found


def test_every_problem_is_reported_in_file_order() -> None:
    text = VALID.replace("threshold: 0.85", "threshold: high").replace("kind: model", "kind: x")
    found = problems(text)
    assert len(found) == 2
    assert found[0].startswith("plan.yaml:9:") and found[1].startswith("plan.yaml:18:")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "plan.yaml:1:1: the file is empty; start from `clearance init`"),
        ("- a\n- b\n", "a plan is a mapping"),
        ("a: [1, 2\nb: 3\n", "plan.yaml:2:2: YAML syntax error"),
        ("a: b\n---\nc: d\n", "YAML syntax error"),
        ("? [a]\n: b\n", "mapping keys must be plain text"),
        ("&a [*a]", "nested deeper than 64 levels"),
        ("=", "unsupported YAML tag tag:yaml.org,2002:value"),
        ("a: !!python/object:os.system {}", "unsupported YAML tag tag:yaml.org,2002:python/"),
        ("a: !custom x", "plan.yaml:1:4: unsupported YAML tag !custom"),
        ("a: !!binary aGVsbG8=", "unsupported YAML tag"),
        ("a: .nan", "plan.yaml:1:4: a: nan is not a finite number"),
        ("a: [1, 99999999999999999999]", "plan.yaml:1:8: a[1]: 99999999999999999999 is too large"),
    ],
)
def test_unusable_files(text: str, expected: str) -> None:
    assert any(expected in p for p in problems(text))


def test_yaml_bomb_is_refused_quickly() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(8):
        prev, name = chr(97 + i), chr(98 + i)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    found = problems("\n".join(lines))
    assert "more than 100,000 values after expanding aliases" in found[0]


def test_dates_stay_text() -> None:
    """YAML timestamps are kept as written, so text fields accept dates."""
    text = VALID.replace(
        "  target: production\n",
        "  target: production\n  window: {start: 2026-12-01, end: 2026-12-02}\n",
    )
    plan = parse_plan(text, "plan.yaml")
    assert plan.release.window is not None and plan.release.window.start == "2026-12-01"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_gives_plan_error_or_plan(text: str) -> None:
    """Whatever the bytes, the loader answers with a plan or a PlanError, never a crash."""
    try:
        parse_plan(text, "plan.yaml")
    except PlanError as exc:
        assert exc.problems and all(str(p).startswith("plan.yaml") for p in exc.problems)


_scalars = st.one_of(
    st.integers(), st.floats(allow_nan=False), st.text(max_size=10), st.booleans(), st.none()
)
_trees = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(_trees)
def test_arbitrary_yaml_documents_are_answered_cleanly(data: object) -> None:
    text = yaml.safe_dump({"apiVersion": "clearance/v1", "kind": "DeploymentPlan", "system": data})
    try:
        parse_plan(text, "plan.yaml")
    except PlanError as exc:
        assert all(p.line is not None for p in exc.problems)
