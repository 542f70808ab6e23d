"""What the gate may count: the signed statements behind approvals, waivers and evidence
attestations, each verified at evaluation time. A row counts only if its envelope verifies
with a key its signer held when signing, its subject is the candidate, its signer holds the
role now, and the log recorded the row as it is. Rows inserted or copied behind the
services' back never count (and `clearance verify` names them)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from clearance.core.identity import Person, normalise_name
from clearance.core.policy import max_waiver, personal_key_roles, waiver_roles
from clearance.core.results import ApprovalRecord, WaiverRecord
from clearance.core.signoffs import unwaivable, waiver_problem
from clearance.errors import IntegrityError
from clearance.signing.statements import statement_subject

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.services.plans import LoadedPlan
    from clearance.store.records import CandidateRecord, EvidenceRecord, WaiverRow


@dataclass
class Verified:
    """The records of a candidate that count, and notes on the ones that do not."""

    approvals: list[ApprovalRecord] = field(default_factory=list)
    waivers: list[WaiverRecord] = field(default_factory=list)
    evidence: list[EvidenceRecord] = field(default_factory=list)
    void_waivers: dict[str, list[str]] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


class _Log:
    """The record digests the log holds, per subject, read once each."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.cache: dict[str, set[tuple[str, str]]] = {}

    def holds(self, subject: str, table: str, digest: str) -> bool:
        from clearance.store import repository as repo

        if subject not in self.cache:
            self.cache[subject] = repo.logged_records(self.conn, subject)
        return (table, digest) in self.cache[subject]


class _Keys:
    """Who holds each key, and each person, read once per evaluation."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.by_key: dict[str, Person | None] = {}
        self.by_name: dict[str, Person | None] = {}

    def __call__(self, key_id: str) -> Person | None:
        from clearance.store import people as people_repo

        if key_id not in self.by_key:
            self.by_key[key_id] = people_repo.person_by_key(self.conn, key_id)
        return self.by_key[key_id]

    def person(self, name: str) -> Person | None:
        from clearance.store import people as people_repo

        key = normalise_name(name)
        if key not in self.by_name:
            self.by_name[key] = people_repo.get_person(self.conn, key)
        return self.by_name[key]


def verified_evidence(
    conn: Connection, candidate: CandidateRecord, system_id: str, out: Verified | None = None
) -> list[EvidenceRecord]:
    """The candidate's evidence that counts: rows on the log, attestations only where their
    signed statement verifies and the signer holds the role now."""
    from clearance.store import repository as repo

    out = out if out is not None else Verified()
    log, keys = _Log(conn), _Keys(conn)
    for row in repo.evidence_of(conn, candidate.digest):
        if not log.holds(candidate.digest, "evidence", row.row_digest):
            out.ignored.append(f"evidence {row.name} (row {row.id}) is not on the log")
            continue
        if row.role is not None:
            problem = _attestation_problem(conn, row, system_id, keys)
            if problem is not None:
                out.ignored.append(f"attestation of {row.name} by {row.added_by}: {problem}")
                row = replace(row, role=None)
        out.evidence.append(row)
    return out.evidence


def verified_records(
    conn: Connection,
    loaded: LoadedPlan,
    candidate: CandidateRecord,
    authors: set[str],
    now: datetime,
) -> Verified:
    from clearance.services.browser import is_browser_statement
    from clearance.store import repository as repo

    plan = loaded.plan
    log = _Log(conn)
    out = Verified()
    keys = _Keys(conn)
    verified_evidence(conn, candidate, plan.system.id, out)
    personal_keys = personal_key_roles(loaded.policy)

    for signed in repo.signed_approvals(conn, plan.system.id, plan.release.version):
        try:
            record = _approval(conn, signed, plan.system.id, plan.release.version, keys)
        except IntegrityError as exc:
            out.ignored.append(f"sign-off row {signed.id}: {exc.message}")
            continue
        if not log.holds(record.candidate, "approvals", signed.digest):
            out.ignored.append(f"sign-off row {signed.id} is not on the log")
            continue
        if record.role in personal_keys and is_browser_statement(signed.envelope):
            out.ignored.append(
                f"sign-off by {record.person} as {record.role} was made in the browser; the "
                "policy requires it signed with a personal key"
            )
            continue
        signer = keys.person(record.person)
        if record.decision == "approve" and (
            signer is None or not signer.holds(record.role, plan.system.id)
        ):
            out.ignored.append(f"approval by {record.person}: no longer holds {record.role}")
            continue
        out.approvals.append(record)

    policy = loaded.policy
    longest = max_waiver(policy)
    blocked = unwaivable(plan, loaded.policy_ids)
    rows = repo.waivers_of(conn, candidate.digest)
    revoked = _revoked(conn, rows, log, candidate.digest, keys)
    for w in rows:
        note = _waiver_note(conn, w, candidate.digest, log, revoked, keys)
        signer = keys.person(w.person) if note is None else None
        if note is None:
            criterion = next((c for c in plan.criteria if c.id == w.criterion_id), None)
            kind = criterion.kind if criterion else ""
            note = waiver_problem(
                signer_names=(w.person, signer.identity if signer else w.person),
                role=w.role,
                holds_role=signer is not None and signer.holds(w.role, plan.system.id),
                allowed_roles=waiver_roles(policy, plan.release.target, w.criterion_id, kind),
                authors=authors,
                criterion_id=w.criterion_id,
                unwaivable_ids=blocked,
                signed_at=w.created_at,
                expires_at=w.expires_at,
                max_duration=longest,
            )
        if note is not None:
            out.void_waivers.setdefault(w.criterion_id, []).append(
                f"the waiver by {w.person} does not count: {note}"
            )
            continue
        out.waivers.append(
            WaiverRecord(
                w.criterion_id,
                w.person,
                w.role,
                w.justification,
                w.candidate,
                w.created_at,
                w.expires_at,
            )
        )
    return out


def _attestation_problem(
    conn: Connection, row: EvidenceRecord, system_id: str, keys: _Keys
) -> str | None:
    from clearance.services.auth import signer_of
    from clearance.signing.statements import EVIDENCE_ATTESTATION_V1

    if row.envelope is None:
        return "no signed statement"
    try:
        person, stmt, _, _ = signer_of(conn, row.envelope, EVIDENCE_ATTESTATION_V1, keys)
    except IntegrityError as exc:
        return exc.message
    pred = stmt["predicate"]
    subject = statement_subject(stmt)
    said = (subject, pred.get("criterion"), pred.get("name"), pred.get("digest"), pred.get("role"))
    if said != (row.candidate, row.criterion_id, row.name, row.digest, row.role):
        return "the signed statement is about other evidence"
    if person.name != normalise_name(row.added_by):
        return "signed by someone else"
    if not person.holds(row.role or "", system_id):
        return f"{person.name} no longer holds role {row.role}"
    return None


def _approval(
    conn: Connection, signed: Any, system_id: str, version: str, keys: _Keys
) -> ApprovalRecord:
    """The approval as its signed statement says it (the row's own columns are not trusted)."""
    from clearance.services.auth import signer_of
    from clearance.services.browser import browser_signer, is_browser_statement
    from clearance.signing.statements import APPROVAL_V1

    if signed.envelope is None:
        raise IntegrityError("has no signed statement")
    if is_browser_statement(signed.envelope):  # signed by the workspace for a signed-in person
        person, stmt, at = browser_signer(conn, signed.envelope, APPROVAL_V1, keys.person)
    else:
        person, stmt, at, _ = signer_of(conn, signed.envelope, APPROVAL_V1, keys)
    pred = stmt["predicate"]
    subject = statement_subject(stmt)
    if subject != signed.record.candidate:
        raise IntegrityError(f"its statement is for candidate {subject[:19]}…, not its row's")
    if (pred.get("system"), pred.get("version")) != (system_id, version):
        raise IntegrityError("its statement is for another release")
    if pred.get("decision") not in ("approve", "reject", "withdraw"):
        raise IntegrityError("its statement has no decision")
    return ApprovalRecord(
        person=person.name,
        role=str(pred.get("role", "")),
        decision=pred["decision"],
        candidate=subject,
        at=at,
        comment=str(pred.get("comment", "")),
        identity=person.identity,
        evidence_set=pred.get("evidence"),
    )


def _waiver_note(
    conn: Connection,
    w: WaiverRow,
    candidate: str,
    log: _Log,
    revoked: dict[int, str],
    keys: _Keys,
) -> str | None:
    from clearance.services.auth import signer_of
    from clearance.signing.statements import WAIVER_V1
    from clearance.store.records import from_time

    if not log.holds(candidate, "waivers", w.digest):
        return "its row is not on the log"
    try:
        person, stmt, at, _ = signer_of(conn, w.envelope, WAIVER_V1, keys)
    except IntegrityError as exc:
        return exc.message
    pred = stmt["predicate"]
    subject = statement_subject(stmt)
    try:
        expires = from_time(str(pred.get("expires")))
    except ValueError:
        return "its statement has no expiry"
    said = (subject, pred.get("criterion"), person.name, pred.get("role"), expires, at)
    if said != (
        candidate,
        w.criterion_id,
        normalise_name(w.person),
        w.role,
        w.expires_at,
        w.created_at,
    ):
        return "its row does not say what its signed statement says"
    if w.id in revoked:
        return f"revoked by {revoked[w.id]}"
    return None


def _revoked(
    conn: Connection, rows: list[WaiverRow], log: _Log, candidate: str, keys: _Keys
) -> dict[int, str]:
    """Waiver id -> who revoked it, for revocations whose statements verify and are logged."""
    from clearance.services.auth import signer_of
    from clearance.signing.statements import WAIVER_REVOCATION_V1, envelope_digest
    from clearance.store import repository as repo

    by_digest = {envelope_digest(w.envelope): w.id for w in rows}
    out: dict[int, str] = {}
    for r in repo.waiver_revocations(conn, [w.id for w in rows]):
        if not log.holds(candidate, "waiver_revocations", r.digest):
            continue
        try:
            person, stmt, _, _ = signer_of(conn, r.envelope, WAIVER_REVOCATION_V1, keys)
        except IntegrityError:
            continue
        if by_digest.get(str(stmt["predicate"].get("waiver"))) == r.waiver_id:
            out[r.waiver_id] = person.name
    return out
