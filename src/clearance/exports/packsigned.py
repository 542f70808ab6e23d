"""The pack's signed statements: every sign-off, rejection, withdrawal and waiver as the
DSSE envelope its person signed, the release attestations signed by the workspace, the
people's public keys; and the offline checks of their signatures."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clearance.errors import IntegrityError

APPROVALS = "signed/approvals"
WAIVERS = "signed/waivers"
ATTESTATIONS = "signed/attestations"
ADMIN = "signed/admin"
EVIDENCE = "signed/evidence"
REVOCATIONS = "signed/waiver-revocations"
ACCEPTANCES = "signed/finding-acceptances"
ACKNOWLEDGEMENTS = "signed/acknowledgements"
VSA = "signed/vsa"
ATTESTATION_REVOCATIONS = "signed/attestation-revocations"
PEOPLE_KEYS = "people-keys.json"


def _json(data: Any) -> bytes:
    """The one layout envelopes ship in (`shipped_bytes`): statements name them by its sha256."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


@dataclass(frozen=True)
class SignedRecords:
    """Every signed statement a pack carries, as its signer made it, and people's keys."""

    approvals: list[dict[str, Any]]
    waivers: list[dict[str, Any]]
    revocations: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    admin: list[tuple[int, dict[str, Any]]]
    attestations: list[tuple[int, dict[str, Any]]]
    people_keys: list[dict[str, Any]]
    acceptances: list[dict[str, Any]] = field(default_factory=list)
    acknowledgements: list[dict[str, Any]] = field(default_factory=list)
    attestation_revocations: list[dict[str, Any]] = field(default_factory=list)


def signed_files(signed: SignedRecords) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for folder, envelopes in (
        (APPROVALS, signed.approvals),
        (WAIVERS, signed.waivers),
        (REVOCATIONS, signed.revocations),
        (EVIDENCE, signed.evidence),
        (ACCEPTANCES, signed.acceptances),
        (ACKNOWLEDGEMENTS, signed.acknowledgements),
        (ATTESTATION_REVOCATIONS, signed.attestation_revocations),
    ):
        for i, envelope in enumerate(envelopes, 1):
            files[f"{folder}/{i:04d}.dsse.json"] = _json(envelope)
    for statement_id, envelope in signed.admin:
        files[f"{ADMIN}/{statement_id:04d}.dsse.json"] = _json(envelope)
    for decision_id, envelope in signed.attestations:
        files[f"{ATTESTATIONS}/decision-{decision_id}.dsse.json"] = _json(envelope)
    files[PEOPLE_KEYS] = _json(signed.people_keys)
    return files


def vsa_files(files: dict[str, bytes], key: Any) -> dict[str, bytes]:
    """A SLSA Verification Summary (VSA v1) beside each release attestation in `files`,
    signed by `key`: the verdict in the predicate generic policy engines read. Ed25519 is
    deterministic, so the same attestation always gives the same bytes."""
    from clearance.signing.statements import VSA_V1, sign_statement

    made = {}
    for name in sorted(files):
        if not (name.startswith(ATTESTATIONS + "/") and name.endswith(".dsse.json")):
            continue
        stmt = json.loads(base64.b64decode(json.loads(files[name])["payload"]))
        pred = stmt["predicate"]
        summary = {
            "_type": stmt["_type"],
            "subject": stmt["subject"],
            "predicateType": VSA_V1,
            "predicate": {
                "verifier": {"id": "https://clearance.dev/release-gate"},
                "timeVerified": pred["time"],
                "resourceUri": f"clearance:{pred['system']}@{pred['version']}?target="
                f"{pred['target']}",
                "policy": {
                    "uri": "clearance:plan-revision",
                    "digest": {"sha256": str(pred["revision"]).removeprefix("sha256:")},
                },
                "inputAttestations": [
                    {"uri": name, "digest": {"sha256": hashlib.sha256(files[name]).hexdigest()}}
                ],
                "verificationResult": "PASSED" if pred.get("decision") == "GO" else "FAILED",
                "verifiedLevels": ["CLEARANCE_RELEASE_GATE_GO"],
            },
        }
        made[f"{VSA}/{name.rsplit('/', 1)[1]}"] = _json(sign_statement(summary, key))
    return made


def verify_signed(
    files: dict[str, bytes], candidate: str | None, workspace_keys: Mapping[str, bytes]
) -> list[str]:
    """Each envelope verifies with a key valid when it was signed; approvals.json says only
    what the signed statements say; attestations cover this pack and are signed by one of
    `workspace_keys` (key_id -> raw key), which the caller trusts from outside the pack."""
    from clearance.signing import unb64
    from clearance.signing.statements import (
        ACKNOWLEDGEMENT_V1,
        ADMIN_V1,
        APPROVAL_V1,
        ATTESTATION_REVOCATION_V1,
        EVIDENCE_ATTESTATION_V1,
        FINDING_ACCEPTANCE_V1,
        RELEASE_DECISION_V1,
        VSA_V1,
        WAIVER_REVOCATION_V1,
        WAIVER_V1,
        open_envelope,
        statement_subject,
    )

    kinds = {
        APPROVALS: APPROVAL_V1,
        WAIVERS: WAIVER_V1,
        REVOCATIONS: WAIVER_REVOCATION_V1,
        EVIDENCE: EVIDENCE_ATTESTATION_V1,
        ADMIN: ADMIN_V1,
        ATTESTATIONS: RELEASE_DECISION_V1,
        ACCEPTANCES: FINDING_ACCEPTANCE_V1,
        ACKNOWLEDGEMENTS: ACKNOWLEDGEMENT_V1,
        VSA: VSA_V1,
        ATTESTATION_REVOCATIONS: ATTESTATION_REVOCATION_V1,
    }
    by_workspace = (RELEASE_DECISION_V1, VSA_V1, ATTESTATION_REVOCATION_V1)

    failures: list[str] = []
    try:
        people = json.loads(files[PEOPLE_KEYS])
        shown = json.loads(files["approvals.json"])
        people_keys = {k["key_id"]: unb64(k["public_key"]) for k in people}
    except (KeyError, ValueError, TypeError) as exc:
        return [f"signed statements: {exc} missing or unreadable"]
    signed: list[dict[str, Any]] = []
    for name in sorted(files):
        if not name.endswith(".dsse.json"):
            continue
        folder = name.rsplit("/", 1)[0]
        if folder not in kinds:
            failures.append(f"{name}: a signed statement outside the pack's signed folders")
            continue
        expected = kinds[folder]
        keys = workspace_keys if expected in by_workspace else people_keys
        browser = expected == APPROVAL_V1 and _browser(files[name])
        if browser:  # a browser sign-off: the workspace signed it for a signed-in person
            keys = workspace_keys
        try:
            stmt = open_envelope(files[name], keys)
        except IntegrityError as exc:
            if expected in by_workspace:
                failures.append(f"{name}: not signed by a workspace key you trust ({exc})")
            else:
                failures.append(f"{name}: {exc}")
            continue
        pred = stmt["predicate"]
        if stmt["predicateType"] != expected:
            failures.append(f"{name}: a {stmt['predicateType']} statement in the wrong place")
            continue
        if expected == RELEASE_DECISION_V1:
            if pred.get("candidate") != candidate or pred.get("decision") != "GO":
                failures.append(f"{name}: attestation is not a GO for this pack's candidate")
            failures += _shipped(name, pred, files)
            continue
        if expected == VSA_V1:
            failures += _summary(name, pred, files, candidate)
            continue
        if expected == ATTESTATION_REVOCATION_V1:
            if pred.get("candidate") != candidate:
                failures.append(f"{name}: revokes another candidate's attestations")
            continue
        subject = statement_subject(stmt)
        signer = (
            _browser_signer(pred, people)
            if browser
            else _signer(files[name], people, pred.get("person"), pred.get("time", ""))
        )
        if signer is not None:
            failures.append(f"{name}: {signer}")
        if expected == APPROVAL_V1:
            signed.append({**pred, "candidate": subject})
        elif expected != ADMIN_V1 and subject != candidate:
            failures.append(f"{name}: statement is for candidate {subject}, not this pack's")
    for a in shown:
        match = [
            s
            for s in signed
            if s.get("person") == a.get("person")
            and s.get("role") == a.get("role")
            and s.get("decision") == a.get("decision")
            and s.get("candidate") == a.get("candidate")
        ]
        if not match:
            failures.append(
                f"approvals.json: {a.get('decision')} by {a.get('person')} as "
                f"{a.get('role')} for {str(a.get('candidate'))[:19]}… has no signed "
                "statement (replayed or forged)"
            )
    return failures


def _shipped(name: str, pred: dict[str, Any], files: dict[str, bytes]) -> list[str]:
    """An attestation that names envelopes by the sha256 of their shipped files names only
    files the pack holds (earlier attestations named them by canonical JSON digest)."""
    if "digests" not in pred:
        return []
    held = {"sha256:" + hashlib.sha256(b).hexdigest() for n, b in files.items()}
    return [
        f"{name}: names {kind[:-1]} {digest[:19]}…, which no file of the pack is"
        for kind in ("approvals", "waivers")
        for digest in pred.get(kind, [])
        if digest not in held
    ]


def _summary(
    name: str, pred: dict[str, Any], files: dict[str, bytes], candidate: str | None
) -> list[str]:
    """A VSA summarises one attestation of this pack, whose file it names by its sha256."""
    inputs = pred.get("inputAttestations")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        return [f"{name}: does not name the one attestation it summarises"]
    source = str(inputs[0].get("uri"))
    data = files.get(source)
    if data is None or hashlib.sha256(data).hexdigest() != inputs[0].get("digest", {}).get(
        "sha256"
    ):
        return [f"{name}: summarises {source}, which the pack does not hold as it was"]
    stmt = json.loads(base64.b64decode(json.loads(data)["payload"]))
    verdict = "PASSED" if stmt["predicate"].get("decision") == "GO" else "FAILED"
    if pred.get("verificationResult") != verdict or stmt["predicate"].get("candidate") != candidate:
        return [f"{name}: its verdict is not that of {source}"]
    return []


def _browser(envelope: bytes) -> bool:
    """Whether a sign-off claims to be made in the browser (it must still verify, with a
    workspace key the verifier trusts)."""
    from clearance.signing import unb64

    try:
        pred = json.loads(unb64(json.loads(envelope)["payload"]))["predicate"]
    except (KeyError, TypeError, ValueError):
        return False
    return isinstance(pred, dict) and "authenticated" in pred


def _browser_signer(pred: dict[str, Any], people: list[dict[str, Any]]) -> str | None:
    """Why a workspace-signed sign-off does not name a registered person's browser sign-in."""
    how = pred.get("authenticated")
    if not isinstance(how, dict) or how.get("method") not in ("password", "oidc"):
        return "a workspace-signed sign-off that names no browser sign-in"
    if not any(k["person"] == pred.get("person") for k in people):
        return f"signed in the browser on behalf of {pred.get('person')}, who is not registered"
    return None


def _signer(envelope: bytes, people: list[dict[str, Any]], person: Any, at: str) -> str | None:
    """Why the statement was not signed by that person's key valid at its time, or None."""
    from clearance.signing import unb64
    from clearance.signing.statements import open_envelope

    theirs = [
        k
        for k in people
        if k["person"] == person
        or k["identity"] == next((p["identity"] for p in people if p["person"] == person), None)
    ]
    valid = {
        k["key_id"]: unb64(k["public_key"])
        for k in theirs
        if k["valid_from"] <= at and (k["valid_until"] is None or at < k["valid_until"])
    }
    try:
        open_envelope(envelope, valid)
    except IntegrityError:
        return f"not signed by a key {person} held at {at}"
    return None


def statements_of(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The predicates (with their subject as `candidate`) of envelopes the pack carries, for
    people to read; `verify_signed` is what checks them."""
    from clearance.signing import unb64

    shown = []
    for envelope in envelopes:
        try:
            stmt = json.loads(unb64(envelope["payload"]))
            subject = "sha256:" + stmt["subject"][0]["digest"]["sha256"]
            shown.append({**stmt["predicate"], "candidate": subject})
        except (KeyError, IndexError, TypeError, ValueError):
            continue
    return shown
