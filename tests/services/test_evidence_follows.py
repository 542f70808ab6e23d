"""Evidence that follows the work: an identical test rerun leaves sign-offs standing, a real
change voids them and says which file changed and how, and a missing file is never replaced
by its attached copy in silence."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from clearance.errors import UsageError
from clearance.services.approvals import sign
from clearance.services.workspace import Workspace
from tests.builders import (
    SIGNERS,
    Clock,
    attest,
    check,
    junit,
    load,
    open_workspace,
    register_signers,
    signoff,
    signoff_envelope,
    submit,
    write_plan_folder,
)


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None) -> Iterator[Workspace]:
    workspace = open_workspace(tmp_path / ".clearance", database_url, Clock())
    register_signers(
        workspace,
        {**SIGNERS, "bob@example.com": ["model-risk"], "frank@example.com": ["model-risk"]},
    )
    yield workspace
    workspace.close()


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    return write_plan_folder(tmp_path / "project")


def signed_off(ws: Workspace, plan_path: Path):
    """The plan submitted, checked, user testing attested and both roles signed: GO."""
    local = load(ws, plan_path)
    submit(ws, local, "bob@example.com")
    check(ws, local)
    attest(ws, local, "uat", local.resolve("docs/uat.md"), "carol@example.com", "product-owner")
    signoff(ws, local, "model-risk", "dana@example.com")
    signoff(ws, local, "eng-manager", "erik@example.com")
    assert check(ws, local).evaluation.decision == "GO"
    return local


def rerun(report: Path, **changes: str) -> None:
    """The same report as pytest writes it again: new timestamp, time and host name."""
    text = report.read_text()
    text = text.replace('timestamp="2026-11-01T10:00:00"', 'timestamp="2026-11-02T08:30:12"')
    text = text.replace('hostname="ci"', 'hostname="runner-7"')
    text = re.sub(r'time="0\.01"', 'time="0.02"', text).replace('time="0.1"', 'time="0.4"')
    for old, new in changes.items():
        text = text.replace(old, new)
    report.write_text(text)


def signoff_result(ws: Workspace, local):
    evaluation = check(ws, local).evaluation
    return evaluation, next(r for r in evaluation.results if r.id == "signoff")


def test_an_identical_rerun_of_the_tests_keeps_the_signoffs(ws: Workspace, plan_path: Path) -> None:
    """The issue's timestamp case: only timestamp, time and hostname differ; still GO, while
    the new report is stored and attached."""
    local = signed_off(ws, plan_path)
    report = plan_path.parent / "reports/junit.xml"
    before = report.read_bytes()
    rerun(report)
    assert report.read_bytes() != before
    outcome = check(ws, local)
    assert outcome.evaluation.decision == "GO"
    tests = next(r for r in outcome.evaluation.results if r.id == "tests")
    from clearance.blobs import file_digest

    assert file_digest(report) in tests.evidence  # the rerun's own file is what counts


def test_a_new_signoff_on_the_rerun_names_the_same_evidence(ws: Workspace, plan_path: Path) -> None:
    """A sign-off prepared before the rerun is still accepted after it: same outcomes, same
    evidence."""
    local = signed_off(ws, plan_path)
    envelope = signoff_envelope(ws, local, "model-risk", "frank@example.com")
    rerun(plan_path.parent / "reports/junit.xml")
    check(ws, local)
    assert sign(ws, envelope).approval.person == "frank@example.com"


def test_a_test_added_voids_signoffs_and_says_which(ws: Workspace, plan_path: Path) -> None:
    local = signed_off(ws, plan_path)
    (plan_path.parent / "reports/junit.xml").write_text(junit(13))
    evaluation, result = signoff_result(ws, local)
    assert evaluation.decision == "NO-GO"
    assert (
        "approval by dana@example.com (model-risk) was given before the evidence changed "
        "(reports/junit.xml changed: 1 test added (tests_model.test_model.test_12))"
    ) in result.reason


def test_a_flipped_test_is_named_with_its_outcomes(ws: Workspace, plan_path: Path) -> None:
    local = signed_off(ws, plan_path)
    (plan_path.parent / "reports/junit.xml").write_text(junit(12, failures=1))
    _, result = signoff_result(ws, local)
    assert "1 test changed outcome (tests_model.test_model.test_0 passed → failed)" in (
        result.reason
    )


def test_changed_metrics_are_named_with_their_values(ws: Workspace, plan_path: Path) -> None:
    local = signed_off(ws, plan_path)
    metrics = plan_path.parent / "eval/metrics.json"
    metrics.write_text(json.dumps({"holdout": {"auc": 0.9, "n": 400}}))
    _, result = signoff_result(ws, local)
    assert "eval/metrics.json changed: holdout.auc 0.87 → 0.9" in result.reason
    assert "reports/junit.xml" not in result.reason  # only what changed is named


def test_several_changed_files_are_each_named(ws: Workspace, plan_path: Path) -> None:
    local = signed_off(ws, plan_path)
    (plan_path.parent / "eval/metrics.json").write_text(json.dumps({"holdout": {"auc": 0.88}}))
    (plan_path.parent / "reports/junit.xml").write_text(junit(11))
    _, result = signoff_result(ws, local)
    assert "eval/metrics.json changed: holdout.auc 0.87 → 0.88; removed holdout.n" in result.reason
    assert "reports/junit.xml changed: 1 test removed (tests_model.test_model.test_11)" in (
        result.reason
    )


def test_a_signoff_prepared_before_a_real_change_is_refused(ws: Workspace, plan_path: Path) -> None:
    local = signed_off(ws, plan_path)
    envelope = signoff_envelope(ws, local, "model-risk", "frank@example.com")
    (plan_path.parent / "reports/junit.xml").write_text(junit(12, failures=2))
    check(ws, local)
    with pytest.raises(UsageError, match="evidence of this candidate changed") as refused:
        sign(ws, envelope)
    assert "(reports/junit.xml changed: 2 tests changed outcome (" in str(refused.value)


def test_a_missing_file_says_the_attached_copy_was_used(ws: Workspace, plan_path: Path) -> None:
    """The metrics file is deleted after it was attached: the result still passes from the
    attached copy, and its reason says so, with the date."""
    local = load(ws, plan_path)
    first = check(ws, local)
    attached = ws.clock().strftime("%Y-%m-%d")
    assert "not found" not in next(r for r in first.evaluation.results if r.id == "auc").reason
    (plan_path.parent / "eval/metrics.json").unlink()
    evaluation = check(ws, load(ws, plan_path)).evaluation
    auc = next(r for r in evaluation.results if r.id == "auc")
    assert auc.status.value == "passed"
    assert "eval/metrics.json was not found when the gate ran, so the copy attached on " in (
        auc.reason
    )
    assert f"attached on {attached} " in auc.reason and " UTC by " in auc.reason


def test_a_missing_file_never_attached_stays_pending(ws: Workspace, plan_path: Path) -> None:
    (plan_path.parent / "eval/metrics.json").unlink()
    local = load(ws, plan_path)
    auc = next(r for r in check(ws, local).evaluation.results if r.id == "auc")
    assert auc.status.value == "pending" and "was not found when the gate ran" not in auc.reason
