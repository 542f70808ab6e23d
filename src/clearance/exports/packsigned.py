"""The pack's signed statements: every sign-off, rejection, withdrawal and waiver as the
DSSE envelope its person signed, the release attestations signed by the workspace, the
people's public keys; and the offline checks of their signatures."""

from __future__ import annotations

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
PEOPLE_KEYS = "people-keys.json"


def _json(data: Any) -> bytes:
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


def signed_files(signed: SignedRecords) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for folder, envelopes in (
        (APPROVALS, signed.approvals),
        (WAIVERS, signed.waivers),
        (REVOCATIONS, signed.revocations),
        (EVIDENCE, signed.evidence),
        (ACCEPTANCES, signed.acceptances),
        (ACKNOWLEDGEMENTS, signed.acknowledgements),
    ):
        for i, envelope in enumerate(envelopes, 1):
            files[f"{folder}/{i:04d}.dsse.json"] = _json(envelope)
    for statement_id, envelope in signed.admin:
        files[f"{ADMIN}/{statement_id:04d}.dsse.json"] = _json(envelope)
    for decision_id, envelope in signed.attestations:
        files[f"{ATTESTATIONS}/decision-{decision_id}.dsse.json"] = _json(envelope)
    files[PEOPLE_KEYS] = _json(signed.people_keys)
    return files


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
        EVIDENCE_ATTESTATION_V1,
        FINDING_ACCEPTANCE_V1,
        RELEASE_DECISION_V1,
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
    }

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
        keys = workspace_keys if expected == RELEASE_DECISION_V1 else people_keys
        try:
            stmt = open_envelope(files[name], keys)
        except IntegrityError as exc:
            if expected == RELEASE_DECISION_V1:
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
            continue
        subject = statement_subject(stmt)
        signer = _signer(files[name], people, pred.get("person"), pred.get("time", ""))
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
