"""The pack's signed statements: every sign-off, rejection, withdrawal and waiver as the
DSSE envelope its person signed, the release attestations signed by the workspace, the
people's public keys; and the offline checks of their signatures."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from clearance.errors import IntegrityError

APPROVALS = "signed/approvals"
WAIVERS = "signed/waivers"
ATTESTATIONS = "signed/attestations"
ADMIN = "signed/admin"
EVIDENCE = "signed/evidence"
REVOCATIONS = "signed/waiver-revocations"
PEOPLE_KEYS = "people-keys.json"


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def signed_files(conn: Any, system_id: str, version: str, candidate: str) -> dict[str, bytes]:
    """The signed statements of a release as their signers made them, and people's keys."""
    from clearance.store import people as people_repo
    from clearance.store import repository as repo

    files: dict[str, bytes] = {}
    approvals = [a for a in repo.signed_approvals(conn, system_id, version) if a.envelope]
    for i, approval in enumerate(approvals, 1):
        files[f"{APPROVALS}/{i:04d}.dsse.json"] = _json(approval.envelope)
    for i, waiver in enumerate(repo.waivers_of(conn, candidate), 1):
        files[f"{WAIVERS}/{i:04d}.dsse.json"] = _json(waiver.envelope)
    for decision_id, envelope in repo.attestations_of(conn, candidate):
        files[f"{ATTESTATIONS}/decision-{decision_id}.dsse.json"] = _json(envelope)
    waivers = repo.waivers_of(conn, candidate)
    for i, revocation in enumerate(repo.waiver_revocations(conn, [w.id for w in waivers]), 1):
        files[f"{REVOCATIONS}/{i:04d}.dsse.json"] = _json(revocation.envelope)
    attested = [e for e in repo.evidence_of(conn, candidate) if e.envelope is not None]
    for i, evidence in enumerate(attested, 1):
        files[f"{EVIDENCE}/{i:04d}.dsse.json"] = _json(evidence.envelope)
    for statement in people_repo.admin_statements(conn):
        files[f"{ADMIN}/{statement.id:04d}.dsse.json"] = _json(statement.envelope)
    files[PEOPLE_KEYS] = _json(people_repo.person_keys_with_holders(conn))
    return files


def verify_signed(
    files: dict[str, bytes], candidate: str | None, workspace_keys: Mapping[str, bytes]
) -> list[str]:
    """Each envelope verifies with a key valid when it was signed; approvals.json says only
    what the signed statements say; attestations cover this pack and are signed by one of
    `workspace_keys` (key_id -> raw key), which the caller trusts from outside the pack."""
    from clearance.signing import unb64
    from clearance.signing.statements import (
        ADMIN_V1,
        APPROVAL_V1,
        EVIDENCE_ATTESTATION_V1,
        RELEASE_DECISION_V1,
        WAIVER_REVOCATION_V1,
        WAIVER_V1,
        open_envelope,
    )

    kinds = {
        APPROVALS: APPROVAL_V1,
        WAIVERS: WAIVER_V1,
        REVOCATIONS: WAIVER_REVOCATION_V1,
        EVIDENCE: EVIDENCE_ATTESTATION_V1,
        ADMIN: ADMIN_V1,
        ATTESTATIONS: RELEASE_DECISION_V1,
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
        subject = "sha256:" + stmt["subject"][0]["digest"]["sha256"]
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
