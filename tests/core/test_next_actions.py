"""Every result that does not pass says what to do next as structured actions, and no reason
the core writes spells out a command: checked over every scenario of every evaluator's tests,
and pinned per scenario."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import test_eval_approval as approval
import test_eval_change as change
import test_eval_environment as environment
import test_eval_evidence as evidence
import test_eval_metric as metric
import test_eval_risk as risk
import test_eval_rollback as rollback
import test_eval_stakeholders as stakeholders
import test_eval_tests as tests
from core_testkit import evaluate, item, writes_a_command

from clearance.core.evaluators._common import criterion_field
from clearance.core.results import ActionKind, NextAction, Result, Status

Run = Callable[[tuple[Any, ...]], Result]

#: each evaluator's scenario table, and how its test turns a scenario into a result
RUNNERS: dict[str, tuple[list[Any], Run]] = {
    "approval": (approval.CASES, lambda v: evaluate(v[0], approvals=v[1], **v[2])),
    "change": (change.CASES, lambda v: evaluate(v[0], v[1], plan=v[2])),
    "environment": (environment.CASES, lambda v: evaluate(v[0], v[2], plan=v[1])),
    "evidence": (evidence.CASES, lambda v: evaluate(v[0], v[1])),
    "metric": (metric.CASES, lambda v: evaluate(v[0], v[1], **v[2])),
    "risk": (
        [*risk.CASES, *risk.ERRORS],
        lambda v: evaluate(risk.RISK, [item(risk.FILE, v[0])]),
    ),
    "rollback": (rollback.CASES, lambda v: evaluate(v[0], v[2], plan=v[1], released=v[3])),
    "stakeholders": (
        stakeholders.CASES,
        lambda v: evaluate(stakeholders.CRITERION, plan={"interested_parties": v[0]}),
    ),
    "tests": (tests.CASES, lambda v: evaluate(v[0], v[1])),
}
SCENARIOS = [
    pytest.param(run, case.values, id=f"{kind}/{case.id or i}")
    for kind, (cases, run) in RUNNERS.items()
    for i, case in enumerate(cases)
]


def action(kind: ActionKind, **fields: str) -> NextAction:
    """An action as the table pins it: the criterion is the result's own, filled in later."""
    return NextAction(kind, "", **fields)


def attach(path: str | None = None, role: str | None = None) -> NextAction:
    return NextAction("attach", "", path=path, role=role)


def update(path: str) -> NextAction:
    return action("update_evidence", path=path)


def rerun(path: str) -> NextAction:
    return action("rerun", path=path)


def rehearse(path: str) -> NextAction:
    return action("rehearse", path=path)


def fix_plan(field: str) -> NextAction:
    return action("fix_plan", field=field)


def approve(role: str) -> NextAction:
    return action("approve", role=role)


def withdraw(role: str, person: str) -> NextAction:
    return action("withdraw", role=role, person=person)


def waive() -> NextAction:
    return action("waive")


#: what each scenario that does not pass offers, in order
NEXT: dict[str, list[NextAction]] = {
    "approval/role-missing": [approve("eng-manager")],
    "approval/nothing-yet": [approve("model-risk"), approve("eng-manager")],
    "approval/rejection-vetoes": [withdraw("eng-manager", "dan")],
    "approval/re-approval-without-withdrawal-does-not-lift-a-rejection": [
        withdraw("eng-manager", "carol"),
    ],
    "approval/two-names-of-one-person-count-once": [approve("model-risk")],
    "approval/approval-over-other-evidence-is-stale": [approve("eng-manager")],
    "approval/approval-replaced-by-later-rejection": [withdraw("eng-manager", "carol")],
    "approval/rejections-do-not-expire": [withdraw("eng-manager", "carol")],
    "approval/approval-of-earlier-candidate-does-not-carry-over": [approve("eng-manager")],
    "approval/expired": [approve("eng-manager")],
    "approval/plan-owner-cannot-approve": [approve("eng-manager")],
    "approval/submitter-cannot-approve": [approve("eng-manager")],
    "approval/one-person-one-role": [approve("eng-manager")],
    "approval/same-person-whatever-the-case-counts-once": [approve("model-risk")],
    "change/not-approved-yet": [attach("change/CHG0042.json")],
    "change/export-missing": [attach("change/CHG0042.json")],
    "change/unnamed-export-missing": [attach()],
    "change/wrong-ticket": [update("change/CHG0042.json"), fix_plan("release.change.id")],
    "change/no-change-reference": [fix_plan("release.change")],
    "change/record-mode-still-needs-the-reference": [fix_plan("release.change")],
    "change/unreadable": [update("change/CHG0042.json")],
    "change/export-without-id": [update("change/CHG0042.json")],
    "change/export-without-state": [update("change/CHG0042.json")],
    "change/export-of-wrong-shape": [update("change/CHG0042.json")],
    "environment/must-match-differs": [fix_plan("environments.production.manifest")],
    "environment/must-match-missing-in-target-cannot-be-acknowledged": [
        fix_plan("environments.production.manifest"),
    ],
    "environment/must-match-absent-from-both": [fix_plan("environments.production.manifest")],
    "environment/must-match-prefix-covers-subtree": [fix_plan("environments.production.manifest")],
    "environment/unacknowledged-difference": [fix_plan("criteria[id=env].acknowledge")],
    "environment/lists-compared-as-values": [fix_plan("criteria[id=env].acknowledge")],
    "environment/target-manifest-not-attached": [attach("env/prod.yaml")],
    "environment/environment-without-manifest": [fix_plan("environments.production.manifest")],
    "environment/undeclared-environment": [fix_plan("environments.edge")],
    "environment/unreadable-manifest": [update("env/staging.yaml")],
    "environment/manifest-of-wrong-shape": [update("env/staging.yaml")],
    "evidence/named-document-missing": [attach("docs/uat.pdf")],
    "evidence/one-named-document-missing": [attach("docs/signoff.pdf")],
    "evidence/too-few-documents": [attach()],
    "evidence/named-document-too-old": [attach("docs/uat.pdf")],
    "evidence/not-attested": [attach("docs/uat.pdf", role="product-owner")],
    "evidence/stale-attestation-does-not-count": [attach("docs/uat.pdf", role="product-owner")],
    "evidence/unreadable": [update("docs/uat.pdf")],
    "metric/threshold-missed": [rerun("eval/metrics.json"), waive()],
    "metric/near-miss-shows-enough-digits": [rerun("eval/metrics.json"), waive()],
    "metric/upper-bound-missed": [rerun("eval/metrics.json"), waive()],
    "metric/advisory-still-evaluated": [rerun("eval/metrics.json")],
    "metric/named-file-missing": [attach("eval/metrics.json")],
    "metric/only-other-files-attached": [attach("eval/metrics.json")],
    "metric/nothing-named-nothing-attached": [attach()],
    "metric/unreadable": [update("eval/metrics.json")],
    "metric/missing-key": [fix_plan("criteria[id=auc].metric"), update("eval/metrics.json")],
    "metric/missing-top-level-key": [
        fix_plan("criteria[id=auc].metric"),
        update("eval/metrics.json"),
    ],
    "metric/index-out-of-range": [fix_plan("criteria[id=auc].metric"), update("eval/metrics.json")],
    "metric/path-through-a-scalar": [
        fix_plan("criteria[id=auc].metric"),
        update("eval/metrics.json"),
    ],
    "metric/non-numeric": [update("eval/metrics.json")],
    "metric/boolean-is-not-a-number": [update("eval/metrics.json")],
    "metric/nan-is-not-a-number": [update("eval/metrics.json")],
    "metric/mapping-is-not-a-number": [update("eval/metrics.json")],
    "metric/wrong-kind-of-content": [
        fix_plan("criteria[id=auc].metric"),
        update("eval/metrics.json"),
    ],
    "metric/csv-column-of-many-rows": [fix_plan("criteria[id=auc].metric"), update("m.csv")],
    "metric/csv-name-table-without-the-metric": [
        fix_plan("criteria[id=auc].metric"),
        update("m.csv"),
    ],
    "metric/csv-without-the-column": [fix_plan("criteria[id=auc].metric"), update("m.csv")],
    "metric/no-unnamed-file-holds-the-metric": [update("b.json"), update("a.json")],
    "metric/regression-too-large": [rerun("eval/metrics.json"), waive()],
    "metric/lower-is-better-regression": [rerun("eval/metrics.json"), waive()],
    "metric/released-candidate-lacks-the-metric": [
        fix_plan("criteria[id=no-regression].baseline"),
        waive(),
    ],
    "metric/both-threshold-fails-baseline-holds": [rerun("eval/metrics.json"), waive()],
    "metric/both-threshold-holds-baseline-fails": [rerun("eval/metrics.json"), waive()],
    "metric/failure-outranks-pending": [
        rerun("eval/metrics.json"),
        fix_plan("criteria[id=no-regression].baseline"),
        waive(),
    ],
    "risk/risk-without-mitigation": [update("risks.yaml")],
    "risk/missing-mitigations-key-outranks-pending": [update("risks.yaml")],
    "risk/no-risk-in-the-categories": [update("risks.yaml")],
    "risk/unverified-mitigations": [update("risks.yaml")],
    "risk/verified-without-evidence": [update("risks.yaml")],
    "risk/long-lists-are-cut": [update("risks.yaml")],
    "risk/mapping-no-risks": [update("risks.yaml")],
    "risk/risks-not-list": [update("risks.yaml")],
    "risk/scalar": [update("risks.yaml")],
    "risk/risk-not-mapping": [update("risks.yaml")],
    "risk/no-id": [update("risks.yaml")],
    "risk/no-category": [update("risks.yaml")],
    "risk/bad-category-list": [update("risks.yaml")],
    "risk/mitigations-not-list": [update("risks.yaml")],
    "risk/mitigation-not-mapping": [update("risks.yaml")],
    "rollback/no-rollback-section": [fix_plan("rollback")],
    "rollback/none-after-an-earlier-release": [fix_plan("rollback.to")],
    "rollback/previous-without-an-earlier-release": [fix_plan("rollback.to")],
    "rollback/procedure-not-attached": [attach("docs/rollback.md")],
    "rollback/procedure-not-named": [fix_plan("rollback.procedure")],
    "rollback/rehearsal-not-named": [fix_plan("rollback.rehearsal")],
    "rollback/rehearsal-not-attached": [attach("rehearsal.yaml")],
    "rollback/rehearsal-too-old": [rehearse("rehearsal.yaml")],
    "rollback/rehearsal-failed": [rehearse("rehearsal.yaml")],
    "rollback/unparseable-date": [update("rehearsal.yaml")],
    "rollback/future-date": [update("rehearsal.yaml")],
    "rollback/rehearsal-without-date": [update("rehearsal.yaml")],
    "rollback/unreadable-rehearsal": [update("rehearsal.yaml")],
    "stakeholders/none-listed": [fix_plan("interested_parties")],
    "stakeholders/blank-and-missing-fields": [
        fix_plan("interested_parties[1].impact"),
        fix_plan("interested_parties[1].consideration"),
    ],
    "stakeholders/each-party-named": [
        fix_plan("interested_parties[0].consideration"),
        fix_plan("interested_parties[1].impact"),
    ],
    "tests/failures": [rerun("reports/junit.xml"), waive()],
    "tests/only-five-failures-listed": [rerun("reports/junit.xml"), waive()],
    "tests/errors-beyond-allowance": [rerun("reports/junit.xml"), waive()],
    "tests/too-few-tests": [rerun("reports/junit.xml"), waive()],
    "tests/empty-report": [rerun("reports/junit.xml"), waive()],
    "tests/too-many-skipped": [rerun("reports/junit.xml"), waive()],
    "tests/every-problem-reported": [rerun("reports/junit.xml"), waive()],
    "tests/named-report-missing": [attach("reports/junit.xml")],
    "tests/one-of-two-reports-missing": [attach("reports/e2e.xml")],
    "tests/nothing-attached": [attach()],
    "tests/unreadable": [update("reports/junit.xml")],
    "tests/not-a-junit-report": [update("reports/junit.xml")],
    "tests/any-unreadable-report-is-an-error": [update("extra.xml")],
}


@pytest.mark.parametrize(("run", "values"), SCENARIOS)
def test_each_scenario_offers_its_next_actions(
    request: pytest.FixtureRequest, run: Run, values: tuple[Any, ...]
) -> None:
    """A result that did not pass offers at least one action, for its own criterion, and
    exactly the ones pinned for the scenario; a passed result offers none."""
    result = run(values)
    scenario = request.node.callspec.id
    if result.status is Status.PASSED:
        assert result.next == ()
        assert scenario not in NEXT
        return
    assert result.next, result.reason
    assert {a.criterion for a in result.next} == {result.id}
    assert [replace(a, criterion="") for a in result.next] == NEXT[scenario]


@pytest.mark.parametrize(("run", "values"), SCENARIOS)
def test_no_reason_writes_a_command(run: Run, values: tuple[Any, ...]) -> None:
    """Reasons are prose: the commands are rendered from the next actions, outside the core."""
    reason = run(values).reason
    assert "`clearance" not in reason and "clearance " not in reason


def test_the_pinned_table_names_only_scenarios_that_exist() -> None:
    """No pinned entry outlives its scenario (a renamed case would otherwise go unchecked)."""
    ids = {p.id for p in SCENARIOS}
    assert set(NEXT) <= ids


@pytest.mark.parametrize(
    "reason",
    [
        "attach it with `clearance evidence add a.json --plan PLAN --criterion auc`",
        "run clearance verify",
    ],
)
def test_a_command_in_a_reason_is_caught(reason: str) -> None:
    """The check the evaluator tests rely on recognises a command, quoted or not."""
    assert writes_a_command(reason)


def test_a_must_match_difference_in_manifest_files_asks_for_the_target_file() -> None:
    """A target manifest attached as a file is corrected there, not in the plan."""
    result = evaluate(
        environment.ENV,
        [
            item("env/staging.yaml", environment.STAGING),
            item("env/prod.yaml", {**environment.PROD_SAME_PY, "runtime": {"python": "3.12"}}),
        ],
        plan=environment.files(),
    )
    assert result.status is Status.FAILED
    assert result.next == (NextAction("update_evidence", "env", path="env/prod.yaml"),)


def test_a_document_attached_under_its_file_name_is_fixed_under_the_plans_path() -> None:
    """An unreadable document is named as the plan names it, so the command finds the file."""
    result = evaluate(evidence.UAT, [item("uat.pdf", problem="truncated")])
    assert result.next == (NextAction("update_evidence", "uat", path="docs/uat.pdf"),)


def test_an_advisory_criterion_is_not_offered_a_waiver() -> None:
    """A waiver clears nothing an advisory criterion blocks."""
    result = evaluate({**metric.AUC, "advisory": True}, [item(metric.FILE, metric.doc(0.5))])
    assert [a.kind for a in result.next] == ["rerun"]


def test_criterion_fields_are_named_by_id() -> None:
    """A policy's criteria precede the plan's own, so a criterion is found by id, not index."""
    assert criterion_field("env", "acknowledge") == "criteria[id=env].acknowledge"


@pytest.mark.parametrize(
    ("kind", "fields", "message"),
    [
        ("approve", {}, "a next action 'approve' needs role"),
        ("withdraw", {"role": "model-risk"}, "a next action 'withdraw' needs person"),
        ("withdraw", {}, "a next action 'withdraw' needs person and role"),
        ("fix_plan", {"field": ""}, "a next action 'fix_plan' needs field"),
        ("update_evidence", {}, "a next action 'update_evidence' needs path"),
        ("reboot", {}, "unknown next action kind 'reboot'"),
    ],
)
def test_an_action_without_what_its_kind_needs_is_refused(
    kind: Any, fields: dict[str, str], message: str
) -> None:
    """Renderers can rely on the fields of each kind being there."""
    with pytest.raises(ValueError) as raised:
        NextAction(kind, "auc", **fields)
    assert str(raised.value) == message


def test_an_action_as_json_has_every_field() -> None:
    """Machines get one shape for every kind, with null where a field does not apply."""
    assert NextAction("attach", "uat", path="docs/uat.md", role="product-owner").as_json() == {
        "kind": "attach",
        "criterion": "uat",
        "path": "docs/uat.md",
        "role": "product-owner",
        "person": None,
        "field": None,
        "about": None,
    }
