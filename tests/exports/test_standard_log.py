"""Checkpoints are C2SP tlog-checkpoint signed notes that a verifier written here from the
specifications accepts; consistency proofs are RFC 9162's; an older pack verifies against a
newer checkpoint with a proof, is only "older" without one, and fails with a forged one."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import click.testing
import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from clearance.cli.main import main
from clearance.cli.output import console
from clearance.core.checkpoint import Checkpoint, legacy_message
from clearance.errors import UsageError
from clearance.exports.packverify import verify_pack
from clearance.services.log import latest, log_origin, sign_checkpoint, verify_log
from clearance.settings import Settings
from clearance.signing import SigningKey, b64
from clearance.signing.statements import public_key_pem
from clearance.store import repository as repo
from clearance.store import tables as t
from tests.builders import (
    approve_release,
    export,
    load,
    open_workspace,
    register_signers,
    release,
    write_plan_folder,
)

# -- an independent signed-note and RFC 9162 verifier, from the specifications ---------------
# c2sp.org/signed-note, c2sp.org/tlog-checkpoint, RFC 9162 2.1; nothing from Clearance.


def key_id(name: str, public: bytes, kind: int = 0x01) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()[:4]


def open_note(note: str, name: str, public: bytes) -> tuple[str, int, bytes]:
    """(origin, size, root) of a checkpoint note signed by (name, Ed25519 key); ValueError."""
    if not note.endswith("\n") or any(ord(c) < 0x20 and c != "\n" for c in note):
        raise ValueError("malformed note")
    split = note.rfind("\n\n")
    if split < 0:
        raise ValueError("malformed note")
    text, sigs = note[: split + 1], note[split + 2 :]
    verified = False
    for line in sigs.removesuffix("\n").split("\n"):
        if not line.startswith("\u2014 "):
            raise ValueError("malformed note")
        signer, encoded = line[2:].split(" ")
        raw = base64.b64decode(encoded, validate=True)
        if signer != name or raw[:4] != key_id(name, public):
            continue  # signatures of unknown keys are ignored
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], text.encode())
        except InvalidSignature:
            raise ValueError("invalid signature") from None
        verified = True
    if not verified:
        raise ValueError("no signature by a known key")
    lines = text.split("\n")[:-1]
    if len(lines) < 3 or not lines[1].isdigit() or (lines[1] != "0" and lines[1][0] == "0"):
        raise ValueError("not a checkpoint")
    return lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)


def cosigned_time(note: str, name: str, public: bytes) -> int:
    """The timestamp of the (name, key) Ed25519 cosignature (c2sp.org/tlog-cosignature)."""
    text, _, sigs = note.rpartition("\n\n")
    for line in sigs.splitlines():
        signer, encoded = line[2:].split(" ")
        raw = base64.b64decode(encoded)
        if signer == name and raw[:4] == key_id(name, public, 0x04):
            stamp = int.from_bytes(raw[4:12], "big")
            message = f"cosignature/v1\ntime {stamp}\n{text}\n".encode()
            Ed25519PublicKey.from_public_bytes(public).verify(raw[12:], message)
            return stamp
    raise ValueError("no cosignature")


def mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def consistent(m: int, n: int, first: bytes, second: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 2.1.4.2, step by step."""
    if m == n:
        return not proof and first == second
    if m == 0 or m > n or not proof:
        return False
    if m & (m - 1) == 0:  # a power of two: prepend first_hash
        proof = [first, *proof]
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = hashlib.sha256(b"\x01" + c + fr).digest()
            sr = hashlib.sha256(b"\x01" + c + sr).digest()
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = hashlib.sha256(b"\x01" + sr + c).digest()
        fn, sn = fn >> 1, sn >> 1
    return fr == first and sr == second and sn == 0


# -- a workspace with a released, exported candidate ------------------------------------------


class Made(NamedTuple):
    ws: Any
    local: Any
    pack: Path
    receipt: Any
    public: bytes
    top: Path


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Made]:
    top = tmp_path_factory.mktemp("log")
    ws = open_workspace(top / ".clearance")
    register_signers(ws)
    local = load(ws, write_plan_folder(top / "p"))
    approve_release(ws, local)
    release(ws, local)
    pack = top / "pack.zip"
    export(ws, local, pack)
    receipt = ws.last_receipt
    yield Made(ws, local, pack, receipt, ws.signing_key.public_raw, top)
    ws.close()


def leaves(ws: Any, size: int) -> list[bytes]:
    with ws.engine.connect() as conn:
        return [bytes.fromhex(h) for h in repo.leaf_hash_lines(conn, size).decode().split()]


def run(*args: str | Path) -> tuple[int, str, str]:
    console.cache_clear()
    with click.testing.CliRunner().isolation() as (out, err, _):
        with pytest.raises(SystemExit) as exit_:
            main([str(a) for a in args])
        return int(exit_.value.code or 0), out.getvalue().decode(), err.getvalue().decode()


def test_checkpoints_verify_with_an_independent_signed_note_verifier(made: Made) -> None:
    cp = latest(made.ws)
    origin = cp.origin
    found_origin, size, top = open_note(cp.note(), origin, made.public)
    assert (found_origin, size) == (origin, cp.size)
    assert top == mth(leaves(made.ws, size))  # the RFC 6962 root, as 32 bytes in base64
    assert cp.note().split("\n")[2] == base64.b64encode(top).decode()
    stamp = cosigned_time(cp.note(), origin, made.public)
    assert cp.at[:19] == datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    # the receipt of the export carries a note too
    note = made.receipt.as_json()["checkpoint"]["note"]
    assert open_note(note, origin, made.public)[1] == made.receipt.checkpoint.size


def test_the_origin_is_unique_per_workspace_and_configurable(made: Made, tmp_path: Path) -> None:
    other = open_workspace(tmp_path / ".clearance")
    try:
        with other.engine.connect() as conn:
            theirs = log_origin(other, conn)
        assert theirs != latest(made.ws).origin
        assert theirs.startswith("clearance.local/") and " " not in theirs
    finally:
        other.close()
    configured = open_workspace(tmp_path / "named" / ".clearance")
    configured.settings = replace(configured.settings, log_origin="audit.example.com/credit")
    configured.log_origin_cache = None
    try:
        register_signers(configured)
        cp = latest(configured)
        assert cp.origin == "audit.example.com/credit"
        public = configured.signing_key.public_raw
        assert open_note(cp.note(), cp.origin, public)[:2] == (cp.origin, cp.size)
        assert verify_log(configured).failures == []  # earlier notes keep their own origin
    finally:
        configured.close()


def test_an_origin_that_cannot_be_a_key_name_is_refused(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / ".clearance")
    ws.settings = replace(ws.settings, log_origin="my log+1")
    ws.log_origin_cache = None
    try:
        with pytest.raises(UsageError, match="no spaces or plus signs"):
            register_signers(ws)
    finally:
        ws.close()
    assert Settings.from_env({"CLEARANCE_LOG_ORIGIN": "x.example/y"}).log_origin == "x.example/y"


def test_a_note_with_a_wrong_key_hash_is_refused_by_both_verifiers(made: Made) -> None:
    """Signed with the right key, but under a key ID computed for another name."""
    cp = latest(made.ws)
    key = made.ws.signing_key
    wrong = key_id("someone.else/log", made.public) + key.sign(cp.body())
    note = cp.body().decode() + f"\n\u2014 {cp.origin} {b64(wrong)}\n"
    with pytest.raises(ValueError, match="no signature by a known key"):
        open_note(note, cp.origin, made.public)
    forged = replace(Checkpoint.from_note(note), key_id="")
    failures = verify_pack(made.pack, trusted={made.public, forged})
    assert any("kept checkpoint is signed by none of the keys you trust" in f for f in failures)


def test_a_legacy_checkpoint_in_the_database_still_verifies(tmp_path: Path) -> None:
    """Rows written before notes (hex root, time signed beside it) are read and verified."""
    ws = open_workspace(tmp_path / ".clearance")
    try:
        register_signers(ws)
        cp = latest(ws)
        key = ws.signing_key
        at = cp.at[:19] + ".999999Z"  # legacy times kept their microseconds
        signature = b64(key.sign(legacy_message(cp.size, cp.root, at)))
        with ws.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS checkpoints_no_update")
            conn.execute(
                sa.update(t.checkpoints).where(t.checkpoints.c.size == cp.size),
                {"signature": signature, "at": at},
            )
        stored = latest(ws)
        assert stored.legacy and stored.signature == signature
        assert verify_log(ws).failures == []
        assert verify_log(ws, stored).failures == []
        register_signers(ws, {"frank@example.com": ["model-risk"]})  # the log goes on
        assert not latest(ws).legacy and verify_log(ws, stored).failures == []
    finally:
        ws.close()


def test_log_consistency_writes_an_rfc9162_proof(made: Made, tmp_path: Path) -> None:
    size = latest(made.ws).size
    out = tmp_path / "proof.json"
    code, stdout, err = run(
        "--workspace", made.ws.settings.workspace, "log", "consistency", "3", str(size), "-o", out
    )
    assert code == 0, err
    proof = json.loads(out.read_text())
    assert json.loads(stdout) == proof
    hashes = [bytes.fromhex(h) for h in proof["proof"]]
    all_leaves = leaves(made.ws, size)
    assert consistent(3, size, mth(all_leaves[:3]), mth(all_leaves), hashes)
    assert not consistent(3, size, mth(all_leaves[:3]), mth(all_leaves), hashes[::-1])
    code, _, err = run("--workspace", made.ws.settings.workspace, "log", "consistency", "5", "4")
    assert code == 2 and "TO must be between FROM" in err


def newer(made: Made, tmp_path: Path) -> tuple[Path, Path, int]:
    """A checkpoint kept after more writes, and the consistency proof from the pack's log."""
    register_signers(made.ws, {"frank@example.com": ["model-risk"]})
    kept = tmp_path / "latest.note"
    code, _, err = run("--workspace", made.ws.settings.workspace, "log", "checkpoint", "-o", kept)
    assert code == 0, err
    assert kept.read_text() == latest(made.ws).note()
    pack_size = made.receipt.consistency["old_size"]
    proof = tmp_path / "proof.json"
    code, _, err = run(
        "--workspace", made.ws.settings.workspace, "log", "consistency", pack_size, "-o", proof
    )
    assert code == 0, err
    return kept, proof, pack_size


def test_older_pack_against_a_newer_checkpoint(made: Made, tmp_path: Path) -> None:
    key = tmp_path / "workspace.pub"
    key.write_text(public_key_pem(made.public))
    kept, proof, size = newer(made, tmp_path)
    base = ("pack", "verify", made.pack, "--key", key, "--checkpoint", kept)

    code, out, err = run(*base)
    assert code == 2, out + err
    assert "older than the checkpoint" in err and "tampered" not in err
    assert f"clearance log consistency {size} " in err
    with pytest.raises(UsageError, match="older than the checkpoint"):
        verify_pack(made.pack, trusted={made.public, Checkpoint.parse_kept(kept.read_text())})

    code, out, err = run(*base, "--consistency", proof)
    assert code == 0, out + err
    assert "verified" in out

    forged = json.loads(proof.read_text())
    forged["proof"] = [hashlib.sha256(h.encode()).hexdigest() for h in forged["proof"]]
    bad = tmp_path / "forged.json"
    bad.write_text(json.dumps(forged))
    code, out, err = run(*base, "--consistency", bad)
    assert code == 3, out + err
    assert "the consistency proof does not prove" in err


def test_the_exports_own_receipt_verifies_against_its_pack(made: Made, tmp_path: Path) -> None:
    key = tmp_path / "workspace.pub"
    key.write_text(public_key_pem(made.public))
    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps(made.receipt.as_json()))
    assert made.receipt.checkpoint.size > made.receipt.consistency["old_size"]
    code, out, err = run("pack", "verify", made.pack, "--key", key, "--checkpoint", receipt)
    assert code == 0, out + err


def test_a_pack_re_signed_with_another_key_fails_against_the_kept_note(
    made: Made, tmp_path: Path
) -> None:
    """A checkpoint note made by another key under the workspace's origin is not trusted."""
    other = SigningKey.generate()
    cp = latest(made.ws)
    forged = sign_checkpoint(cp.origin, cp.size, bytes.fromhex(cp.root), cp.at, other)
    kept = tmp_path / "forged.note"
    kept.write_text(forged.note())
    key = tmp_path / "workspace.pub"
    key.write_text(public_key_pem(made.public))
    code, out, err = run("pack", "verify", made.pack, "--key", key, "--checkpoint", kept)
    assert code == 3, out + err
    assert "kept checkpoint is signed by none of the keys you trust" in err


def resigned(made: Made, tmp_path: Path, files: dict[str, bytes]) -> Path:
    """`files` as a pack whose manifest the workspace key signs again (as it would have)."""
    import zipfile

    from tests.services.test_pack_tamper import write

    with zipfile.ZipFile(write(tmp_path, files)) as zf:
        content = {n: zf.read(n) for n in zf.namelist()}
    key = made.ws.signing_key
    content["manifest.sig"] = json.dumps(
        {"key_id": key.key_id, "signature": b64(key.sign(content["manifest.json"]))}
    ).encode()
    return write(tmp_path, content, fix_manifest=False)


def pack_files(made: Made) -> dict[str, bytes]:
    import zipfile

    with zipfile.ZipFile(made.pack) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def test_a_pack_with_a_legacy_checkpoint_still_verifies(made: Made, tmp_path: Path) -> None:
    """Packs exported before notes hold log/checkpoint.json (hex root, signed time)."""
    files = pack_files(made)
    note = Checkpoint.parse_kept(files.pop("log/checkpoint").decode())
    key = made.ws.signing_key
    at = note.at[:19] + ".999999Z"
    legacy = Checkpoint(
        note.size,
        note.root,
        at,
        key.key_id,
        b64(key.sign(legacy_message(note.size, note.root, at))),
    )
    files["log/checkpoint.json"] = json.dumps(legacy.as_json()).encode()
    files = {n: b for n, b in files.items() if not n.startswith("keys/")}  # as packs were
    assert verify_pack(resigned(made, tmp_path, files), trusted={made.public}) == []


def test_a_swapped_key_file_is_named(made: Made, tmp_path: Path) -> None:
    """An auditor who loads the pack's PEM must get the key keys.json holds."""
    files = pack_files(made)
    name = next(n for n in files if n.startswith("keys/workspace-") and n.endswith(".pem"))
    files[name] = public_key_pem(SigningKey.generate().public_raw).encode()
    failures = verify_pack(resigned(made, tmp_path, files), trusted={made.public})
    assert failures == [
        f"{name}: not a key that keys.json or people-keys.json holds (swapped or added)"
    ]
