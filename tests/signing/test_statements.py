"""Signed in-toto statements: DSSE envelopes that Clearance and other tools agree on."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from typing import Any

import pytest
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey  # type: ignore[attr-defined]  # no __all__

from clearance.core.digest import canonical_json
from clearance.errors import IntegrityError, UsageError
from clearance.signing import SigningKey, key_id, verify
from clearance.signing.statements import (
    APPROVAL_V1,
    PAYLOAD_TYPE,
    RELEASE_DECISION_V1,
    WAIVER_V1,
    dsse_keyid,
    envelope_digest,
    load_public_key,
    open_envelope,
    public_key_pem,
    sign_statement,
    statement,
    verify_attestation,
)

CANDIDATE = "sha256:" + hashlib.sha256(b"candidate").hexdigest()
MODEL = "sha256:" + hashlib.sha256(b"model weights").hexdigest()
OTHER = "sha256:" + hashlib.sha256(b"something else").hexdigest()


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def stranger() -> SigningKey:
    return SigningKey.generate()


def keys(*ks: SigningKey) -> dict[str, bytes]:
    return {k.key_id: k.public_raw for k in ks}


def approval(key: SigningKey) -> dict[str, Any]:
    stmt = statement(
        [("candidate", CANDIDATE), ("model", MODEL)],
        APPROVAL_V1,
        {"approver": "alice", "role": "risk-owner", "comment": "ok ✓", "conditions": []},
    )
    return sign_statement(stmt, key)


def release(key: SigningKey, decision: str = "GO", ptype: str = RELEASE_DECISION_V1) -> bytes:
    stmt = statement([("candidate", CANDIDATE)], ptype, {"decision": decision, "system": "fraud"})
    return json.dumps(sign_statement(stmt, key)).encode()


def test_statement_shape() -> None:
    """Subjects become in-toto ResourceDescriptors with a bare hex sha256 digest."""
    stmt = statement([("candidate", CANDIDATE)], WAIVER_V1, {"reason": "x"})
    assert stmt == {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "candidate", "digest": {"sha256": CANDIDATE.removeprefix("sha256:")}}],
        "predicateType": "https://clearance.dev/waiver/v1",
        "predicate": {"reason": "x"},
    }
    with pytest.raises(ValueError, match="not sha256"):
        statement([("candidate", "md5:abc")], WAIVER_V1, {})
    with pytest.raises(ValueError, match="at least one subject"):
        statement([], WAIVER_V1, {})


def test_round_trip(key: SigningKey) -> None:
    """A signed statement opens to exactly the statement, with securesystemslib's keyid."""
    env = approval(key)
    assert env["payloadType"] == PAYLOAD_TYPE == "application/vnd.in-toto+json"
    assert [s["keyid"] for s in env["signatures"]] == [dsse_keyid(key.public_raw)]
    payload = base64.b64decode(env["payload"])
    assert payload == canonical_json(json.loads(payload))  # RFC 8785 bytes are what is signed
    stmt = open_envelope(env, keys(key))
    assert stmt["predicate"]["comment"] == "ok ✓"
    assert open_envelope(json.dumps(env).encode(), keys(key)) == stmt
    assert envelope_digest(env) == "sha256:" + hashlib.sha256(canonical_json(env)).hexdigest()


def test_signature_is_over_the_dsse_spec_pae(key: SigningKey) -> None:
    """The signature covers PAE exactly as the DSSE v1 spec writes it, computed here by hand."""
    env = approval(key)
    payload = base64.b64decode(env["payload"])
    pae = b"DSSEv1 %d %s %d %s" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload), payload)
    assert verify(key.public_raw, pae, base64.b64decode(env["signatures"][0]["sig"]))


def _flip_each_byte(data: bytes) -> list[bytes]:
    return [data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :] for i in range(len(data))]


@pytest.mark.parametrize("field", ["payload", "sig"])
def test_any_changed_byte_is_refused(key: SigningKey, field: str) -> None:
    """Changing any byte of the payload or signature, or any character of its base64, is refused."""
    env = approval(key)
    holder = env if field == "payload" else env["signatures"][0]
    original: str = holder[field]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    variants = [base64.b64encode(b).decode() for b in _flip_each_byte(base64.b64decode(original))]
    variants += [
        original[:i] + c + original[i + 1 :]
        for i, ch in enumerate(original)
        if ch != "="
        for c in {alphabet[(alphabet.index(ch) + 1) % 64], "-"}
    ]
    for variant in variants:
        holder[field] = variant
        with pytest.raises(IntegrityError):
            open_envelope(env, keys(key))
    holder[field] = original
    open_envelope(env, keys(key))


def test_unknown_key_refused_even_if_keyid_claims_it(key: SigningKey, stranger: SigningKey) -> None:
    """Only keys in the given set are ever tried; a keyid naming a trusted key proves nothing."""
    forged = approval(stranger)
    forged["signatures"][0]["keyid"] = key.key_id
    with pytest.raises(IntegrityError, match="no signature verifies"):
        open_envelope(forged, keys(key))
    claimed = dsse_keyid(stranger.public_raw)
    with pytest.raises(IntegrityError, match=rf"claims {claimed}, which is not among"):
        open_envelope(approval(stranger), keys(key))
    # The keyid is only a hint: a wrong or missing hint does not stop a trusted key verifying.
    env = approval(key)
    env["signatures"][0]["keyid"] = stranger.key_id
    assert open_envelope(env, keys(stranger, key))["predicateType"] == APPROVAL_V1
    del env["signatures"][0]["keyid"]
    assert open_envelope(env, keys(key))["predicateType"] == APPROVAL_V1


def _resign(key: SigningKey, payload: bytes, payload_type: str = PAYLOAD_TYPE) -> dict[str, Any]:
    """An envelope with a valid signature over arbitrary payload bytes."""
    pae = Envelope(payload, payload_type, {}).pae()
    return {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": payload_type,
        "signatures": [{"keyid": key.key_id, "sig": base64.b64encode(key.sign(pae)).decode()}],
    }


def test_refusals_say_why(key: SigningKey, stranger: SigningKey) -> None:
    """Each way an envelope can be wrong is refused with a reason that names it."""
    good = approval(key)
    stmt = open_envelope(good, keys(key))
    cases: list[tuple[Any, str]] = [
        (b"{not json", "envelope is not JSON"),
        (b"\xff\xfe", "envelope is not JSON"),
        (b"[]", "envelope is not a JSON object"),
        ({**good, "extra": 1}, "not a DSSE envelope"),
        ({k: v for k, v in good.items() if k != "payload"}, "not a DSSE envelope"),
        ({**good, "payloadType": "application/json"}, "payloadType is 'application/json'"),
        ({**good, "signatures": []}, "no signature"),
        ({**good, "signatures": [{"sig": 3}]}, "signature 0 is not a base64 string"),
        ({**good, "payload": "***"}, "payload is not valid base64"),
        (_resign(key, b"not json"), "payload is not JSON"),
        (_resign(key, b'{"a": 1, "a": 2}'), "duplicate key"),
        (_resign(key, canonical_json({**stmt, "_type": "x"})), "_type is 'x'"),
        (_resign(key, canonical_json({**stmt, "subject": []})), "no subject"),
        (_resign(key, canonical_json({**stmt, "predicate": "p"})), "predicate is missing"),
    ]
    for envelope, reason in cases:
        with pytest.raises(IntegrityError, match=reason):
            open_envelope(envelope, keys(key))
    with pytest.raises(IntegrityError, match="no public key"):
        open_envelope(good, {})


def test_securesystemslib_verifies_our_envelope(key: SigningKey, stranger: SigningKey) -> None:
    """securesystemslib parses the envelope and verifies its signature with an SSlibKey."""
    env = approval(key)
    before = copy.deepcopy(env)
    public = SSlibKey.from_crypto(key.private.public_key())  # its own default keyid
    # Envelope.from_dict consumes the dict it is given, hence the copy.
    parsed = Envelope.from_dict(copy.deepcopy(env))
    assert set(parsed.verify([public], 1)) == {public.keyid}
    assert parsed.to_dict() == env == before
    assert json.loads(parsed.payload) == open_envelope(env, keys(key))
    wrong = SSlibKey.from_crypto(stranger.private.public_key(), keyid=public.keyid)
    with pytest.raises(VerificationError):
        parsed.verify([wrong], 1)


def test_in_toto_attestation_parses_our_statement(key: SigningKey) -> None:
    """in-toto-attestation's protobuf bindings load and validate the signed statement unchanged."""
    env = approval(key)
    payload = base64.b64decode(env["payload"])
    pb = json_format.Parse(payload, statement_pb2.Statement())
    Statement.copy_from_pb(pb).validate()
    assert pb.predicate_type == APPROVAL_V1
    assert [s.digest["sha256"] for s in pb.subject] == [
        CANDIDATE.removeprefix("sha256:"),
        MODEL.removeprefix("sha256:"),
    ]
    assert json_format.MessageToDict(pb) == json.loads(payload)


def test_verify_attestation_accepts_go_for_a_covered_subject(key: SigningKey) -> None:
    """A GO release decision signed by the given key lets a subject it names deploy."""
    assert verify_attestation(release(key), CANDIDATE, key.public_raw) == []


def test_verify_attestation_rejections(key: SigningKey, stranger: SigningKey) -> None:
    """Wrong subject, NO-GO, wrong predicate type, wrong key, or one changed byte: each refused."""
    good = release(key)
    assert verify_attestation(good, OTHER, key.public_raw) == [
        f"{OTHER} is not a subject of this attestation"
    ]
    assert verify_attestation(release(key, "NO-GO"), CANDIDATE, key.public_raw) == [
        "decision is 'NO-GO', not 'GO'"
    ]
    (reason,) = verify_attestation(release(key, ptype=APPROVAL_V1), CANDIDATE, key.public_raw)
    assert reason.startswith("predicateType is 'https://clearance.dev/approval/v1'")
    (reason,) = verify_attestation(good, CANDIDATE, stranger.public_raw)
    assert reason.startswith("no signature verifies")
    env = json.loads(good)
    for field, holder in (("payload", env), ("sig", env["signatures"][0])):
        start = good.index(holder[field].encode())
        for i in (start, start + len(holder[field]) // 2):
            changed = good[:i] + (b"A" if good[i : i + 1] != b"A" else b"B") + good[i + 1 :]
            assert verify_attestation(changed, CANDIDATE, key.public_raw) != []
    assert verify_attestation(good, "sha256:ABC", key.public_raw) != []
    assert verify_attestation(good, CANDIDATE, b"short") != []


def test_load_public_key_pem_and_base64(key: SigningKey) -> None:
    """PEM SubjectPublicKeyInfo and one line of base64 both give the raw 32-byte key."""
    pem = public_key_pem(key.public_raw)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert load_public_key(pem) == key.public_raw
    assert load_public_key(pem.encode()) == key.public_raw
    line = base64.b64encode(key.public_raw).decode()
    assert load_public_key(f"  {line}\n") == key.public_raw
    assert key_id(load_public_key(line.encode())) == key.key_id


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "hello",
        base64.b64encode(b"x" * 31).decode(),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        b"\xff" * 32,
    ],
)
def test_load_public_key_refuses_junk(junk: str | bytes) -> None:
    """Anything else is a UsageError that says what is expected."""
    with pytest.raises(UsageError, match="Ed25519 public key as PEM"):
        load_public_key(junk)


def test_load_public_key_refuses_private_keys(key: SigningKey) -> None:
    """A private key pasted by mistake is refused and called what it is."""
    from cryptography.hazmat.primitives import serialization

    private = key.private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(UsageError, match="private key"):
        load_public_key(private)
