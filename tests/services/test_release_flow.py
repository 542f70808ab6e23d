"""The release story through the services, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from clearance.errors import ConflictError, ForbiddenError, UsageError
from clearance.exports.pack import verify_pack
from clearance.services.approvals import sign
from clearance.services.plans import history
from clearance.services.releases import NoGo, status
from clearance.services.workspace import Workspace
from clearance.signing.statements import APPROVAL_V1
from clearance.store import repository as repo
from tests.builders import (
    SIGNERS,
    acting,
    attest,
    check,
    export,
    load,
    open_workspace,
    register_signers,
    release,
    signoff,
    submit,
    write_plan_folder,
)
from tests.services.test_small_blobs import tamper

OPS = "ops@example.com"  # registered without roles: recording a release needs only a signature


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None) -> Iterator[Workspace]:
    workspace = open_workspace(tmp_path / ".clearance", database_url)
    register_signers(workspace, {**SIGNERS, OPS: [], "bob@example.com": []})
    yield workspace
    workspace.close()


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    return write_plan_folder(tmp_path / "project")


def statuses(checked) -> dict[str, str]:
    return {r.id: r.status.value for r in checked.evaluation.results}


def approve_all(ws: Workspace, local) -> None:
    """Submit, let the gate attach the plan's files, attest user testing, sign off twice
    (sign-offs come last: they are bound to the evidence as it then stands)."""
    submit(ws, local, "alice@example.com", "First release")
    check(ws, local)
    attest(ws, local, "uat", local.resolve("docs/uat.md"), "carol@example.com", "product-owner")
    signoff(ws, local, "model-risk", "dana@example.com", "approve", "fairness gap acceptable")
    signoff(ws, local, "eng-manager", "erik@example.com", "approve", "")


def test_no_go_until_user_testing_and_sign_offs(ws: Workspace, plan_path: Path) -> None:
    """A fresh candidate is NO-GO (uat, signoff pending); evidence and two people make it GO."""
    local = load(ws, plan_path)
    first = check(ws, local)
    assert first.evaluation.decision == "NO-GO"
    assert {r.id for r in first.evaluation.blocking()} == {"uat", "signoff"}
    assert first.ingested == 5  # metrics, junit, staging manifest, rollback procedure, rehearsal
    approve_all(ws, local)
    second = check(ws, local)
    assert second.evaluation.decision == "GO", statuses(second)
    assert second.submitted.candidate.digest == first.submitted.candidate.digest
    assert second.ingested == 0  # unchanged files are not attached twice


def test_release_updates_inventory_with_deployed_components_only(
    ws: Workspace, plan_path: Path
) -> None:
    """Releasing records only components with deploy: true, and a second release is a no-op."""
    local = load(ws, plan_path)
    approve_all(ws, local)
    done = release(ws, local, OPS)
    assert not done.already
    again = release(ws, local, OPS)
    assert again.already and again.release_id == done.release_id
    state = status(ws)
    assert [(d.target, d.component.name, d.component.version) for d in state.inventory] == [
        ("production", "scorer", "2.4.0")
    ]
    assert state.inventory[0].released_by == OPS
    assert state.pending == []


def test_release_of_no_go_is_refused_and_the_refusal_recorded(
    ws: Workspace, plan_path: Path
) -> None:
    """release exits with a conflict naming the blocking criteria; the decision stays on record."""
    local = load(ws, plan_path)
    with pytest.raises(NoGo) as info:
        release(ws, local, OPS)
    assert isinstance(info.value, ConflictError)
    assert "signoff" in str(info.value) and "uat" in str(info.value)
    assert status(ws).pending[0].outcome == "NO-GO"
    assert status(ws).inventory == []
    with ws.engine.connect() as conn:
        assert "release.refused" in [e.type for e in repo.events(conn)]


def test_unsigned_release_is_refused(ws: Workspace, plan_path: Path) -> None:
    """Recording a release needs a signed identity, even for a GO candidate; nothing is
    recorded."""
    local = load(ws, plan_path)
    approve_all(ws, local)
    with pytest.raises(ForbiddenError, match="needs a signed identity"):
        release(ws, local, None)
    assert status(ws).inventory == []


def test_author_cannot_approve(ws: Workspace, plan_path: Path) -> None:
    """The plan owner is refused at sign-off time (exit 77) with a message saying why."""
    local = load(ws, plan_path)
    submit(ws, local, "bob@example.com", "First release")
    with pytest.raises(ForbiddenError, match="separation of duties"):
        signoff(ws, local, "model-risk", "alice@example.com", "approve")


def test_role_not_in_plan_is_refused(ws: Workspace, plan_path: Path) -> None:
    local = load(ws, plan_path)
    check(ws, local)
    with pytest.raises(UsageError, match=r'no "ciso" sign-off \(roles: eng-manager, model-risk\)'):
        signoff(ws, local, "ciso", "dana@example.com", "approve")


def test_changed_plan_makes_earlier_approvals_stale(ws: Workspace, plan_path: Path) -> None:
    """Approvals for one candidate do not count for the next: changing a threshold resets them."""
    local = load(ws, plan_path)
    approve_all(ws, local)
    assert check(ws, local).evaluation.decision == "GO"
    doc = yaml.safe_load(plan_path.read_text())
    doc["criteria"][0]["threshold"] = 0.81
    plan_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    changed = load(ws, plan_path)
    result = check(ws, changed)
    assert result.evaluation.decision == "NO-GO"
    signoff = next(r for r in result.evaluation.results if r.id == "signoff")
    assert signoff.status.value == "pending"
    assert "earlier candidate" in signoff.reason


def test_changed_artifact_is_a_new_candidate(ws: Workspace, plan_path: Path) -> None:
    """Rebuilding the model file changes the candidate digest, not the revision digest."""
    first = check(ws, load(ws, plan_path)).submitted
    (plan_path.parent / "models/scorer.bin").write_bytes(b"retrained weights\n")
    second = check(ws, load(ws, plan_path)).submitted
    assert first.revision.digest == second.revision.digest
    assert first.candidate.digest != second.candidate.digest


def test_failing_metric_blocks_with_numbers(ws: Workspace, tmp_path: Path) -> None:
    plan = write_plan_folder(tmp_path / "low", auc=0.61)
    result = check(ws, load(ws, plan))
    auc = next(r for r in result.evaluation.results if r.id == "auc")
    assert auc.status.value == "failed"
    assert auc.observed is not None and "0.61" in json.dumps(auc.observed)
    assert auc.evidence and auc.evidence[0].startswith("sha256:")


def test_history_flags_approved_go_released(ws: Workspace, plan_path: Path) -> None:
    local = load(ws, plan_path)
    approve_all(ws, local)
    release(ws, local, OPS)
    [entry] = history(ws, "credit-scoring")
    assert (entry.approved, entry.go, entry.released) == (True, True, True)
    assert entry.revision.author == "alice@example.com"
    assert entry.revision.message == "First release"


def test_records_cannot_be_updated_or_deleted(ws: Workspace, plan_path: Path) -> None:
    """The database refuses UPDATE and DELETE on every record table."""
    local = load(ws, plan_path)
    approve_all(ws, local)
    check(ws, local)
    for statement in (
        "UPDATE approvals SET person = 'mallory'",
        "DELETE FROM evidence",
        "UPDATE decisions SET outcome = 'GO'",
        "DELETE FROM events",
        "UPDATE plan_revisions SET message = 'x'",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="insert-only"), ws.engine.begin() as conn:
            conn.execute(sa.text(statement))


def test_every_change_is_an_event(ws: Workspace, plan_path: Path) -> None:
    local = load(ws, plan_path)
    approve_all(ws, local)
    release(ws, local, OPS)
    with ws.engine.connect() as conn:
        types = [e.type for e in repo.events(conn)]
    for expected in (
        "system.registered",
        "plan.revision_submitted",
        "candidate.created",
        "evidence.added",
        "approval.approved",
        "decision.recorded",
        "attestation.issued",
        "release.recorded",
    ):
        assert expected in types


def test_audit_pack_verifies_and_detects_tampering(
    ws: Workspace, plan_path: Path, tmp_path: Path
) -> None:
    """The exported pack verifies; altering one byte of any file makes it fail, naming the file."""
    local = load(ws, plan_path)
    approve_all(ws, local)
    release(ws, local, OPS)
    pack = tmp_path / "pack.zip"
    export(ws, local, pack)
    assert verify_pack(pack, trusted={ws.signing_key.public_raw}) == []
    with zipfile.ZipFile(pack) as zf:
        names = [n for n in zf.namelist() if n != "manifest.json"]
        content = {n: zf.read(n) for n in zf.namelist()}
    assert {
        "index.html",
        "candidate.json",
        "approvals.json",
        "decisions.json",
        "releases.json",
        "events.json",
        "evidence/index.json",
    } <= set(names)
    assert any(n.startswith("evidence/files/") for n in names)
    for name in names:
        tampered = tmp_path / "tampered.zip"
        with zipfile.ZipFile(tampered, "w") as zf:
            for n, data in content.items():
                if n == name:
                    data = bytes([data[0] ^ 1]) + data[1:]
                zf.writestr(n, data)
        failures = verify_pack(tampered, trusted={ws.signing_key.public_raw})
        assert any(name in f for f in failures), (name, failures)


def test_unsubmitted_candidate_cannot_be_signed(ws: Workspace, plan_path: Path) -> None:
    """Signing requires a submitted candidate, so an approver never becomes its submitter:
    the client refuses to sign one, and the service refuses a statement signed anyway."""
    local = load(ws, plan_path)
    with pytest.raises(UsageError, match="has not been submitted"):
        signoff(ws, local, "model-risk", "dana@example.com", "approve")
    dana = acting(ws, "dana@example.com")
    candidate = dana.candidate(local)
    envelope = dana.sign(
        APPROVAL_V1,
        ("candidate", candidate),
        {
            "system": "credit-scoring",
            "version": "2.4.0",
            "role": "model-risk",
            "decision": "approve",
            "comment": "ok",
            "revision": local.loaded.revision,
            "evidence": None,
        },
    )
    with pytest.raises(UsageError, match="has not been submitted"):
        sign(ws, envelope)
    with ws.engine.connect() as conn:
        assert repo.get_candidate(conn, candidate) is None


def test_missing_blob_is_an_error_result_not_a_crash(ws: Workspace, plan_path: Path) -> None:
    """A blob deleted behind the workspace's back makes its criterion `error`, naming the fix."""
    local = load(ws, plan_path)
    first = check(ws, local)
    auc = next(r for r in first.evaluation.results if r.id == "auc")
    tamper(ws, auc.evidence[0], None)  # a small file: held in the database
    (plan_path.parent / "eval/metrics.json").unlink()  # nothing to re-ingest it from
    ws.close()
    again = check(Workspace(ws.settings), local)
    auc = next(r for r in again.evaluation.results if r.id == "auc")
    assert auc.status.value == "error"
    assert "missing from the workspace's blob store" in auc.reason


def test_export_into_a_folder_is_refused(ws: Workspace, plan_path: Path, tmp_path: Path) -> None:
    local = load(ws, plan_path)
    check(ws, local)
    with pytest.raises(UsageError, match="is a folder; give the pack's file name"):
        export(ws, local, tmp_path)


def test_pack_of_a_second_release_holds_the_diff_from_the_first(
    ws: Workspace, plan_path: Path, tmp_path: Path
) -> None:
    """The pack shows what changed since the revision running in the target, verifiably."""
    local = load(ws, plan_path)
    approve_all(ws, local)
    release(ws, local, OPS)
    doc = yaml.safe_load(plan_path.read_text())
    doc["release"]["version"] = "2.5.0"
    doc["criteria"][0]["threshold"] = 0.85
    doc["rollback"]["to"] = "previous"
    plan_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    second = load(ws, plan_path)
    approve_all(ws, second)
    release(ws, second, OPS)
    pack = tmp_path / "second.zip"
    export(ws, second, pack)
    assert verify_pack(pack, trusted={ws.signing_key.public_raw}) == []
    with zipfile.ZipFile(pack) as zf:
        diff = json.loads(zf.read("plan/diff-from-released.json"))
        index = zf.read("index.html").decode()
    changed = {(c["section"], c["item"], c["field"]) for c in diff["changes"]}
    assert ("criteria", "auc", "threshold") in changed
    assert ("release", "", "version") in changed
    assert diff["from"] != diff["to"]
    assert "criteria auc: threshold 0.8 -&gt; 0.85" in index


def test_change_of_owner_is_an_event(ws: Workspace, plan_path: Path) -> None:
    submit(ws, load(ws, plan_path), "alice@example.com", "First")
    doc = yaml.safe_load(plan_path.read_text())
    doc["release"]["owner"] = "bob@example.com"
    plan_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    submit(ws, load(ws, plan_path), "alice@example.com", "Bob owns it")
    with ws.engine.connect() as conn:
        changed = [e for e in repo.events(conn) if e.type == "plan.owner_changed"]
    assert len(changed) == 1
    assert changed[0].payload["from"] == "alice@example.com"
    assert changed[0].payload["to"] == "bob@example.com"
