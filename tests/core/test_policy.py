"""The organisation policy: read with positions, merged into plans, deciding who may waive."""

from __future__ import annotations

import json
import textwrap

import pytest
import yaml
from core_testkit import make_plan
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.core.criteria import EnvironmentCriterion
from clearance.core.loader import parse_plan
from clearance.core.policy import (
    Policy,
    merge_policy,
    parse_policy,
    policy_criteria_ids,
    policy_digest,
    waivable,
    waiver_roles,
    yaml_positions,
)
from clearance.errors import PlanError

POLICY = textwrap.dedent(
    """\
    apiVersion: clearance/v1
    kind: Policy
    description: Minimum criteria for every release
    targets:
      production:
        criteria:
          - {id: tests, kind: tests, min_tests: 50}
          - {id: signoff, kind: approval, roles: [{role: model-risk}]}
          - {id: env, kind: environment, must_match: [runtime.python]}
        waivers:
          - {roles: [cto], criteria: [tests]}
          - {roles: [model-risk, cto], criteria: ["kind:metric"]}
      staging:
        criteria:
          - {id: smoke, kind: tests}
        waivers:
          - {roles: [eng-lead], criteria: ["*"]}
    """
)

PLAN = textwrap.dedent(
    """\
    apiVersion: clearance/v1
    kind: DeploymentPlan
    system: {id: credit-scoring, name: Credit scoring, owner: alice@example.com}
    release: {version: "2.4.0", source: staging, target: production}
    components:
      - {name: scorer, kind: model, version: "2.4.0", artifact: models/scorer.onnx}
    environments: {staging: {}, production: {}}
    criteria:
      - {id: auc, kind: metric, metric: holdout.auc, threshold: 0.85}
      - {id: tests, kind: tests, min_tests: 1}
    """
)


def policy_problems(text: str) -> list[str]:
    with pytest.raises(PlanError) as info:
        parse_policy(text, "policy.yaml")
    return [str(p) for p in info.value.problems]


def test_valid_policy_parses() -> None:
    policy = parse_policy(POLICY, "policy.yaml")
    assert [c.id for c in policy.targets["production"].criteria] == ["tests", "signoff", "env"]
    assert policy.targets["staging"].waivers[0].criteria == ["*"]
    assert policy.description == "Minimum criteria for every release"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (  # wrong type
            "min_tests: 50",
            "min_tests: lots",
            "policy.yaml:7:45: targets.production.criteria[0].min_tests: expected a whole number, "
            'got "lots"',
        ),
        (  # unknown kind
            "{id: smoke, kind: tests}",
            "{id: smoke, kind: smoke-test}",
            'policy.yaml:15:9: targets.staging.criteria[0]: unknown kind "smoke-test"; '
            "expected one of: metric, tests",
        ),
        (  # duplicate id within a target
            "{id: env, kind",
            "{id: tests, kind",
            'policy.yaml:9:14: targets.production.criteria[2].id: duplicate criterion id "tests" '
            "(also targets.production.criteria[0]); ids must be unique within a target",
        ),
        (  # unknown field in a criterion, with the kind's own fields suggested
            "min_tests: 50",
            "min_test: 50",
            'policy.yaml:7:34: targets.production.criteria[0].min_test: unknown field "min_test"; '
            'did you mean "min_tests"?',
        ),
        (
            "description:",
            "descripton:",
            'policy.yaml:3:1: descripton: unknown field "descripton"; did you mean "description"?',
        ),
        (
            "    waivers:\n      - {roles: [cto]",
            "    waiver:\n      - {roles: [cto]",
            'policy.yaml:10:5: targets.production.waiver: unknown field "waiver"; '
            'did you mean "waivers"?',
        ),
        (
            "{role: model-risk}",
            "{rol: model-risk}",
            'targets.production.criteria[1].roles[0].rol: unknown field "rol"; '
            'did you mean "role"?',
        ),
        (
            '"kind:metric"',
            '"kind:metrics"',
            'policy.yaml:12:47: targets.production.waivers[1].criteria[0]: unknown kind "metrics"',
        ),
        (
            "criteria: [tests]",
            "criteria: [Tests!]",
            "targets.production.waivers[0].criteria[0]: expected a criterion id, kind:KIND or *, "
            'got "Tests!"',
        ),
        (
            "roles: [cto]",
            "roles: []",
            "policy.yaml:11:17: targets.production.waivers[0].roles: needs at least 1 item(s)",
        ),
        (
            "kind: Policy",
            "kind: DeploymentPlan",
            "policy.yaml:2:7: kind: expected 'Policy', got \"DeploymentPlan\"",
        ),
        (
            "  staging:\n",
            "  Staging:\n",
            "policy.yaml:13:3: targets.Staging: expected lower-case letters",
        ),
        (
            "{id: smoke, kind: tests}",
            "{id: smoke, kind: tests, applies_to: [scorer]}",
            "policy.yaml:15:46: targets.staging.criteria[0].applies_to: a policy criterion "
            "applies to every component",
        ),
        (
            "min_tests: 50",
            "min_tests: 99999999999999999999",
            "policy.yaml:7:45: targets.production.criteria[0].min_tests: 99999999999999999999 is "
            "too large",
        ),
    ],
)
def test_policy_problems_name_file_line_column_and_field(old: str, new: str, expected: str) -> None:
    assert old in POLICY
    found = policy_problems(POLICY.replace(old, new, 1))
    assert any(expected in p for p in found), found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "policy.yaml:1:1: the file is empty; a policy starts with"),
        ("- a\n", "policy.yaml:1:1: a policy is a mapping"),
        ("a: [1, 2\nb: 3\n", "policy.yaml:2:2: YAML syntax error"),
        ("a: !custom x", "policy.yaml:1:4: unsupported YAML tag !custom"),
        ("apiVersion: clearance/v1\n", "policy.yaml:1:1: kind: required; add `kind:`"),
    ],
)
def test_unusable_policy_files_are_refused_with_a_position(text: str, expected: str) -> None:
    assert any(expected in p for p in policy_problems(text))


def test_every_policy_problem_is_reported_in_file_order() -> None:
    text = POLICY.replace("min_tests: 50", "min_tests: lots").replace("[tests]", "[Tests!]")
    found = policy_problems(text)
    assert [p.split(":")[1] for p in found] == ["7", "11"]


# -- merge ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected_ids"),
    [
        ("production", ["tests", "signoff", "env", "auc"]),
        ("staging", ["smoke", "auc"]),
        ("qa", ["auc"]),  # no policy for this target: the plan's own criteria only
    ],
)
def test_merge_adds_the_policy_criteria_of_the_plans_target_only_policy_first(
    target: str, expected_ids: list[str]
) -> None:
    policy = parse_policy(POLICY, "policy.yaml")
    plan = make_plan(
        [{"id": "auc", "kind": "metric", "metric": "holdout.auc", "threshold": 0.85}],
        release={"target": target},
        environments={"staging": {}, "production": {}, "qa": {}},
    )
    merged = merge_policy(plan, policy, policy_digest(policy))
    assert [c.id for c in merged.criteria] == expected_ids
    assert policy_criteria_ids(policy, target) == set(expected_ids) - {"auc"}
    assert [c.id for c in plan.criteria] == ["auc"]  # the plan itself is left as it was


def test_merge_without_a_policy_returns_the_plan_unchanged() -> None:
    plan = make_plan([{"id": "smoke", "kind": "tests"}])
    assert merge_policy(plan, None, None) is plan
    assert policy_criteria_ids(None, "production") == set()


def test_policy_environment_criteria_default_to_the_plans_source_and_target() -> None:
    policy = parse_policy(POLICY, "policy.yaml")
    merged = merge_policy(make_plan(), policy, None)
    env = merged.criterion("env")
    assert isinstance(env, EnvironmentCriterion)
    assert env.environments(merged) == ("staging", "production")


def test_a_plan_redefining_a_policy_criterion_fails_naming_the_rule_and_the_policy() -> None:
    policy = parse_policy(POLICY, "policy.yaml")
    digest = policy_digest(policy)
    plan = parse_plan(PLAN, "plan.yaml")
    with pytest.raises(PlanError) as info:
        merge_policy(
            plan, policy, digest, filename="plan.yaml", positions=yaml_positions(PLAN, "plan.yaml")
        )
    assert [str(p) for p in info.value.problems] == [
        f'plan.yaml:10:10: criteria[1].id: "tests" is set by policy rule '
        f"targets.production.criteria[0] (policy {digest[:19]}…); a plan cannot redefine, "
        "weaken or remove it — delete it from the plan, the policy's version applies"
    ]


def test_without_positions_the_redefinition_is_still_named_with_its_field() -> None:
    policy = parse_policy(POLICY, "policy.yaml")
    plan = make_plan([{"id": "signoff", "kind": "approval", "roles": [{"role": "cto"}]}])
    with pytest.raises(PlanError) as info:
        merge_policy(plan, policy, None)  # the digest is computed when not given
    assert str(info.value).startswith(
        'plan.yaml: criteria[0].id: "signoff" is set by policy rule '
        f"targets.production.criteria[1] (policy {policy_digest(policy)[:19]}…)"
    )


def test_a_policy_environment_the_plan_does_not_declare_is_named() -> None:
    text = POLICY.replace("must_match: [runtime.python]", "source: qa")
    policy = parse_policy(text, "policy.yaml")
    with pytest.raises(PlanError) as info:
        merge_policy(make_plan(), policy, "sha256:" + "ab" * 32)
    assert 'environment "qa" is named by policy rule targets.production.criteria[2].source' in (
        str(info.value)
    )


# -- waivers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "criterion_id", "kind", "roles"),
    [
        ("production", "tests", "tests", {"cto"}),  # by id
        ("production", "auc", "metric", {"model-risk", "cto"}),  # by kind pattern
        ("production", "drift", "metric", {"model-risk", "cto"}),
        ("production", "uat", "evidence", set()),  # no rule matches
        ("staging", "uat", "evidence", {"eng-lead"}),  # `*`
        ("staging", "plan-signoff", "approval", {"eng-lead"}),  # the plan's own approval
        ("qa", "tests", "tests", set()),  # no policy for the target
        (None, "tests", "tests", set()),
    ],
)
def test_waiver_roles_by_id_kind_pattern_and_star(
    target: str | None, criterion_id: str, kind: str, roles: set[str]
) -> None:
    policy = parse_policy(POLICY, "policy.yaml")
    assert waiver_roles(policy, target, criterion_id, kind) == roles
    assert waivable(policy, target, criterion_id, kind) is bool(roles)


@pytest.mark.parametrize("pattern", ["signoff", "kind:approval", "*"])
def test_policy_approval_criteria_cannot_be_waived_whatever_the_rules_say(pattern: str) -> None:
    text = POLICY.replace("criteria: [tests]", f'criteria: [tests, "{pattern}"]')
    policy = parse_policy(text, "policy.yaml")
    assert waiver_roles(policy, "production", "signoff", "approval") == set()
    assert not waivable(policy, "production", "signoff", "approval")
    assert waiver_roles(policy, "production", "tests", "tests") == {"cto"}


@pytest.mark.parametrize(("criterion_id", "kind"), [("tests", "tests"), ("auc", "metric")])
def test_without_a_policy_nobody_may_waive(criterion_id: str, kind: str) -> None:
    assert waiver_roles(None, "production", criterion_id, kind) == set()
    assert not waivable(None, "production", criterion_id, kind)


# -- digest ---------------------------------------------------------------------------------

REORDERED = textwrap.dedent(
    """\
    # the same policy: other key order, block style, defaults written out, comments
    targets:
      staging:
        waivers: [{criteria: ["*"], roles: [eng-lead]}]
        criteria:
          - kind: tests
            id: smoke
            min_tests: 1
      production:
        waivers:
          - {criteria: [tests], roles: [cto]}
          - {criteria: ["kind:metric"], roles: [model-risk, cto]}
        criteria:
          - {kind: tests, id: tests, min_tests: 50}
          - id: signoff
            kind: approval
            roles:
              - role: model-risk
                min: 1
          - {kind: environment, id: env, must_match: [runtime.python]}
    description: Minimum criteria for every release
    kind: Policy
    apiVersion: clearance/v1
    """
)


@pytest.mark.parametrize(
    "text",
    [
        REORDERED,
        json.dumps(yaml.safe_load(POLICY), indent=4, sort_keys=True),
        POLICY.replace("{id: smoke, kind: tests}", "{id: smoke, kind: tests, advisory: false}"),
    ],
)
def test_digest_is_stable_across_key_order_and_formatting(text: str) -> None:
    original = policy_digest(parse_policy(POLICY, "policy.yaml"))
    assert policy_digest(parse_policy(text, "other.yaml")) == original
    assert original.startswith("sha256:") and len(original) == 71


def test_digest_changes_with_the_content() -> None:
    original = policy_digest(parse_policy(POLICY, "policy.yaml"))
    changed = POLICY.replace("min_tests: 50", "min_tests: 49")
    assert policy_digest(parse_policy(changed, "policy.yaml")) != original


def test_policy_is_frozen_and_serialised_with_its_alias() -> None:
    policy = parse_policy(POLICY, "policy.yaml")
    assert policy.model_dump(mode="json", exclude_none=True)["apiVersion"] == "clearance/v1"
    with pytest.raises(ValueError, match="frozen"):
        policy.kind = "Policy"  # type: ignore[misc]
    assert isinstance(Policy.model_json_schema(), dict)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_gives_a_policy_or_a_located_policy_error(text: str) -> None:
    """Whatever the bytes, the reader answers with a policy or a PlanError, never a crash."""
    try:
        parse_policy(text, "policy.yaml")
    except PlanError as exc:
        assert exc.problems and all(str(p).startswith("policy.yaml") for p in exc.problems)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.one_of(st.integers(), st.text(max_size=8), st.booleans(), st.none()),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=15,
    )
)
def test_arbitrary_targets_are_answered_with_positions(data: object) -> None:
    text = yaml.safe_dump({"apiVersion": "clearance/v1", "kind": "Policy", "targets": data})
    try:
        parse_policy(text, "policy.yaml")
    except PlanError as exc:
        assert all(p.line is not None for p in exc.problems)
