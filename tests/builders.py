"""Builders for plan folders used by service and CLI tests: real files, real formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

PYTEST_JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="{failures}" skipped="0" tests="{tests}"
 time="0.1" timestamp="2026-11-01T10:00:00" hostname="ci">
{cases}
</testsuite></testsuites>
"""


def junit(tests: int = 12, failures: int = 0) -> str:
    cases = []
    for i in range(tests):
        body = (
            '<failure message="assert 0.61 >= 0.75">AssertionError</failure>'
            if i < failures
            else ""
        )
        cases.append(
            f'<testcase classname="tests_model.test_model" name="test_{i}" time="0.01">'
            f"{body}</testcase>"
        )
    return PYTEST_JUNIT.format(tests=tests, failures=failures, cases="\n".join(cases))


def plan_document(**overrides: Any) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "apiVersion": "clearance/v1",
        "kind": "DeploymentPlan",
        "system": {
            "id": "credit-scoring",
            "name": "Credit scoring",
            "owner": "alice@example.com",
            "purpose": "Rank loan applications for manual review",
        },
        "release": {
            "version": "2.4.0",
            "source": "staging",
            "target": "production",
            "change": {"system": "servicenow", "id": "CHG0042"},
        },
        "components": [
            {
                "name": "scorer",
                "kind": "model",
                "version": "2.4.0",
                "artifact": "models/scorer.bin",
            },
            {
                "name": "scoring-api",
                "kind": "software",
                "version": "1.9.3",
                "digest": "sha256:" + "ab" * 32,
                "deploy": False,
            },
        ],
        "environments": {
            "staging": {"file": "env/staging.json"},
            "production": {
                "manifest": {
                    "hosting": "cloud",
                    "region": "eu-west-1",
                    "runtime": {"python": "3.11.7"},
                }
            },
        },
        "interested_parties": [
            {
                "name": "Loan applicants",
                "impact": "Ranking affects review order",
                "consideration": "Fairness criterion; human review retained",
            }
        ],
        "rollback": {
            "to": "none",
            "procedure": "docs/rollback.md",
            "rehearsal": "docs/rehearsal.json",
        },
        "criteria": [
            {
                "id": "auc",
                "kind": "metric",
                "evidence": "eval/metrics.json",
                "metric": "holdout.auc",
                "op": ">=",
                "threshold": 0.8,
                "controls": ["B.6.2.5-performance"],
            },
            {"id": "tests", "kind": "tests", "evidence": "reports/junit.xml", "min_tests": 10},
            {"id": "uat", "kind": "evidence", "attested_by": "product-owner"},
            {
                "id": "env",
                "kind": "environment",
                "must_match": ["runtime.python"],
                "acknowledge": {
                    "hosting": "Moves from on-prem to cloud; network policy reviewed",
                    "region": "Data stays in the EU",
                },
            },
            {"id": "rollback", "kind": "rollback", "rehearsed_within": "30d"},
            {"id": "parties", "kind": "stakeholders"},
            {
                "id": "signoff",
                "kind": "approval",
                "roles": [{"role": "model-risk", "min": 1}, {"role": "eng-manager", "min": 1}],
            },
        ],
    }
    plan.update(overrides)
    return plan


def write_plan_folder(
    root: Path, *, auc: float = 0.87, failures: int = 0, document: dict[str, Any] | None = None
) -> Path:
    """A plan with every file it names; returns the plan path."""
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "models/scorer.bin").write_bytes(b"model weights v2.4.0\n" * 100)
    (root / "eval").mkdir(exist_ok=True)
    (root / "eval/metrics.json").write_text(json.dumps({"holdout": {"auc": auc, "n": 400}}))
    (root / "reports").mkdir(exist_ok=True)
    (root / "reports/junit.xml").write_text(junit(12, failures))
    (root / "env").mkdir(exist_ok=True)
    (root / "env/staging.json").write_text(
        json.dumps({"hosting": "on-prem", "region": "local", "runtime": {"python": "3.11.7"}})
    )
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs/rollback.md").write_text("# Rollback\nRedeploy the previous image.\n")
    rehearsed = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    (root / "docs/rehearsal.json").write_text(json.dumps({"date": rehearsed, "outcome": "success"}))
    (root / "docs/uat.md").write_text(
        "# User acceptance testing\n12 reviewers, all tasks passed.\n"
    )
    plan = root / "plan.yaml"
    plan.write_text(yaml.safe_dump(document or plan_document(), sort_keys=False))
    return plan


SIGNERS = {
    "alice@example.com": ["model-risk"],
    "dana@example.com": ["model-risk"],
    "erik@example.com": ["eng-manager"],
    "carol@example.com": ["product-owner"],
}


def register_signers(ws: Any, signers: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Register people with roles and fresh keys; returns name -> private SigningKey."""
    from clearance.services.people import add_person
    from clearance.signing import SigningKey

    keys = {}
    for name, roles in (signers or SIGNERS).items():
        key = SigningKey.generate()
        add_person(ws, name, roles, "admin", key.public_raw)
        keys[name] = key
    return keys


def signoff(
    ws: Any, loaded: Any, role: str, person: str, decision: str = "approve", comment: str = "ok"
) -> Any:
    """Sign with the key `register_signers` gave the person (kept on `ws.keys`)."""
    from clearance.services.approvals import sign

    return sign(ws, loaded, role, person, decision, comment, ws.keys[person])
