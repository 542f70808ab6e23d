"""in-toto Statement v1 attestations signed in DSSE envelopes with the workspace's Ed25519 key.

Approvals, waivers and release decisions are signed here; deploy pipelines check them here.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from clearance.core.digest import canonical_json, json_digest
from clearance.errors import IntegrityError, UsageError
from clearance.signing import SigningKey, b64, key_id, unb64, verify
from clearance.signing._sslib import CryptoSigner, Envelope, SSlibKey

STATEMENT_V1 = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
APPROVAL_V1 = "https://clearance.dev/approval/v1"
WAIVER_V1 = "https://clearance.dev/waiver/v1"
RELEASE_DECISION_V1 = "https://clearance.dev/release-decision/v1"
WAIVER_REVOCATION_V1 = "https://clearance.dev/waiver-revocation/v1"
EVIDENCE_ATTESTATION_V1 = "https://clearance.dev/evidence-attestation/v1"
ADMIN_V1 = "https://clearance.dev/admin/v1"
REQUEST_V1 = "https://clearance.dev/request/v1"
FINDING_ACCEPTANCE_V1 = "https://clearance.dev/finding-acceptance/v1"
ACKNOWLEDGEMENT_V1 = "https://clearance.dev/acknowledgement/v1"
ATTESTATION_REVOCATION_V1 = "https://clearance.dev/attestation-revocation/v1"
REVOCATION_LIST_V1 = "https://clearance.dev/attestation-revocation-list/v1"
VSA_V1 = "https://slsa.dev/verification_summary/v1"

_SHA256 = re.compile(r"sha256:([0-9a-f]{64})")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ENVELOPE_FIELDS = {"payload", "payloadType", "signatures"}
_KEY_HELP = (
    "expected an Ed25519 public key as PEM (-----BEGIN PUBLIC KEY-----) "
    "or the raw 32-byte key in base64 on a single line"
)


def statement(
    subjects: list[tuple[str, str]], predicate_type: str, predicate: dict[str, Any]
) -> dict[str, Any]:
    """An in-toto Statement v1; each subject is (name, "sha256:<hex>"). ValueError if malformed."""
    if not subjects:
        raise ValueError("a statement needs at least one subject")
    subject: list[dict[str, Any]] = []
    for name, digest in subjects:
        match = _SHA256.fullmatch(digest)
        if not name or match is None:
            raise ValueError(f"subject {name!r}: digest {digest!r} is not sha256:<64 hex>")
        subject.append({"name": name, "digest": {"sha256": match.group(1)}})
    if not predicate_type:
        raise ValueError("a statement needs a predicate type")
    return {
        "_type": STATEMENT_V1,
        "subject": subject,
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def sign_statement(stmt: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """The DSSE envelope (JSON-ready dict) over the RFC 8785 bytes of `stmt`; its keyid is the
    one securesystemslib computes for the key, so verifiers that select keys by id find it."""
    public = SSlibKey.from_crypto(key.private.public_key())
    envelope = Envelope(canonical_json(stmt), PAYLOAD_TYPE, {})
    envelope.sign(CryptoSigner(key.private, public))
    result: dict[str, Any] = envelope.to_dict()
    return result


@functools.lru_cache(maxsize=4096)
def dsse_keyid(public_raw: bytes) -> str:
    """The keyid securesystemslib computes for a raw Ed25519 key (`SSlibKey.from_crypto`):
    hex sha256 of its canonical key JSON. Envelopes made before it carry `key_id(raw)`."""
    return str(sslib_key(public_raw)["keyid"])


def sslib_key(public_raw: bytes) -> dict[str, Any]:
    """A raw Ed25519 public key as securesystemslib key JSON, with its keyid."""
    key = SSlibKey.from_crypto(Ed25519PublicKey.from_public_bytes(public_raw))
    return {"keyid": key.keyid, **key.to_dict()}


def statement_subject(stmt: Mapping[str, Any]) -> str:
    """ "sha256:<hex>" of a verified statement's first subject: what it is about."""
    return "sha256:" + str(stmt["subject"][0]["digest"]["sha256"])


def shipped_bytes(envelope: Mapping[str, Any]) -> bytes:
    """The exact bytes an envelope is shipped as (audit pack, `attestation export`): sorted
    keys, two-space indent, a final newline. Statements reference envelopes by their sha256."""
    text = json.dumps(dict(envelope), indent=2, sort_keys=True, ensure_ascii=False)
    return (text + "\n").encode()


def shipped_digest(envelope: Mapping[str, Any]) -> str:
    """ "sha256:<hex>" of `shipped_bytes(envelope)`: what `sha256sum` prints for its file."""
    return "sha256:" + hashlib.sha256(shipped_bytes(envelope)).hexdigest()


def attestation_id(envelope: Mapping[str, Any]) -> str:
    """ "sha256:<hex>" of the envelope's payload (the signed statement's bytes): names an
    attestation however its envelope is laid out; revocations name attestations by it."""
    return "sha256:" + hashlib.sha256(_base64(envelope.get("payload"), "payload")).hexdigest()


def envelope_digest(envelope: Mapping[str, Any]) -> str:
    """ "sha256:<hex>" of the envelope's canonical JSON: how other attestations reference it."""
    return json_digest(dict(envelope))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate key {name!r}")
        result[name] = value
    return result


def _json_object(data: bytes | str, what: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise IntegrityError(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise IntegrityError(f"{what} is not a JSON object")
    return value


def _base64(value: Any, what: str) -> bytes:
    """Strict, canonical standard base64: one encoding per byte string, so no malleability."""
    if not isinstance(value, str):
        raise IntegrityError(f"{what} is not a base64 string")
    try:
        data = unb64(value)
    except (binascii.Error, UnicodeEncodeError):
        raise IntegrityError(f"{what} is not valid base64") from None
    if b64(data) != value:
        raise IntegrityError(f"{what} is not canonical standard base64")
    return data


def _check_statement(stmt: dict[str, Any]) -> None:
    if stmt.get("_type") != STATEMENT_V1:
        raise IntegrityError(f"payload _type is {stmt.get('_type')!r}, expected {STATEMENT_V1}")
    subjects = stmt.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise IntegrityError("statement has no subject")
    for i, subject in enumerate(subjects):
        digest = subject.get("digest") if isinstance(subject, dict) else None
        if not isinstance(digest, dict) or not digest:
            raise IntegrityError(f"statement subject {i} has no digest")
        if not all(isinstance(v, str) and v for v in digest.values()):
            raise IntegrityError(f"statement subject {i} has a digest that is not a string")
        sha = digest.get("sha256")
        if sha is not None and not _HEX64.fullmatch(sha):
            raise IntegrityError(f"statement subject {i}: sha256 is not 64 lowercase hex")
        if "name" in subject and not isinstance(subject["name"], str):
            raise IntegrityError(f"statement subject {i}: name is not a string")
    if not isinstance(stmt.get("predicateType"), str) or not stmt["predicateType"]:
        raise IntegrityError("statement has no predicateType")
    if not isinstance(stmt.get("predicate"), dict):
        raise IntegrityError("statement predicate is missing or not a JSON object")


def open_envelope(
    envelope: Mapping[str, Any] | bytes, public_keys: Mapping[str, bytes]
) -> dict[str, Any]:
    """The Statement v1 inside a DSSE envelope signed by one of `public_keys` (key_id -> raw key).

    A signature's keyid only says which key to try first; only keys in `public_keys` are tried.
    Raises IntegrityError naming the first thing that does not hold.
    """
    if isinstance(envelope, bytes):
        env = _json_object(envelope, "envelope")
    elif isinstance(envelope, Mapping):
        env = dict(envelope)
    else:
        raise IntegrityError("envelope is not a JSON object")
    missing = sorted(_ENVELOPE_FIELDS - env.keys())
    extra = sorted(env.keys() - _ENVELOPE_FIELDS)
    if missing or extra:
        raise IntegrityError(
            f"not a DSSE envelope: missing {missing or 'nothing'}, unexpected {extra or 'nothing'}"
        )
    if env["payloadType"] != PAYLOAD_TYPE:
        raise IntegrityError(f"payloadType is {env['payloadType']!r}, expected {PAYLOAD_TYPE}")
    payload = _base64(env["payload"], "payload")
    signatures = env["signatures"]
    if not isinstance(signatures, list) or not signatures:
        raise IntegrityError("envelope has no signature")
    if not public_keys:
        raise IntegrityError("no public key to verify the envelope with")
    pae = Envelope(payload, PAYLOAD_TYPE, {}).pae()
    hints: list[str] = []
    verified = False
    for i, sig in enumerate(signatures):
        if not isinstance(sig, dict) or "sig" not in sig or not sig.keys() <= {"keyid", "sig"}:
            raise IntegrityError(f"signature {i} is not a DSSE signature {{keyid, sig}}")
        raw_sig = _base64(sig["sig"], f"signature {i}")
        hint = sig.get("keyid", "")
        if not isinstance(hint, str):
            raise IntegrityError(f"signature {i}: keyid is not a string")
        hints.append(hint)
        # the keyid is a hint: our id or securesystemslib's (`dsse_keyid`); every key given
        # is tried, so envelopes signed under either id verify by their holder's keys
        named = [k for k in public_keys if hint in (k, dsse_keyid(public_keys[k]))]
        order = named + [kid for kid in sorted(public_keys) if kid not in named]
        if any(verify(public_keys[kid], pae, raw_sig) for kid in order):
            verified = True
            break
    if not verified:
        known = {*public_keys, *(dsse_keyid(raw) for raw in public_keys.values())}
        unknown = [h for h in hints if h and h not in known]
        note = f" (keyid claims {', '.join(unknown)}, which is not among them)" if unknown else ""
        raise IntegrityError(
            f"no signature verifies with any of the {len(public_keys)} given public key(s){note}"
        )
    stmt = _json_object(payload, "payload")
    _check_statement(stmt)
    return stmt


def subject_digest(text: str) -> str:
    """A subject digest as given on a command line, checked up front: `sha256:<64 hex>`
    (hex in either case, returned lowercase); UsageError saying how to write it otherwise."""
    given = text.strip()
    if _SHA256.fullmatch(given.lower()):
        return given.lower()
    if _HEX64.fullmatch(given.lower()):
        hint = f"write sha256:{given.lower()}"
    else:
        hint = (
            "write sha256:<64 hex>, the artifact's SHA-256 as `sha256sum FILE` prints it "
            "after sha256:"
        )
    raise UsageError(f"subject {text!r} is not a sha256 digest; {hint}")


def verify_attestation(
    envelope_bytes: bytes,
    subject_digest: str,
    public_key_raw: bytes,
    *,
    target: str | None = None,
    now: datetime | None = None,
    revoked: Mapping[str, str] | None = None,
) -> list[str]:
    """Why a release attestation must not let `subject_digest` deploy; empty means GO.

    With `target`, an attestation for another environment is refused; with `now`, one
    past its `expires`; `revoked` maps revoked attestation ids (`attestation_id`) to why.
    """
    if len(public_key_raw) != 32:
        return ["public key is not a raw 32-byte Ed25519 key"]
    try:
        stmt = open_envelope(envelope_bytes, {key_id(public_key_raw): public_key_raw})
    except IntegrityError as exc:
        return [exc.message]
    reasons: list[str] = []
    if stmt["predicateType"] != RELEASE_DECISION_V1:
        reasons.append(
            f"predicateType is {stmt['predicateType']!r}, expected {RELEASE_DECISION_V1}"
        )
    match = _SHA256.fullmatch(subject_digest)
    if match is None:
        reasons.append(f"subject digest {subject_digest!r} is not sha256:<64 lowercase hex>")
    elif not any(s["digest"].get("sha256") == match.group(1) for s in stmt["subject"]):
        reasons.append(f"{subject_digest} is not a subject of this attestation")
    predicate = stmt["predicate"]
    decision = predicate.get("decision")
    if decision != "GO":
        reasons.append(f"decision is {decision!r}, not 'GO'")
    said = predicate.get("target")
    if target is not None and said != target:
        reasons.append(
            f"it clears {predicate.get('system')} {predicate.get('version')} for target "
            f"{said!r}, not {target!r}"
        )
    expires = predicate.get("expires")
    if now is not None and expires is not None:
        try:
            ends = datetime.strptime(str(expires), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            reasons.append(f"its expiry {expires!r} is not a time")
        else:
            if now >= ends:
                reasons.append(f"it expired at {expires} (a new GO decision issues a new one)")
    why = (revoked or {}).get(attestation_id(_json_object(envelope_bytes, "envelope")))
    if why is not None:
        reasons.append(f"it was revoked: {why}")
    return reasons


def load_public_key(text_or_bytes: str | bytes) -> bytes:
    """The raw 32-byte Ed25519 key from PEM SubjectPublicKeyInfo or one line of base64."""
    try:
        text = (
            text_or_bytes.decode("ascii") if isinstance(text_or_bytes, bytes) else text_or_bytes
        ).strip()
    except UnicodeDecodeError:
        raise UsageError(f"public key is not text: {_KEY_HELP}") from None
    if text.startswith("-----BEGIN"):
        if "PRIVATE KEY" in text.partition("\n")[0]:
            raise UsageError(f"that is a private key; never share it: {_KEY_HELP}")
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, TypeError) as exc:
            raise UsageError(f"unreadable PEM public key ({exc}): {_KEY_HELP}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise UsageError(f"PEM key is {type(key).__name__}, not Ed25519: {_KEY_HELP}")
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        raw = unb64(text) if text and "\n" not in text else b""
    except (binascii.Error, UnicodeEncodeError):
        raw = b""
    if len(raw) != 32:
        raise UsageError(f"not an Ed25519 public key: {_KEY_HELP}")
    return raw


def public_key_pem(raw: bytes) -> str:
    """PEM SubjectPublicKeyInfo of a raw 32-byte Ed25519 public key."""
    try:
        key = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise UsageError(f"not a raw 32-byte Ed25519 public key ({exc})") from None
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode("ascii")
