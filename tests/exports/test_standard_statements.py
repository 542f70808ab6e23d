"""Signed statements any in-toto tool accepts: envelopes verify with securesystemslib's own
key loading and no Clearance code, keys ship as PEM and securesystemslib JSON, the SLSA VSA
parses with the in-toto-attestation package, statements name approvals by the sha256 of the
files shipped; release attestations carry their target and expiry and can be revoked."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

import click.testing
import pytest
import yaml
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from google.protobuf import json_format
from in_toto_attestation.predicates.vsa.v1 import vsa_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey  # type: ignore[attr-defined]

from clearance.cli.main import main
from clearance.cli.output import console
from clearance.errors import ConflictError
from clearance.exports.packverify import verify_pack
from clearance.services.attestations import latest_attestation
from clearance.services.revocations import revocation_list, revoke, revoked
from clearance.signing import SigningKey, key_id
from clearance.signing.statements import (
    public_key_pem,
    shipped_bytes,
    sign_statement,
    verify_attestation,
)
from tests.builders import (
    acting,
    approve_release,
    check,
    export,
    load,
    open_workspace,
    register_signers,
    release,
    signoff,
    write_plan_folder,
)

RELEASE_TYPE = "https://clearance.dev/release-decision/v1"


class Made(NamedTuple):
    files: dict[str, bytes]
    public: bytes
    pack: Path


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Made]:
    top = tmp_path_factory.mktemp("statements")
    ws = open_workspace(top / ".clearance")
    register_signers(ws)
    local = load(ws, write_plan_folder(top / "p"))
    approve_release(ws, local)
    release(ws, local)
    pack = top / "pack.zip"
    export(ws, local, pack)
    with zipfile.ZipFile(pack) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    yield Made(files, ws.signing_key.public_raw, pack)
    ws.close()


def payload(envelope: bytes) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(base64.b64decode(json.loads(envelope)["payload"]))
    return found


def named(files: dict[str, bytes], folder: str) -> list[str]:
    return sorted(n for n in files if n.startswith(folder + "/") and n.endswith(".dsse.json"))


def sslib_verifies(envelope: bytes, key: SSlibKey) -> bool:
    """securesystemslib alone: it only tries keys whose keyid the signature names."""
    try:
        Envelope.from_dict(json.loads(envelope)).verify([key], 1)
    except VerificationError:
        return False
    return True


def test_attestations_and_approvals_verify_with_securesystemslib_alone(made: Made) -> None:
    files = made.files
    workspace_pem = [n for n in files if n.startswith("keys/workspace-") and n.endswith(".pem")]
    assert len(workspace_pem) == 1
    from_pem = SSlibKey.from_crypto(load_pem_public_key(files[workspace_pem[0]]))
    as_json = json.loads(files[workspace_pem[0].removesuffix(".pem") + ".sslib.json"])
    from_json = SSlibKey.from_dict(as_json.pop("keyid"), as_json)
    assert from_json.keyid == from_pem.keyid
    workspace_signed = [*named(files, "signed/attestations"), *named(files, "signed/vsa")]
    assert workspace_signed
    for name in workspace_signed:
        assert sslib_verifies(files[name], from_pem), name
        assert sslib_verifies(files[name], from_json), name
    approvals = named(files, "signed/approvals")
    assert len(approvals) == 2
    for name in approvals:
        person = payload(files[name])["predicate"]["person"]
        pems = [n for n in files if n.startswith(f"keys/people/{person}-") and n.endswith(".pem")]
        keys = [SSlibKey.from_crypto(load_pem_public_key(files[p])) for p in pems]
        assert any(sslib_verifies(files[name], k) for k in keys), name
        # another person's key does not verify it
        others = [n for n in files if n.startswith("keys/people/") and n.endswith(".pem")]
        wrong = [SSlibKey.from_crypto(load_pem_public_key(files[p])) for p in others]
        assert sum(sslib_verifies(files[name], k) for k in wrong) == 1


def test_an_attestation_re_signed_with_another_key_fails_securesystemslib(made: Made) -> None:
    name = named(made.files, "signed/attestations")[0]
    attacker = SigningKey.generate()
    forged = json.dumps(sign_statement(payload(made.files[name]), attacker)).encode()
    trusted = SSlibKey.from_crypto(load_pem_public_key(public_key_pem(made.public).encode()))
    assert not sslib_verifies(forged, trusted)
    # nor by pinning the keyid: the signature is the attacker's
    envelope = json.loads(forged)
    envelope["signatures"][0]["keyid"] = trusted.keyid
    assert not sslib_verifies(json.dumps(envelope).encode(), trusted)


def test_envelopes_with_the_old_keyid_still_verify(tmp_path: Path) -> None:
    """Envelopes signed before standard key ids carry `sha256:<hex of the raw key>`; the key
    is chosen by who holds it, so they verify and name their signer as before."""
    from clearance.services.auth import signer_of
    from clearance.signing.statements import ADMIN_V1

    ws = open_workspace(tmp_path / ".clearance")
    try:
        dana = register_signers(ws, {"dana@example.com": ["model-risk"]})["dana@example.com"]
        fresh = acting(ws, "dana@example.com").admin_statement("person.add", {"name": "x"})
        standard = SSlibKey.from_crypto(dana.private.public_key()).keyid
        assert fresh["signatures"][0]["keyid"] == standard
        legacy = sign_like(key_id(dana.public_raw), payload(json.dumps(fresh).encode()), dana)
        for signed in (fresh, legacy):
            with ws.engine.connect() as conn:
                person, _, _, kid = signer_of(conn, signed, ADMIN_V1)
            assert (person.name, kid) == ("dana@example.com", key_id(dana.public_raw))
        unknown = sign_like("0" * 64, payload(json.dumps(fresh).encode()), dana)
        with ws.engine.connect() as conn, pytest.raises(Exception, match="no registered"):
            signer_of(conn, unknown, ADMIN_V1)
    finally:
        ws.close()


def sign_like(keyid: str, stmt: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """`stmt` signed by `key` under `keyid`, as securesystemslib signs."""
    from clearance.core.digest import canonical_json

    public = SSlibKey.from_crypto(key.private.public_key(), keyid=keyid)
    signed = Envelope(canonical_json(stmt), "application/vnd.in-toto+json", {})
    signed.sign(CryptoSigner(key.private, public))
    result: dict[str, Any] = signed.to_dict()
    return result


def test_the_vsa_parses_and_validates_with_in_toto_attestation(made: Made) -> None:
    names = named(made.files, "signed/vsa")
    assert len(names) == len(named(made.files, "signed/attestations")) == 1
    stmt = payload(made.files[names[0]])
    parsed = json_format.ParseDict(stmt, statement_pb2.Statement())
    Statement.copy_from_pb(parsed).validate()
    assert parsed.predicate_type == "https://slsa.dev/verification_summary/v1"
    # The spec makes verifiedLevels an array; the package's proto still has one string
    # (in-toto/attestation#425, fixed by #429): parse the rest strictly, check it by the spec.
    predicate = dict(stmt["predicate"])
    levels = predicate.pop("verifiedLevels")
    assert isinstance(levels, list) and levels and all(isinstance(v, str) for v in levels)
    assert not any(v.startswith("SLSA_") for v in levels)  # custom values must not be SLSA_
    summary = json_format.ParseDict(predicate, vsa_pb2.VerificationSummary())
    assert summary.verification_result == "PASSED"
    assert summary.verifier.id and summary.resource_uri
    assert summary.time_verified.seconds > 0 and summary.policy.digest["sha256"]
    source = summary.input_attestations[0]
    assert source.uri == named(made.files, "signed/attestations")[0]
    assert source.digest["sha256"] == hashlib.sha256(made.files[source.uri]).hexdigest()
    assert [s["digest"] for s in stmt["subject"]] == [
        s["digest"] for s in payload(made.files[source.uri])["subject"]
    ]


def test_statements_name_approvals_by_the_sha256_of_the_files_shipped(made: Made) -> None:
    attestation = payload(made.files[named(made.files, "signed/attestations")[0]])
    shipped = {
        "sha256:" + hashlib.sha256(made.files[n]).hexdigest()
        for n in named(made.files, "signed/approvals")
    }
    assert attestation["predicate"]["approvals"]
    assert set(attestation["predicate"]["approvals"]) <= shipped
    sums = made.files["SHA256SUMS"].decode()
    for digest in attestation["predicate"]["approvals"]:
        assert digest.removeprefix("sha256:") in sums


def test_the_pack_refuses_a_vsa_for_another_attestation(made: Made, tmp_path: Path) -> None:
    from tests.services.test_pack_tamper import write

    name = named(made.files, "signed/vsa")[0]
    stmt = payload(made.files[name])
    stmt["predicate"]["inputAttestations"][0]["digest"]["sha256"] = "0" * 64
    key = SigningKey.generate()
    files = {**made.files, name: shipped_bytes(sign_statement(stmt, key))}
    failures = verify_pack(write(tmp_path, files), trusted={made.public})
    assert any(f.startswith(f"{name}: not signed by a workspace key you trust") for f in failures)


def test_attestations_name_their_target_and_expiry(made: Made) -> None:
    envelope = made.files[named(made.files, "signed/attestations")[0]]
    predicate = payload(envelope)["predicate"]
    assert predicate["target"] == "production"
    assert predicate["system"] and predicate["version"]
    from clearance.store.records import from_time

    lifetime = from_time(predicate["expires"]) - from_time(predicate["time"])
    assert lifetime == timedelta(days=30)
    subject = "sha256:" + payload(envelope)["subject"][0]["digest"]["sha256"]
    now = from_time(predicate["time"])
    assert verify_attestation(envelope, subject, made.public, target="production", now=now) == []
    later = verify_attestation(envelope, subject, made.public, now=from_time(predicate["expires"]))
    assert later == [f"it expired at {predicate['expires']} (a new GO decision issues a new one)"]
    other = verify_attestation(envelope, subject, made.public, target="staging", now=now)
    assert len(other) == 1 and "for target 'production', not 'staging'" in other[0]


# -- revocation ---------------------------------------------------------------------------


def run(*args: str | Path) -> tuple[int, str, str]:
    console.cache_clear()
    with click.testing.CliRunner().isolation() as (out, err, _):
        with pytest.raises(SystemExit) as exit_:
            main([str(a) for a in args])
        return int(exit_.value.code or 0), out.getvalue().decode(), err.getvalue().decode()


class Flow(NamedTuple):
    ws: Any
    local: Any
    tmp: Path
    key: Path


@pytest.fixture
def flow(tmp_path: Path) -> Iterator[Flow]:
    ws = open_workspace(tmp_path / ".clearance")
    register_signers(ws)
    local = load(ws, write_plan_folder(tmp_path / "p"))
    approve_release(ws, local)
    release(ws, local)
    key = tmp_path / "workspace.pub"
    key.write_text(public_key_pem(ws.signing_key.public_raw))
    yield Flow(ws, local, tmp_path, key)
    ws.close()


def exported(flow: Flow, local: Any) -> tuple[Path, str]:
    candidate = acting(flow.ws, None).candidate(local)
    envelope = latest_attestation(flow.ws, candidate)
    path = flow.tmp / f"{candidate[7:19]}.intoto.json"
    path.write_text(json.dumps(envelope, indent=2))
    return path, "sha256:" + payload(path.read_bytes())["subject"][0]["digest"]["sha256"]


def verify_cli(flow: Flow, path: Path, subject: str, *extra: str | Path) -> tuple[int, str]:
    code, out, err = run(
        "attestation", "verify", path, "--subject", subject, "--key", flow.key, *extra
    )
    return code, out + err


def revocations_file(flow: Flow) -> Path:
    path = flow.tmp / "revocations.json"
    path.write_text(json.dumps(revocation_list(flow.ws)))
    return path


def test_verify_refuses_another_target_and_a_revoked_attestation(flow: Flow) -> None:
    path, subject = exported(flow, flow.local)
    code, out = verify_cli(flow, path, subject, "--target", "production")
    assert code == 0 and "GO for" in out and "revocations not checked" in out
    code, out = verify_cli(flow, path, subject, "--target", "staging")
    assert code == 3 and "for target 'production', not 'staging'" in out

    listed = revocations_file(flow)
    code, out = verify_cli(flow, path, subject, "--target", "production", "--revocations", listed)
    assert code == 0 and "not revoked as of" in out

    candidate = acting(flow.ws, None).candidate(flow.local)
    me = acting(flow.ws, "dana@example.com")
    revoke(flow.ws, me.principal("attestation.revoke"), candidate, "CVE in the image")
    with pytest.raises(ConflictError, match="revoked already"):
        revoke(flow.ws, me.principal("attestation.revoke"), candidate, "again")
    with pytest.raises(ConflictError, match="was revoked"):
        latest_attestation(flow.ws, candidate)
    listed = revocations_file(flow)
    code, out = verify_cli(flow, path, subject, "--target", "production", "--revocations", listed)
    assert code == 3 and "it was revoked: CVE in the image (by dana@example.com" in out
    assert code == 3 and "Traceback" not in out

    # a list re-signed by another key is refused, not read
    forged = json.loads(listed.read_text())
    stmt = payload(json.dumps(forged).encode())
    stmt["predicate"]["revoked"] = []
    listed.write_text(json.dumps(sign_statement(stmt, SigningKey.generate())))
    code, out = verify_cli(flow, path, subject, "--revocations", listed)
    assert code == 3 and "revocations.json: no signature verifies" in out


def test_a_later_no_go_of_the_candidate_revokes_it(flow: Flow) -> None:
    path, subject = exported(flow, flow.local)
    signoff(flow.ws, flow.local, "eng-manager", "erik@example.com", "reject", "a regression")
    assert check(flow.ws, flow.local).evaluation.decision == "NO-GO"
    ids = revoked(flow.ws)
    assert len(ids) == 1 and "on the candidate is NO-GO" in next(iter(ids.values()))
    code, out = verify_cli(flow, path, subject, "--revocations", revocations_file(flow))
    assert code == 3 and "is NO-GO" in out


def test_a_rollback_revokes_the_candidate_rolled_back_from(flow: Flow) -> None:
    """2.4.0, then 2.5.0, then back to 2.4.0 (its plan now rolls back to the previous
    release): 2.5.0's attestation is revoked, 2.4.0's new one is not."""

    def plan_with(folder: str, version: str) -> Any:
        path = write_plan_folder(flow.tmp / folder)
        doc = yaml.safe_load(path.read_text())
        doc["release"]["version"] = version
        doc["rollback"]["to"] = "previous"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        local = load(flow.ws, path)
        approve_release(flow.ws, local)
        return local

    second = plan_with("p2", "2.5.0")
    release(flow.ws, second)
    second_path, second_subject = exported(flow, second)
    assert revoked(flow.ws) == {}  # an upgrade revokes nothing
    back = plan_with("p3", "2.4.0")
    release(flow.ws, back)
    listed = revocations_file(flow)
    code, out = verify_cli(flow, second_path, second_subject, "--revocations", listed)
    assert code == 3 and "rolled back: production returned from 2.5.0 to 2.4.0" in out
    back_path, back_subject = exported(flow, back)
    code, out = verify_cli(flow, back_path, back_subject, "--revocations", listed)
    assert code == 0, out


def test_revoke_and_revocations_commands(flow: Flow) -> None:
    """`attestation revoke` signs and logs a revocation; `attestation revocations` lists it."""
    ws = flow.ws
    admin_key = flow.tmp / "admin.pem"
    from tests.builders import ADMIN

    ws.keys[ADMIN].save(admin_key)
    plan = flow.tmp / "p" / "plan.yaml"
    base = ("--workspace", ws.settings.workspace, "attestation")
    code, out, err = run(*base, "revoke", plan, "--reason", "pulled", "--key", admin_key)
    assert code == 0, out + err
    out_file = flow.tmp / "list.json"
    code, out, err = run(*base, "revocations", "-o", out_file)
    assert code == 0, out + err
    entries = payload(out_file.read_bytes())["predicate"]["revoked"]
    assert [e["reason"] for e in entries] == ["pulled"]
    code, out, err = run(*base, "revoke", plan, "--reason", " ", "--key", admin_key)
    assert code == 2 and "--reason" in err
