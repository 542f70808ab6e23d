"""Offline pack verification names each kind of tampering, even when the attacker fixes up
the manifest's hashes (they cannot re-sign it without the workspace key)."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from clearance.core.checkpoint import Checkpoint
from clearance.core.digest import canonical_json
from clearance.core.merkle import leaf_hash, root
from clearance.exports.pack import verify_pack
from clearance.services.log import sign_checkpoint
from clearance.signing import SigningKey, b64
from tests.builders import released_pack

Files = dict[str, bytes]
Exported = tuple[Files, Checkpoint, bytes]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """The files of an exported pack, a checkpoint kept at release, the workspace's key."""
    _, files, kept, key = released_pack(tmp_path_factory.mktemp("pack"))
    return files, kept, key


def write(tmp_path: Path, files: Files, fix_manifest: bool = True) -> Path:
    """A pack with `files`; the manifest's hashes recomputed as a careful forger would."""
    files = dict(files)
    if fix_manifest:
        manifest = json.loads(files["manifest.json"])
        manifest["files"] = {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in files.items()
            if name not in ("manifest.json", "manifest.sig")
        }
        files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode()
    path = tmp_path / "tampered.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def events_edit(files: Files, change: Callable[[list[dict]], None]) -> Files:
    events = json.loads(files["events.json"])
    change(events)
    return {**files, "events.json": json.dumps(events).encode()}


def test_untouched_pack_verifies_with_the_key_and_the_kept_checkpoint(
    exported: Exported, tmp_path: Path
) -> None:
    files, kept, key = exported
    path = write(tmp_path, files, fix_manifest=False)
    assert verify_pack(path, trusted={key}) == []
    assert verify_pack(path, trusted={key, kept}) == []
    assert verify_pack(path, trusted=kept) == []


def _second_event_actor(events: list[dict]) -> None:
    events[1]["actor"] = "mallory"


def _drop_second(events: list[dict]) -> None:
    del events[1]


def _swap(events: list[dict]) -> None:
    events[1], events[2] = events[2], events[1]


def _insert(events: list[dict]) -> None:
    events.append({**events[-1], "seq": 10_000, "type": "approval.approved"})


def _backdate(events: list[dict]) -> None:
    events[3]["at"] = "2001-01-01T00:00:00.000000Z"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_second_event_actor, "differs from what the log recorded (edited)"),
        (_swap, "out of order (reordered events)"),
        (_insert, "is not in the signed log (inserted)"),
        (_backdate, "(backdated)"),
    ],
)
def test_event_tampering_is_named(
    exported: Exported, tmp_path: Path, change: Callable, expected: str
) -> None:
    files, _, key = exported
    failures = verify_pack(write(tmp_path, events_edit(files, change)), trusted={key})
    assert any(expected in f for f in failures), failures
    assert "manifest.sig: the manifest's signature does not verify" in failures


def test_deleted_event_breaks_the_signed_manifest(exported: Exported, tmp_path: Path) -> None:
    files, _, key = exported
    failures = verify_pack(write(tmp_path, events_edit(files, _drop_second)), trusted={key})
    assert failures == ["manifest.sig: the manifest's signature does not verify"]


def test_swapped_evidence_is_named(exported: Exported, tmp_path: Path) -> None:
    files, _, key = exported
    name = next(n for n in files if n.startswith("evidence/files/"))
    failures = verify_pack(write(tmp_path, {**files, name: b"other evidence"}), trusted={key})
    assert f"{name}: content does not match its digest name (evidence swapped)" in failures


def test_replayed_approval_is_named(exported: Exported, tmp_path: Path) -> None:
    files, _, key = exported
    approvals = json.loads(files["approvals.json"])
    approvals.append({**approvals[0], "person": "frank@example.com"})
    failures = verify_pack(
        write(tmp_path, {**files, "approvals.json": json.dumps(approvals).encode()}),
        trusted={key},
    )
    assert any("approval by frank@example.com" in f and "replayed" in f for f in failures)


def test_edited_manifest_entry_and_added_file(exported: Exported, tmp_path: Path) -> None:
    files, _, key = exported
    manifest = json.loads(files["manifest.json"])
    manifest["files"]["index.html"]["sha256"] = "0" * 64
    edited = {**files, "manifest.json": json.dumps(manifest).encode()}
    failures = verify_pack(write(tmp_path, edited, fix_manifest=False), trusted={key})
    assert "index.html: sha256 does not match the manifest (file altered)" in failures
    assert "manifest.sig: the manifest's signature does not verify" in failures
    added = verify_pack(
        write(tmp_path, {**files, "extra.txt": b"x"}, fix_manifest=False), trusted={key}
    )
    assert "extra.txt: in the pack but not in the manifest (file added)" in added


def test_a_forged_later_checkpoint_does_not_verify(exported: Exported, tmp_path: Path) -> None:
    """A kept checkpoint claiming more events than it was signed for is refused (a genuinely
    newer one needs a consistency proof: tests/exports/test_standard_log.py)."""
    files, kept, key = exported
    later = Checkpoint(kept.size + 5, "ab" * 32, kept.at, kept.key_id, kept.signature, kept.origin)
    failures = verify_pack(write(tmp_path, files, fix_manifest=False), trusted={key, later})
    assert any("signature does not verify" in f for f in failures), failures


def test_history_rewritten_and_re_signed_with_another_key(
    exported: Exported, tmp_path: Path
) -> None:
    """A forger with their own key can make a self-consistent pack; the auditor's key or
    kept checkpoint exposes it."""
    files, kept, key = exported
    forger = SigningKey.generate()
    events = json.loads(files["events.json"])
    events[1]["actor"] = "mallory"
    leaves = [bytes.fromhex(h) for h in files["log/leaves.txt"].decode().split()]
    leaves[events[1]["seq"] - 1] = leaf_hash(canonical_json(events[1]))
    cp = Checkpoint.parse_kept(files["log/checkpoint"].decode())
    cp = sign_checkpoint(cp.origin, cp.size, root(leaves), cp.at, forger)
    keys = [
        {
            "key_id": forger.key_id,
            "purpose": "workspace",
            "public_key": b64(forger.public_raw),
            "valid_from": "2000-01-01T00:00:00.000000Z",
            "valid_until": None,
        }
    ]
    forged = {
        **files,
        "events.json": json.dumps(events).encode(),
        "log/leaves.txt": "".join(h.hex() + "\n" for h in leaves).encode(),
        "log/checkpoint": cp.note().encode(),
        "keys.json": json.dumps(keys).encode(),
        "log/proofs.json": b"{}",
    }
    with zipfile.ZipFile(write(tmp_path, forged)) as zf:
        content = {n: zf.read(n) for n in zf.namelist()}
    content["manifest.sig"] = json.dumps(
        {"key_id": forger.key_id, "signature": b64(forger.sign(content["manifest.json"]))}
    ).encode()
    path = write(tmp_path, content, fix_manifest=False)
    for trusted in ({key}, {key, kept}, kept):
        failures = verify_pack(path, trusted=trusted)
        assert any("re-signed with another key" in f for f in failures), (trusted, failures)


def test_matrix_claiming_more_than_the_records_is_named(exported: Exported, tmp_path: Path) -> None:
    files, _, key = exported
    forged = files["control-matrix.csv"].replace(b"not covered", b"covered")
    assert forged != files["control-matrix.csv"]
    failures = verify_pack(write(tmp_path, {**files, "control-matrix.csv": forged}), trusted={key})
    assert "control-matrix.csv: does not match what the pack's own records cover" in failures


def test_control_matrix_is_in_the_pack_and_index(exported: Exported) -> None:
    files, _, _ = exported
    rows = files["control-matrix.csv"].decode().splitlines()
    assert rows[0] == "requirement,control,text,status,criteria,evidence,note"
    assert len(rows) == 13  # every requirement of A.6.2.5, B.6.2.5 and practice
    assert any(r.startswith("B.6.2.5-approvals,") and ",covered," in r for r in rows)
    assert b"ISO/IEC 42001 control matrix" in files["index.html"]


def test_altered_signed_approval_is_named(exported: Exported, tmp_path: Path) -> None:
    """Changing the role inside a signed approval breaks its signature, named by file."""
    files, _, key = exported
    name = next(n for n in files if n.startswith("signed/approvals/"))
    envelope = json.loads(files[name])
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["role"] = "security"
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    failures = verify_pack(
        write(tmp_path, {**files, name: json.dumps(envelope).encode()}), trusted={key}
    )
    assert any(f.startswith(f"{name}: ") and "signature" in f for f in failures), failures


def test_pack_holds_signed_statements_and_people_keys(exported: Exported) -> None:
    files, _, _ = exported
    assert sum(n.startswith("signed/approvals/") for n in files) == 2
    assert any(n.startswith("signed/attestations/") for n in files)
    people = json.loads(files["people-keys.json"])
    assert {p["person"] for p in people} >= {"dana@example.com", "erik@example.com"}
