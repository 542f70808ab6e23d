"""An audit pack is genuine only against a key the auditor trusts from outside the pack: a pack
re-signed with a key it carries itself is refused, zipped, re-zipped or extracted."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import click.testing
import pytest

from clearance.cli.main import main
from clearance.cli.output import console
from clearance.core.checkpoint import Checkpoint
from clearance.core.digest import canonical_json
from clearance.core.merkle import inclusion_proof, leaf_hash, root
from clearance.errors import IntegrityError, UsageError
from clearance.exports.packkeys import key_files
from clearance.exports.packsigned import verify_signed
from clearance.exports.packverify import _FolderPack, examine_pack, verify_pack
from clearance.services.log import sign_checkpoint
from clearance.signing import SigningKey, b64
from clearance.signing.statements import public_key_pem, sign_statement
from tests.builders import released_pack

Files = dict[str, bytes]
ATTACKER = SigningKey.generate()


class Made(NamedTuple):
    pack: Path
    files: Files
    kept: Checkpoint
    key: bytes

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.key).hexdigest()


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """A released candidate's pack, the checkpoint an auditor kept, the workspace's key."""
    return Made(*released_pack(tmp_path_factory.mktemp("trust")))


def zipped(path: Path, files: Files) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def signed(files: Files, key: SigningKey, key_id: str | None = None) -> Files:
    """The files with the manifest's hashes recomputed and the manifest signed by `key`."""
    manifest = json.loads(files["manifest.json"])
    manifest["files"] = {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        for name, data in files.items()
        if name not in ("manifest.json", "manifest.sig")
    }
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    signature = {"key_id": key_id or key.key_id, "signature": b64(key.sign(body))}
    return {**files, "manifest.json": body, "manifest.sig": json.dumps(signature).encode()}


def key_entry(key: SigningKey, key_id: str | None = None) -> dict[str, Any]:
    return {
        "key_id": key_id or key.key_id,
        "purpose": "workspace",
        "public_key": b64(key.public_raw),
        "valid_from": "2000-01-01T00:00:00.000000Z",
        "valid_until": None,
    }


def forge(files: Files, attacker: SigningKey, key_id: str | None = None) -> Files:
    """One event's actor changed, the leaves, root, proofs and manifest recomputed, the
    checkpoint and manifest signed by `attacker`, whose key the pack now carries (under
    `key_id` when given): a pack that holds together, made by the wrong key."""
    events = json.loads(files["events.json"])
    edited = next(e for e in events if not e["type"].startswith("approval."))
    edited["actor"] = "mallory"
    leaves = [bytes.fromhex(h) for h in files["log/leaves.txt"].decode().split()]
    leaves[edited["seq"] - 1] = leaf_hash(canonical_json(edited))
    cp = Checkpoint.parse_kept(files["log/checkpoint"].decode())
    cp = sign_checkpoint(cp.origin, cp.size, root(leaves), cp.at, attacker)
    proofs = {
        str(e["seq"]): [h.hex() for h in inclusion_proof(leaves, e["seq"] - 1)] for e in events
    }
    keys = [*(k for k in json.loads(files["keys.json"]) if k["key_id"] != key_id)]
    keys.append(key_entry(attacker, key_id))
    # A careful forger also rewrites keys/ so its PEM and key JSON files match keys.json.
    kept = {n: b for n, b in files.items() if not n.startswith("keys/")}
    people = json.loads(files["people-keys.json"])
    forged = {
        **kept,
        **key_files(keys, people, cp.origin),
        "events.json": json.dumps(events).encode(),
        "log/leaves.txt": "".join(h.hex() + "\n" for h in leaves).encode(),
        "log/checkpoint": cp.note().encode(),
        "log/proofs.json": json.dumps(proofs).encode(),
        "keys.json": json.dumps(keys).encode(),
    }
    return signed(forged, attacker, key_id)


def run(*args: str | Path) -> tuple[int, str, str]:
    """Run `clearance ARGS` in this process: exit code, stdout, stderr."""
    console.cache_clear()
    with click.testing.CliRunner().isolation() as (out, err, _):
        with pytest.raises(SystemExit) as exit_:
            main([str(a) for a in args])
        return int(exit_.value.code or 0), out.getvalue().decode(), err.getvalue().decode()


def pem(tmp_path: Path, key: bytes) -> Path:
    path = tmp_path / "workspace.pub"
    path.write_text(public_key_pem(key))
    return path


def receipt(tmp_path: Path, kept: Checkpoint) -> Path:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps({"seq": kept.size, "checkpoint": kept.as_json()}))
    return path


def anchor_args(option: str, made: Made, tmp_path: Path) -> list[str | Path]:
    """The command-line options that pin the workspace's key in the way `option` names."""
    if option == "--key":
        return ["--key", pem(tmp_path, made.key)]
    if option == "--key base64":
        return ["--key", base64.b64encode(made.key).decode()]
    if option == "--fingerprint":
        return ["--fingerprint", "sha256:" + made.fingerprint.upper()]
    return ["--checkpoint", receipt(tmp_path, made.kept)]


def extracted(made: Made, folder: Path) -> Path:
    with zipfile.ZipFile(made.pack) as zf:
        zf.extractall(folder)
    return folder


ANCHORS: dict[str, Callable[[Made], Any]] = {
    "key": lambda m: {m.key},
    "fingerprint": lambda m: {m.fingerprint},
    "prefixed upper-case fingerprint": lambda m: "SHA256:" + m.fingerprint.upper(),
    "kept checkpoint": lambda m: m.kept,
    "key and kept checkpoint": lambda m: {m.key, m.kept},
    "fingerprint and kept checkpoint": lambda m: {m.fingerprint, m.kept},
}


@pytest.mark.parametrize("anchor", ANCHORS.values(), ids=ANCHORS.keys())
def test_untouched_pack_verifies_against_each_kind_of_anchor(
    made: Made, anchor: Callable[[Made], Any]
) -> None:
    assert verify_pack(made.pack, trusted=anchor(made)) == []


def test_forged_pack_holds_together_and_shows_the_forger_key(made: Made, tmp_path: Path) -> None:
    """Without an anchor nothing but the signer's identity can tell the forgery apart."""
    report = examine_pack(zipped(tmp_path / "f.zip", forge(made.files, ATTACKER)), None)
    assert report.failures == []
    assert report.signer == ATTACKER.key_id


@pytest.mark.parametrize("anchor", ANCHORS.values(), ids=ANCHORS.keys())
def test_forged_pack_is_refused_by_each_kind_of_anchor(
    made: Made, anchor: Callable[[Made], Any], tmp_path: Path
) -> None:
    forged = zipped(tmp_path / "f.zip", forge(made.files, ATTACKER))
    failures = verify_pack(forged, trusted=anchor(made))
    assert any(
        f.startswith(f"manifest.sig: signed by {ATTACKER.key_id[:19]}…")
        and "re-signed with another key" in f
        for f in failures
    ), failures


@pytest.mark.parametrize("option", ["--key", "--key base64", "--fingerprint", "--checkpoint"])
def test_forged_pack_exits_3_with_each_option(made: Made, tmp_path: Path, option: str) -> None:
    forged = zipped(tmp_path / "f.zip", forge(made.files, ATTACKER))
    code, out, err = run("pack", "verify", forged, *anchor_args(option, made, tmp_path))
    assert code == 3, err
    assert "verified" not in out
    assert f"manifest.sig: signed by {ATTACKER.key_id[:19]}…" in err


@pytest.mark.parametrize("option", ["--key", "--key base64", "--fingerprint", "--checkpoint"])
def test_untouched_pack_exits_0_with_each_option(made: Made, tmp_path: Path, option: str) -> None:
    code, out, err = run("pack", "verify", made.pack, *anchor_args(option, made, tmp_path))
    assert code == 0, err
    assert "verified — signed by the key you trust" in out


def test_without_an_anchor_the_pack_is_not_called_verified(made: Made) -> None:
    """Exit 2, printing the signer's fingerprint and how to pin the workspace's key."""
    code, out, err = run("pack", "verify", made.pack)
    assert code == 2
    assert "verified" not in out + err
    assert made.fingerprint in err
    assert "clearance keys workspace -o workspace.pub" in err
    assert "--key workspace.pub" in err and f"--fingerprint {made.fingerprint}" in err


def test_without_an_anchor_a_forged_pack_shows_the_forger_fingerprint(
    made: Made, tmp_path: Path
) -> None:
    forged = zipped(tmp_path / "f.zip", forge(made.files, ATTACKER))
    code, _, err = run("pack", "verify", forged)
    assert code == 2
    assert ATTACKER.key_id.removeprefix("sha256:") in err
    assert made.fingerprint not in err


def test_without_an_anchor_a_tampered_pack_still_exits_3(made: Made, tmp_path: Path) -> None:
    bad = zipped(tmp_path / "bad.zip", {**made.files, "decisions.json": b"[]"})
    code, _, err = run("pack", "verify", bad)
    assert code == 3
    assert "decisions.json: sha256 does not match the manifest (file altered)" in err


def test_wrong_fingerprint_exits_3(made: Made) -> None:
    other = hashlib.sha256(SigningKey.generate().public_raw).hexdigest()
    code, _, err = run("pack", "verify", made.pack, "--fingerprint", other)
    assert code == 3
    assert "which is not a key you trust" in err


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["--fingerprint", "abc123"], "is not a key fingerprint"),
        (["--key", "missing.pub"], "no such file, nor a base64 public key"),
        (["--key", "PRIVATE"], "that is a private key; never share it"),
        (["--checkpoint", "JUNK"], "not a checkpoint or receipt"),
    ],
)
def test_unusable_anchor_exits_2(
    made: Made, tmp_path: Path, given: list[str], expected: str
) -> None:
    private = tmp_path / "workspace.pem"
    SigningKey.generate().save(private)
    junk = tmp_path / "junk.json"
    junk.write_text('{"size": 3}')
    args = [{"PRIVATE": str(private), "JUNK": str(junk)}.get(a, a) for a in given]
    code, _, err = run("pack", "verify", made.pack, *args)
    assert code == 2
    assert expected in err


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [
        ([], "nothing to trust"),
        ({b"short"}, "raw 32-byte Ed25519 public key"),
        ({1}, "cannot trust a int"),
        ("not hex", "is not a key fingerprint"),
    ],
)
def test_verify_pack_refuses_an_unusable_anchor(made: Made, trusted: Any, expected: str) -> None:
    with pytest.raises(UsageError, match=expected):
        verify_pack(made.pack, trusted=trusted)


def test_verify_pack_takes_one_kept_checkpoint(made: Made) -> None:
    other = Checkpoint(1, "ab" * 32, made.kept.at, made.kept.key_id, made.kept.signature)
    with pytest.raises(UsageError, match="give one kept checkpoint"):
        verify_pack(made.pack, trusted={made.kept, other})


def test_key_swapped_under_the_trusted_id_is_named(made: Made, tmp_path: Path) -> None:
    """The forger signs with their key but files it under the workspace key's id."""
    workspace_id = "sha256:" + made.fingerprint
    forged = zipped(tmp_path / "f.zip", forge(made.files, ATTACKER, key_id=workspace_id))
    failures = verify_pack(forged, trusted=made.fingerprint)
    assert f"keys.json: key {workspace_id[:19]}… is not the key its id names (swapped)" in failures
    assert "manifest.sig: the manifest's signature does not verify" in failures


def test_kept_checkpoint_the_trusted_key_did_not_sign_is_refused(made: Made) -> None:
    failures = verify_pack(made.pack, trusted={SigningKey.generate().public_raw, made.kept})
    assert (
        f"the kept checkpoint was signed by {made.kept.key_id[:19]}…, which is not a key you trust"
        in failures
    )


@pytest.mark.parametrize("with_key", [True, False], ids=["with key", "kept only"])
def test_kept_checkpoint_with_a_broken_signature_is_refused(made: Made, with_key: bool) -> None:
    kept = made.kept
    broken = Checkpoint(kept.size, kept.root, kept.at, kept.key_id, b64(bytes(64)))
    failures = verify_pack(made.pack, trusted={made.key, broken} if with_key else broken)
    assert (
        f"the kept checkpoint's signature does not verify with key {kept.key_id[:19]}…" in failures
    )


def test_attestation_signed_by_a_carried_key_only_is_refused(made: Made) -> None:
    """Release attestations count only when a workspace key the auditor trusts signed them."""
    name = next(n for n in made.files if n.startswith("signed/attestations/"))
    statement = json.loads(base64.b64decode(json.loads(made.files[name])["payload"]))
    files = {**made.files, name: json.dumps(sign_statement(statement, ATTACKER)).encode()}
    # the attacker's pack has no verification summary of the workspace's (signed/vsa/)
    files = {n: data for n, data in files.items() if not n.startswith("signed/vsa/")}
    candidate = json.loads(made.files["manifest.json"])["candidate"]
    trusted = {"sha256:" + made.fingerprint: made.key}
    failures = verify_signed(files, candidate, trusted)
    assert any(f.startswith(f"{name}: not signed by a workspace key you trust") for f in failures)
    assert verify_signed(files, candidate, {ATTACKER.key_id: ATTACKER.public_raw}) == []


def _member_data(data: bytearray, name: str) -> slice:
    """Where a member's compressed bytes lie in the zip."""
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo(name)
    at = info.header_offset
    name_len, extra_len = struct.unpack("<HH", data[at + 26 : at + 30])
    start = at + 30 + name_len + extra_len
    return slice(start, start + info.compress_size)


def _flip_middle_byte(member: bytes) -> bytes:
    middle = len(member) // 2
    return member[:middle] + bytes([member[middle] ^ 0xFF]) + member[middle + 1 :]


def _garbage(member: bytes) -> bytes:
    return b"\xff" * len(member)


def _truncated(member: bytes) -> bytes:
    """The first half of the deflate stream, then zeros where the rest was."""
    half = len(member) // 2
    return member[:half] + bytes(len(member) - half)


@pytest.mark.parametrize(
    ("method", "damage"),
    [
        (zipfile.ZIP_STORED, _flip_middle_byte),  # a bad CRC (zipfile.BadZipFile)
        (zipfile.ZIP_DEFLATED, _garbage),  # an invalid deflate block (zlib.error)
        (zipfile.ZIP_DEFLATED, _truncated),  # deflate data cut short (zlib.error)
    ],
    ids=["bad CRC", "broken deflate", "truncated deflate"],
)
def test_corrupt_member_exits_3_naming_it(
    made: Made, tmp_path: Path, method: int, damage: Callable[[bytes], bytes]
) -> None:
    path = tmp_path / "corrupt.zip"
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, content in made.files.items():
            zf.writestr(name, content)
    data = bytearray(path.read_bytes())
    where = _member_data(data, "decisions.json")
    data[where] = damage(bytes(data[where]))
    path.write_bytes(bytes(data))
    code, _, err = run("pack", "verify", path, "--fingerprint", made.fingerprint)
    assert code == 3, err
    assert "decisions.json cannot be read from the zip" in err
    with pytest.raises(IntegrityError, match=r"decisions\.json cannot be read"):
        verify_pack(path, trusted={made.key})


def test_rezipped_pack_with_folder_entries_verifies(made: Made, tmp_path: Path) -> None:
    folder = extracted(made, tmp_path / "x")
    again = Path(shutil.make_archive(str(tmp_path / "again"), "zip", folder))
    with zipfile.ZipFile(again) as zf:
        assert "evidence/files/" in zf.namelist()
    assert verify_pack(again, trusted={made.key}) == []


def test_folder_entry_with_content_is_an_added_file(made: Made, tmp_path: Path) -> None:
    path = zipped(tmp_path / "p.zip", {**made.files, "evidence/": b"hidden"})
    failures = verify_pack(path, trusted={made.key})
    assert failures == ["evidence/: in the pack but not in the manifest (file added)"]


def test_extracted_folder_verifies(made: Made, tmp_path: Path) -> None:
    folder = extracted(made, tmp_path / "x")
    assert verify_pack(folder, trusted={made.key}) == []
    code, out, err = run("pack", "verify", folder, "--key", pem(tmp_path, made.key))
    assert code == 0, err
    assert "verified" in out


def test_tampered_extracted_folder_exits_3(made: Made, tmp_path: Path) -> None:
    folder = extracted(made, tmp_path / "x")
    (folder / "decisions.json").write_text("[]")
    (folder / "notes").mkdir()
    (folder / "notes/extra.txt").write_text("x")
    code, _, err = run("pack", "verify", folder, "--fingerprint", made.fingerprint)
    assert code == 3
    assert "decisions.json: sha256 does not match the manifest (file altered)" in err
    assert "notes/extra.txt: in the pack but not in the manifest (file added)" in err


def test_forged_extracted_folder_is_refused(made: Made, tmp_path: Path) -> None:
    folder = tmp_path / "x"
    for name, data in forge(made.files, ATTACKER).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    assert examine_pack(folder, None).failures == []
    failures = verify_pack(folder, trusted={made.key})
    assert any(f.startswith(f"manifest.sig: signed by {ATTACKER.key_id[:19]}…") for f in failures)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("outside", "a link out of the pack folder (not followed)"),
        (".", "a link to something that is not a file (not followed)"),
    ],
)
def test_links_in_a_folder_are_not_followed(
    made: Made, tmp_path: Path, target: str, expected: str
) -> None:
    folder = extracted(made, tmp_path / "x")
    name = next(n for n in made.files if n.startswith("evidence/files/"))
    outside = tmp_path / "outside"
    outside.write_bytes(made.files[name])  # the same bytes: only where they are is wrong
    (folder / name).unlink()
    (folder / name).symlink_to(outside if target == "outside" else folder)
    failures = verify_pack(folder, trusted={made.key})
    assert f"{name}: {expected}" in failures
    assert f"{name}: listed in the manifest but missing from the pack" in failures


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_in_a_folder_is_named_not_read(made: Made, tmp_path: Path) -> None:
    folder = extracted(made, tmp_path / "x")
    os.mkfifo(folder / "pipe")
    failures = verify_pack(folder, trusted={made.key})
    assert failures == ["pipe: not a regular file"]


def test_file_swapped_for_a_link_while_verifying_is_not_read(made: Made, tmp_path: Path) -> None:
    folder = extracted(made, tmp_path / "x")
    pack = _FolderPack(folder)
    (folder / "index.html").unlink()
    (folder / "index.html").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UsageError, match=r"index\.html: cannot be read"):
        b"".join(pack.chunks("index.html"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_unlistable_folder_exits_2(made: Made, tmp_path: Path) -> None:
    folder = extracted(made, tmp_path / "x")
    (folder / "evidence").chmod(0)
    try:
        code, _, err = run("pack", "verify", folder, "--fingerprint", made.fingerprint)
    finally:
        (folder / "evidence").chmod(0o755)
    assert code == 2
    assert "evidence: cannot be listed" in err


def test_missing_pack_exits_2(made: Made, tmp_path: Path) -> None:
    code, _, err = run("pack", "verify", tmp_path / "nope", "--fingerprint", made.fingerprint)
    assert code == 2
    assert "no such file or folder" in err
