"""The files the demo writes meet its plan under the real evaluators: NO-GO only for user
testing and sign-offs, GO once those are recorded. (Pure core; no CLI, no workspace.)"""

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from clearance.core.decision import evaluate_release
from clearance.core.loader import parse_plan
from clearance.core.results import (
    AcceptanceRecord,
    AcknowledgementRecord,
    ApprovalRecord,
    EvaluationContext,
    EvidenceItem,
    TestReport,
)
from clearance.integrations.findings import parse_findings

CANDIDATE = "sha256:" + "c" * 64
NOW = datetime.now(UTC)


def _parsed(path: Path, fmt: str):
    if fmt == "junit":
        suite = ET.parse(path).getroot().find("testsuite")
        counts = [int(suite.get(k)) for k in ("tests", "failures", "errors", "skipped")]
        return TestReport(*counts)
    if fmt == "findings":
        return parse_findings(path.name, path.read_bytes())
    if fmt == "document":
        text = path.read_text()
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return None


def _context(root: Path, extra=None, approvals=(), **signed) -> EvaluationContext:
    plan = parse_plan((root / "plan.yaml").read_text(), "plan.yaml")
    evidence = {}
    for criterion in plan.criteria:
        evidence[criterion.id] = [
            EvidenceItem(
                name=f.path,
                digest="sha256:" + "0" * 64,
                added_by="alice@example.com",
                added_at=NOW,
                content=_parsed(root / f.path, f.format),
            )
            for f in criterion.named_files(plan)
        ]
    for criterion_id, item in (extra or {}).items():
        evidence[criterion_id] = [*evidence.get(criterion_id, []), item]
    return EvaluationContext(
        plan=plan,
        candidate=CANDIDATE,
        now=NOW,
        evidence=evidence,
        approvals=tuple(approvals),
        authors=frozenset({"alice@example.com"}),
        **signed,
    )


@pytest.fixture(scope="module")
def demo_folder(story) -> Path:
    directory, code, lines = story
    assert code == 0, "\n".join(lines)
    return directory


def test_first_check_is_no_go_for_people_and_the_scan_finding_only(demo_folder):
    """User testing, the acknowledgement and the sign-offs wait for people; Bandit's one
    medium finding fails the scan until someone accepts it."""
    evaluation = evaluate_release(_context(demo_folder))
    assert evaluation.decision == "NO-GO"
    statuses = {r.id: r.status.value for r in evaluation.blocking()}
    assert statuses == {
        "uat": "pending",
        "code-scan": "failed",
        "stakeholders": "pending",
        "signoff": "pending",
    }
    scan = next(r for r in evaluation.results if r.id == "code-scan")
    assert scan.reason.startswith("1 open medium finding where none is allowed: B301 at ")


def test_check_is_go_once_uat_is_attested_and_both_roles_signed(demo_folder):
    uat = EvidenceItem(
        name="docs/uat-report.md",
        digest="sha256:" + "1" * 64,
        added_by="carol@example.com",
        added_at=NOW,
        role="product-owner",
    )
    approvals = [
        ApprovalRecord("dana@example.com", "model-risk", "approve", CANDIDATE, NOW),
        ApprovalRecord("erik@example.com", "eng-manager", "approve", CANDIDATE, NOW),
    ]
    scan = parse_findings("bandit.sarif", (demo_folder / "reports/bandit.sarif").read_bytes())
    b301 = next(f for f in scan.findings if f.rule == "B301")
    accepted = AcceptanceRecord(
        "code-scan", "rule", "B301", b301.location, "sam@example.com", "security",
        "Only the released model file is unpickled", CANDIDATE, NOW, NOW + timedelta(days=30),
    )  # fmt: skip
    patients = next(p for p in parse_plan((demo_folder / "plan.yaml").read_text(), "p")
                    .interested_parties if p.acknowledged_by)  # fmt: skip
    acknowledged = AcknowledgementRecord(
        patients.name, patients.text_digest(), "paula@example.com", "patients-representative",
        CANDIDATE, NOW,
    )  # fmt: skip
    evaluation = evaluate_release(
        _context(
            demo_folder, {"uat": uat}, approvals,
            acceptances=[accepted], acknowledgements=[acknowledged],
        )
    )  # fmt: skip
    assert evaluation.decision == "GO", [r.reason for r in evaluation.blocking()]
    assert all(r.status.value == "passed" for r in evaluation.results)
