"""The release story through the services, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from clearance.errors import ConflictError, UsageError
from clearance.exports.pack import export_pack, verify_pack
from clearance.services.evidence import add_evidence
from clearance.services.gate import check
from clearance.services.plans import history, load_plan, submit_plan
from clearance.services.releases import NoGo, release, status
from clearance.services.workspace import Workspace
from clearance.settings import Settings
from tests.builders import register_signers, signoff, write_plan_folder


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None) -> Iterator[Workspace]:
    settings = Settings(workspace=tmp_path / ".clearance", database_url=database_url)
    workspace = Workspace(settings)
    workspace.create()
    workspace.keys = register_signers(workspace)  # type: ignore[attr-defined]
    yield workspace
    workspace.close()


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    return write_plan_folder(tmp_path / "project")


def statuses(checked) -> dict[str, str]:
    return {r.id: r.status.value for r in checked.evaluation.results}


def approve_all(ws: Workspace, loaded) -> None:
    submit_plan(ws, loaded, "alice@example.com", "First release")
    add_evidence(
        ws, loaded, "uat", loaded.resolve("docs/uat.md"), "carol@example.com", role="product-owner"
    )
    signoff(ws, loaded, "model-risk", "dana@example.com", "approve", "fairness gap acceptable")
    signoff(ws, loaded, "eng-manager", "erik@example.com", "approve", "")


def test_no_go_until_user_testing_and_sign_offs(ws: Workspace, plan_path: Path) -> None:
    """A fresh candidate is NO-GO (uat, signoff pending); evidence and two people make it GO."""
    loaded = load_plan(plan_path, ws.settings)
    first = check(ws, loaded, "ci")
    assert first.evaluation.decision == "NO-GO"
    assert {r.id for r in first.evaluation.blocking()} == {"uat", "signoff"}
    assert first.ingested == 5  # metrics, junit, staging manifest, rollback procedure, rehearsal
    approve_all(ws, loaded)
    second = check(ws, loaded, "ci")
    assert second.evaluation.decision == "GO", statuses(second)
    assert second.submitted.candidate.digest == first.submitted.candidate.digest
    assert second.ingested == 0  # unchanged files are not attached twice


def test_release_updates_inventory_with_deployed_components_only(
    ws: Workspace, plan_path: Path
) -> None:
    """Releasing records only components with deploy: true, and a second release is a no-op."""
    loaded = load_plan(plan_path, ws.settings)
    approve_all(ws, loaded)
    done = release(ws, loaded, "ops@example.com")
    assert not done.already
    again = release(ws, loaded, "ops@example.com")
    assert again.already and again.release_id == done.release_id
    state = status(ws)
    assert [(d.target, d.component.name, d.component.version) for d in state.inventory] == [
        ("production", "scorer", "2.4.0")
    ]
    assert state.pending == []


def test_release_of_no_go_is_refused_and_the_refusal_recorded(
    ws: Workspace, plan_path: Path
) -> None:
    """release exits with a conflict naming the blocking criteria; the decision stays on record."""
    loaded = load_plan(plan_path, ws.settings)
    with pytest.raises(NoGo) as info:
        release(ws, loaded, "ops@example.com")
    assert isinstance(info.value, ConflictError)
    assert "signoff" in str(info.value) and "uat" in str(info.value)
    assert status(ws).pending[0].outcome == "NO-GO"
    assert status(ws).inventory == []


def test_author_cannot_approve(ws: Workspace, plan_path: Path) -> None:
    """The plan owner is refused at sign-off time with a message saying why."""
    loaded = load_plan(plan_path, ws.settings)
    submit_plan(ws, loaded, "bob@example.com", "First release")
    with pytest.raises(UsageError, match="separation of duties"):
        signoff(ws, loaded, "model-risk", "alice@example.com", "approve")


def test_role_not_in_plan_is_refused(ws: Workspace, plan_path: Path) -> None:
    loaded = load_plan(plan_path, ws.settings)
    with pytest.raises(UsageError, match=r'no "ciso" sign-off \(roles: eng-manager, model-risk\)'):
        signoff(ws, loaded, "ciso", "dana@example.com", "approve")


def test_changed_plan_makes_earlier_approvals_stale(ws: Workspace, plan_path: Path) -> None:
    """Approvals for one candidate do not count for the next: changing a threshold resets them."""
    loaded = load_plan(plan_path, ws.settings)
    approve_all(ws, loaded)
    assert check(ws, loaded, "ci").evaluation.decision == "GO"
    doc = yaml.safe_load(plan_path.read_text())
    doc["criteria"][0]["threshold"] = 0.81
    plan_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    changed = load_plan(plan_path, ws.settings)
    result = check(ws, changed, "ci")
    assert result.evaluation.decision == "NO-GO"
    signoff = next(r for r in result.evaluation.results if r.id == "signoff")
    assert signoff.status.value == "pending"
    assert "earlier candidate" in signoff.reason


def test_changed_artifact_is_a_new_candidate(ws: Workspace, plan_path: Path) -> None:
    """Rebuilding the model file changes the candidate digest, not the revision digest."""
    loaded = load_plan(plan_path, ws.settings)
    first = check(ws, loaded, "ci").submitted
    (plan_path.parent / "models/scorer.bin").write_bytes(b"retrained weights\n")
    second = check(ws, load_plan(plan_path, ws.settings), "ci").submitted
    assert first.revision.digest == second.revision.digest
    assert first.candidate.digest != second.candidate.digest


def test_failing_metric_blocks_with_numbers(ws: Workspace, tmp_path: Path) -> None:
    plan = write_plan_folder(tmp_path / "low", auc=0.61)
    result = check(ws, load_plan(plan, ws.settings), "ci")
    auc = next(r for r in result.evaluation.results if r.id == "auc")
    assert auc.status.value == "failed"
    assert auc.observed is not None and "0.61" in json.dumps(auc.observed)
    assert auc.evidence and auc.evidence[0].startswith("sha256:")


def test_history_flags_approved_go_released(ws: Workspace, plan_path: Path) -> None:
    loaded = load_plan(plan_path, ws.settings)
    approve_all(ws, loaded)
    release(ws, loaded, "ops")
    [entry] = history(ws, "credit-scoring")
    assert (entry.approved, entry.go, entry.released) == (True, True, True)
    assert entry.revision.author == "alice@example.com"
    assert entry.revision.message == "First release"


def test_records_cannot_be_updated_or_deleted(ws: Workspace, plan_path: Path) -> None:
    """The database refuses UPDATE and DELETE on every record table."""
    loaded = load_plan(plan_path, ws.settings)
    approve_all(ws, loaded)
    check(ws, loaded, "ci")
    for statement in (
        "UPDATE approvals SET person = 'mallory'",
        "DELETE FROM evidence",
        "UPDATE decisions SET outcome = 'GO'",
        "DELETE FROM events",
        "UPDATE plan_revisions SET message = 'x'",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="insert-only"), ws.transaction() as conn:
            conn.execute(sa.text(statement))


def test_every_change_is_an_event(ws: Workspace, plan_path: Path) -> None:
    from clearance.store.repository import events

    loaded = load_plan(plan_path, ws.settings)
    approve_all(ws, loaded)
    release(ws, loaded, "ops")
    with ws.engine.connect() as conn:
        types = [e.type for e in events(conn)]
    for expected in (
        "system.registered",
        "plan.revision_submitted",
        "candidate.created",
        "evidence.added",
        "approval.approved",
        "decision.recorded",
        "release.recorded",
    ):
        assert expected in types


def test_audit_pack_verifies_and_detects_tampering(
    ws: Workspace, plan_path: Path, tmp_path: Path
) -> None:
    """The exported pack verifies; altering one byte of any file makes it fail, naming the file."""
    loaded = load_plan(plan_path, ws.settings)
    approve_all(ws, loaded)
    release(ws, loaded, "ops")
    pack = tmp_path / "pack.zip"
    export_pack(ws, loaded, pack, "auditor")
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
    """Signing requires a submitted candidate, so an approver never becomes its submitter."""
    loaded = load_plan(plan_path, ws.settings)
    with pytest.raises(UsageError, match="has not been submitted"):
        signoff(ws, loaded, "model-risk", "dana@example.com", "approve")


def test_missing_blob_is_an_error_result_not_a_crash(ws: Workspace, plan_path: Path) -> None:
    """A blob deleted behind the workspace's back makes its criterion `error`, naming the fix."""
    loaded = load_plan(plan_path, ws.settings)
    first = check(ws, loaded, "ci")
    auc = next(r for r in first.evaluation.results if r.id == "auc")
    blob = ws.blobs.path_of(auc.evidence[0])
    blob.unlink()
    (plan_path.parent / "eval/metrics.json").unlink()  # nothing to re-ingest it from
    ws.close()
    again = check(Workspace(ws.settings), loaded, "ci")
    auc = next(r for r in again.evaluation.results if r.id == "auc")
    assert auc.status.value == "error"
    assert "missing from the workspace; run `clearance verify`" in auc.reason


def test_export_into_a_folder_is_refused(ws: Workspace, plan_path: Path, tmp_path: Path) -> None:
    loaded = load_plan(plan_path, ws.settings)
    check(ws, loaded, "ci")
    with pytest.raises(UsageError, match="is a folder; give the pack's file name"):
        export_pack(ws, loaded, tmp_path, "auditor")


def test_pack_of_a_second_release_holds_the_diff_from_the_first(
    ws: Workspace, plan_path: Path, tmp_path: Path
) -> None:
    """The pack shows what changed since the revision running in the target, verifiably."""
    loaded = load_plan(plan_path, ws.settings)
    approve_all(ws, loaded)
    release(ws, loaded, "ops")
    doc = yaml.safe_load(plan_path.read_text())
    doc["release"]["version"] = "2.5.0"
    doc["criteria"][0]["threshold"] = 0.85
    doc["rollback"]["to"] = "previous"
    plan_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    second = load_plan(plan_path, ws.settings)
    approve_all(ws, second)
    release(ws, second, "ops")
    pack = tmp_path / "second.zip"
    export_pack(ws, second, pack, "auditor")
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
    from clearance.store.repository import events

    submit_plan(ws, load_plan(plan_path, ws.settings), "alice@example.com", "First")
    doc = yaml.safe_load(plan_path.read_text())
    doc["release"]["owner"] = "bob@example.com"
    plan_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    submit_plan(ws, load_plan(plan_path, ws.settings), "alice@example.com", "Bob owns it")
    with ws.engine.connect() as conn:
        changed = [e for e in events(conn) if e.type == "plan.owner_changed"]
    assert len(changed) == 1
    assert changed[0].payload["from"] == "alice@example.com"
    assert changed[0].payload["to"] == "bob@example.com"
