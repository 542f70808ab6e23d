"""The pack's signed statements: every sign-off, rejection, withdrawal and waiver as the
DSSE envelope its person signed, the release attestations signed by the workspace, the
people's public keys; and the offline checks of their signatures."""

from __future__ import annotations

import json
from typing import Any

from clearance.errors import IntegrityError

APPROVALS = "signed/approvals"
WAIVERS = "signed/waivers"
ATTESTATIONS = "signed/attestations"
PEOPLE_KEYS = "people-keys.json"


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def signed_files(conn: Any, system_id: str, version: str, candidate: str) -> dict[str, bytes]:
    import sqlalchemy as sa

    from clearance.store import repository as repo
    from clearance.store import tables as t

    files: dict[str, bytes] = {}
    for i, (_, envelope) in enumerate(repo.approval_envelopes(conn, system_id, version), 1):
        files[f"{APPROVALS}/{i:04d}.dsse.json"] = _json(envelope)
    for i, waiver in enumerate(repo.waivers_of(conn, candidate), 1):
        files[f"{WAIVERS}/{i:04d}.dsse.json"] = _json(waiver["envelope"])
    for decision_id, envelope in repo.attestations_of(conn, candidate):
        files[f"{ATTESTATIONS}/decision-{decision_id}.dsse.json"] = _json(envelope)
    retired = dict(
        conn.execute(sa.select(t.key_retirements.c.key_id, t.key_retirements.c.at)).all()
    )
    rows = conn.execute(
        sa.select(t.person_keys, t.people.c.identity)
        .join(t.people, t.people.c.name == t.person_keys.c.person)
        .order_by(t.person_keys.c.valid_from)
    )
    files[PEOPLE_KEYS] = _json(
        [
            {
                "key_id": r.key_id,
                "person": r.person,
                "identity": r.identity,
                "public_key": r.public_key,
                "valid_from": r.valid_from,
                "valid_until": retired.get(r.key_id),
            }
            for r in rows
        ]
    )
    return files


def verify_signed(files: dict[str, bytes], candidate: str | None) -> list[str]:
    """Each envelope verifies with a key valid when it was signed; approvals.json says only
    what the signed statements say; attestations are the workspace's and cover this pack."""
    from clearance.signing import unb64
    from clearance.signing.statements import (
        APPROVAL_V1,
        RELEASE_DECISION_V1,
        WAIVER_V1,
        open_envelope,
    )

    failures: list[str] = []
    try:
        people = json.loads(files[PEOPLE_KEYS])
        workspace_keys = [k for k in json.loads(files["keys.json"]) if k["purpose"] == "workspace"]
        shown = json.loads(files["approvals.json"])
    except (KeyError, ValueError) as exc:
        return [f"signed statements: {exc} missing or unreadable"]
    signed: list[dict[str, Any]] = []
    for name in sorted(files):
        if not name.endswith(".dsse.json"):
            continue
        expected = (
            APPROVAL_V1
            if name.startswith(APPROVALS)
            else WAIVER_V1
            if name.startswith(WAIVERS)
            else RELEASE_DECISION_V1
        )
        keys = workspace_keys if expected == RELEASE_DECISION_V1 else people
        try:
            stmt = open_envelope(files[name], {k["key_id"]: unb64(k["public_key"]) for k in keys})
        except IntegrityError as exc:
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
        elif subject != candidate:
            failures.append(f"{name}: waiver is for candidate {subject}, not this pack's")
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
