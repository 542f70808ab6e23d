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


class Clock:
    """A clock tests move by hand (`clock.now += timedelta(days=15)`)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


SIGNERS = {
    "alice@example.com": ["model-risk"],
    "dana@example.com": ["model-risk"],
    "erik@example.com": ["eng-manager"],
    "carol@example.com": ["product-owner"],
}
ADMIN = "admin@example.com"


def open_workspace(root: Path, database_url: str | None = None, clock: Any = None) -> Any:
    """A new workspace with its first administrator (ADMIN, key in `ws.keys`) and the
    target `production` declared."""
    from clearance.services.people import bootstrap_admin
    from clearance.services.workspace import Workspace
    from clearance.settings import Settings
    from clearance.signing import SigningKey

    settings = Settings(workspace=root, database_url=database_url, home=root.parent / "home")
    ws = Workspace(settings, **({"clock": clock} if clock is not None else {}))
    ws.create()
    admin = SigningKey.generate()
    bootstrap_admin(ws, ADMIN, admin.public_raw)
    ws.keys = {ADMIN: admin}
    declare(ws, "production")
    return ws


def acting(ws: Any, person: str | None) -> Any:
    """The client of `person` (their key from `ws.keys`), or an unsigned one for None."""
    from clearance.client.local import LocalClient

    return LocalClient(ws, ws.keys[person] if person is not None else None)


def declare(ws: Any, target: str, by: str = ADMIN) -> None:
    from clearance.services.policy import declare_target

    me = acting(ws, by)
    declare_target(ws, me.admin_statement("target.declare", {"name": target}))


def register_signers(ws: Any, signers: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Register people with roles and fresh keys (signed by ADMIN); returns name -> key,
    also kept in `ws.keys`."""
    from clearance.services.people import add_person
    from clearance.signing import SigningKey, b64

    admin = acting(ws, ADMIN)
    keys = {}
    for name, roles in (signers or SIGNERS).items():
        key = SigningKey.generate()
        args = {"name": name, "roles": roles, "public_key": b64(key.public_raw)}
        add_person(ws, admin.admin_statement("person.add", args))
        keys[name] = key
    ws.keys.update(keys)
    return keys


def load(ws: Any, plan_path: Path, person: str | None = None) -> Any:
    """The plan as the client reads it (a LocalPlan)."""
    return acting(ws, person).plan(plan_path)


def check(ws: Any, local: Any, person: str | None = None) -> Any:
    """Run the gate as `person` (unsigned for None), storing the plan's files first."""
    from clearance.services.gate import check as run_check

    me = acting(ws, person)
    stored = me.store_named_files(local)
    return run_check(ws, me.principal("check"), local.loaded, me.digests(local), stored)


def submit(ws: Any, local: Any, person: str, message: str = "First release") -> Any:
    from clearance.services.plans import submit_plan

    me = acting(ws, person)
    return submit_plan(ws, me.principal("plan.submit"), local.loaded, me.digests(local), message)


def release(ws: Any, local: Any, person: str = ADMIN) -> Any:
    from clearance.services.releases import release as record_release

    me = acting(ws, person)
    stored = me.store_named_files(local)
    return record_release(ws, me.principal("release"), local.loaded, me.digests(local), stored)


def attest(ws: Any, local: Any, criterion: str, path: Path, person: str, role: str) -> Any:
    """Attach `path` to `criterion`, attested by `person` in `role` (a signed statement)."""
    from clearance.services.evidence import add_evidence

    me = acting(ws, person)
    blob = me.store_file(path, criterion, None)
    envelope = me.attestation(local, criterion, path.name, blob, role)
    return add_evidence(
        ws, None, local.loaded, me.digests(local), criterion, path.name, blob, attestation=envelope
    )


def add_file(ws: Any, local: Any, criterion: str, path: Path, person: str | None = None) -> Any:
    """Attach `path` to `criterion` without attesting it."""
    from clearance.services.evidence import add_evidence

    me = acting(ws, person)
    blob = me.store_file(path, criterion, None)
    return add_evidence(
        ws, me.principal("evidence.add"), local.loaded, me.digests(local), criterion,
        path.name, blob,
    )  # fmt: skip


def signoff_envelope(
    ws: Any, local: Any, role: str, person: str, decision: str = "approve", comment: str = "ok"
) -> Any:
    return acting(ws, person).approval(local, role, decision, comment)


def signoff(
    ws: Any, local: Any, role: str, person: str, decision: str = "approve", comment: str = "ok"
) -> Any:
    """Sign off as `person` with their key (from `ws.keys`)."""
    from clearance.services.approvals import sign

    return sign(ws, signoff_envelope(ws, local, role, person, decision, comment))


def waiver_envelope(
    ws: Any,
    local: Any,
    criterion: str,
    person: str,
    role: str,
    justification: str = "accepted for this release",
    expires: Any = "14d",
) -> Any:
    from clearance.core.durations import parse_expiry

    until = parse_expiry(expires, ws.clock()) if isinstance(expires, str) else expires
    return acting(ws, person).waiver(local, criterion, role, justification, until)


def waive(ws: Any, local: Any, criterion: str, person: str, role: str, **kw: Any) -> Any:
    from clearance.services.approvals import waive as record_waiver

    return record_waiver(ws, waiver_envelope(ws, local, criterion, person, role, **kw))


def set_policy(ws: Any, text: str, by: str = ADMIN) -> Any:
    from clearance.services.policy import policy_document
    from clearance.services.policy import set_policy as record

    me = acting(ws, by)
    document = policy_document(text, "policy.yaml")
    return record(ws, me.admin_statement("policy.set", {"policy": document}))


def export(ws: Any, local: Any, out: Path, person: str | None = None) -> Any:
    from clearance.services.packs import export as export_pack

    me = acting(ws, person)
    return export_pack(ws, me.principal("pack.export"), me.candidate(local), out)


def approve_release(ws: Any, local: Any) -> None:
    """alice submits, the gate attaches the plan's files, carol attests user testing, dana
    (model-risk) and erik (eng-manager) approve: the candidate is GO."""
    submit(ws, local, "alice@example.com", "First")
    check(ws, local)
    attest(ws, local, "uat", local.resolve("docs/uat.md"), "carol@example.com", "product-owner")
    signoff(ws, local, "model-risk", "dana@example.com", "approve", "ok")
    signoff(ws, local, "eng-manager", "erik@example.com", "approve", "ok")


def released_pack(top: Path) -> tuple[Path, dict[str, bytes], Any, bytes]:
    """A released candidate's exported pack under `top`: (pack, its files, the checkpoint an
    auditor kept at release, the workspace's public key)."""
    import zipfile

    from clearance.services.log import latest

    ws = open_workspace(top / ".clearance")
    register_signers(ws)
    local = load(ws, write_plan_folder(top / "p"))
    approve_release(ws, local)
    release(ws, local)
    kept = latest(ws)
    pack = top / "pack.zip"
    export(ws, local, pack)
    with zipfile.ZipFile(pack) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    key = ws.signing_key.public_raw
    ws.close()
    return pack, files, kept, key
