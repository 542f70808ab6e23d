"""Evidence: files stored content-addressed, attached to criteria of a candidate, and read
back, parsed, for the evaluators.

Use cases take blobs already in the store (the client streams files in) and, for evidence
someone vouches for in a role, the attestation that person signed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clearance.blobs import StoredBlob
from clearance.core.criteria import CriterionBase, EvidenceFormat
from clearance.core.planfiles import unread_attachment
from clearance.core.results import EvidenceItem
from clearance.errors import EvidenceError, ForbiddenError, NotFoundError, UsageError
from clearance.services.auth import Principal
from clearance.services.plans import LoadedPlan, Submitted, may_write, submit
from clearance.services.workspace import Workspace
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.store.records import EvidenceRecord
    from clearance.store.uow import UnitOfWork

Progress = Callable[[Path, int, int], None]
#: (criterion id, name as the plan writes it) -> the stored blob
StoredFiles = Mapping[tuple[str, str], StoredBlob]


@dataclass(frozen=True)
class Attached:
    criterion_id: str
    name: str
    digest: str
    size: int
    new: bool


def criterion_of(loaded: LoadedPlan, criterion_id: str) -> CriterionBase:
    try:
        return loaded.plan.criterion(criterion_id)
    except KeyError:
        ids = ", ".join(c.id for c in loaded.plan.criteria) or "none"
        raise UsageError(
            f'{loaded.name} has no criterion "{criterion_id}" (criteria: {ids})'
        ) from None


def _stored(ws: Workspace, blob: StoredBlob, what: str) -> None:
    """The blob must really be in the store, or come with its bytes (a small blob stored in
    the transaction of its record)."""
    if blob.data is None and not ws.blobs.exists(blob.digest):
        raise EvidenceError(f"{what}: blob {blob.digest} is not in the blob store; upload it first")


def _keep_small(uow: UnitOfWork, blobs: Iterable[StoredBlob]) -> None:
    """Insert the bytes of small blobs in the transaction of the records naming them."""
    from clearance.blobs.tiered import staged_rows
    from clearance.store import small_blobs

    small_blobs.insert(uow.conn, staged_rows([b for b in blobs if b.data is not None]))


def store_upload(ws: Workspace, principal: Principal, path: Path) -> StoredBlob:
    """Store a file a caller uploaded; its token must allow writing. It is attached to
    nothing until a check or `add_evidence` names it."""
    from clearance.core.identity import Scope
    from clearance.services.auth import require_scope

    require_scope(principal, Scope.WRITE)
    return ws.blobs.put_file(path)


def blob_stored(ws: Workspace, principal: Principal, digest: str) -> bool:
    """Whether a blob is stored (a client then skips uploading it); for writers only."""
    from clearance.blobs import check_digest
    from clearance.core.identity import Scope
    from clearance.services.auth import require_scope

    require_scope(principal, Scope.WRITE)
    check_digest(digest)
    return ws.blobs.exists(digest)


def require_stored(ws: Workspace, stored: StoredFiles) -> None:
    """Every file named must really be in the blob store (a remote client uploads first),
    or come with its bytes; one look-up for all of them."""
    absent = ws.blobs.missing([b.digest for b in stored.values() if b.data is None])
    for (criterion_id, name), blob in stored.items():
        if blob.data is None and blob.digest in absent:
            _stored(ws, blob, f"criterion {criterion_id}: {name}")


@retrying()
def add_evidence(
    ws: Workspace,
    principal: Principal | None,
    loaded: LoadedPlan,
    digests: Mapping[str, str],
    criterion_id: str,
    name: str,
    blob: StoredBlob,
    *,
    source: str | None = None,
    attestation: dict[str, Any] | None = None,
    caller: Principal | None = None,
) -> Attached:
    """Attach a stored blob to a criterion of the plan's current candidate. With
    `attestation` (a statement signed by a person holding the role), the evidence is
    attested in that role and its signer is who acts (`principal` is then None). An API
    `caller` needs the write scope and a role for the system, and attests only as itself."""
    from clearance.store import repository as repo

    if caller is not None:
        may_write(caller, loaded.plan.system.id)
    unread = unread_attachment(criterion_of(loaded, criterion_id), loaded.plan, name)
    if unread is not None:
        raise UsageError(unread)
    _stored(ws, blob, f"criterion {criterion_id}: {name}")
    with ws.transaction() as uow:
        role, attested_for = None, None
        if attestation is not None:
            principal, role, attested_for = _attestation(
                uow, attestation, loaded, criterion_id, name, blob, caller
            )
        elif principal is None:
            raise UsageError("evidence is added by a principal or with a signed attestation")
        sub = submit(uow, principal, loaded, digests)
        if attested_for not in (None, sub.candidate.digest):
            raise ForbiddenError(
                "the attestation is for another candidate; sign it for the current one"
            )
        known = {
            (e.criterion_id, e.name, e.digest, e.added_by, e.role)
            for e in repo.evidence_of(uow.conn, sub.candidate.digest)
        }
        new = (criterion_id, name, blob.digest, principal.name, role) not in known
        _keep_small(uow, [blob])
        if new:
            record = _record(uow, sub, criterion_id, name, blob, principal.name, role, source)
            record = _with_envelope(record, attestation)
            _insert_and_log(uow, sub, principal.name, [record])
    return Attached(criterion_id, name, blob.digest, blob.size, new)


def _attestation(
    uow: UnitOfWork,
    envelope: dict[str, Any],
    loaded: LoadedPlan,
    criterion_id: str,
    name: str,
    blob: StoredBlob,
    caller: Principal | None,
) -> tuple[Principal, str, str]:
    """(signer, role, candidate) of a verified attestation of exactly this file."""
    from clearance.core.identity import Scope
    from clearance.services.auth import bind, require_role, verify_fresh
    from clearance.signing.statements import EVIDENCE_ATTESTATION_V1

    signed = verify_fresh(uow.conn, envelope, EVIDENCE_ATTESTATION_V1, uow.clock())
    bind(caller, signed, Scope.SIGN)
    pred = signed.predicate
    role = str(pred.get("role", ""))
    said = (pred.get("criterion"), pred.get("name"), pred.get("digest"))
    if said != (criterion_id, name, blob.digest):
        raise ForbiddenError("the attestation is signed for other evidence than this file")
    require_role(signed.principal, role, loaded.plan.system.id, f"attest evidence as {role}")
    return signed.principal, role, signed.subject


def _with_envelope(record: EvidenceRecord, envelope: dict[str, Any] | None) -> EvidenceRecord:
    from dataclasses import replace

    return replace(record, envelope=envelope) if envelope is not None else record


def attach_stored(
    uow: UnitOfWork,
    principal: Principal,
    sub: Submitted,
    stored: StoredFiles,
) -> int:
    """Attach the files the plan names (already in the blob store); how many were new."""
    from clearance.store import repository as repo

    have = repo.evidence_names(uow.conn, sub.candidate.digest)
    _keep_small(uow, stored.values())
    records = [
        _record(uow, sub, criterion_id, name, blob, principal.name, None, None)
        for (criterion_id, name), blob in stored.items()
        if (criterion_id, name, blob.digest) not in have
    ]
    if records:
        _insert_and_log(uow, sub, principal.name, records)
    return len(records)


def _record(
    uow: UnitOfWork,
    sub: Submitted,
    criterion_id: str,
    name: str,
    blob: StoredBlob,
    actor: str,
    role: str | None,
    source: str | None,
) -> EvidenceRecord:
    from clearance.store.records import EvidenceRecord

    return EvidenceRecord(
        id=0,
        candidate=sub.candidate.digest,
        system_id=sub.candidate.system_id,
        criterion_id=criterion_id,
        name=name,
        digest=blob.digest,
        size=blob.size,
        added_by=actor,
        role=role,
        source=source,
        added_at=uow.clock(),
    )


def _insert_and_log(
    uow: UnitOfWork, sub: Submitted, actor: str, records: Sequence[EvidenceRecord]
) -> None:
    from clearance.store import repository as repo

    inserted = repo.insert_evidence_many(uow, records)
    uow.append(
        "evidence.added",
        actor=actor,
        subject=sub.candidate.digest,
        payload={
            "files": [
                {"criterion_id": r.criterion_id, "name": r.name, "digest": r.digest, "role": r.role}
                for r in records
            ]
        },
        system_id=sub.candidate.system_id,
        records=inserted,
    )


def evidence_set(ws: Workspace, loaded: LoadedPlan, candidate: str) -> str:
    """The digest of a recorded candidate's evidence as the gate counts it now: what a
    sign-off must name to count."""
    from clearance.services.plans import recorded_candidate
    from clearance.services.verified import verified_evidence

    with ws.engine.connect() as conn:
        cand = recorded_candidate(conn, candidate, loaded.name)
        return evidence_set_digest(verified_evidence(conn, cand, loaded.plan.system.id))


# -- reading evidence back for the evaluators -----------------------------------------------


def evidence_items(
    ws: Workspace,
    loaded: LoadedPlan,
    records: Sequence[EvidenceRecord],
    conn: Connection | None = None,
) -> dict[str, list[EvidenceItem]]:
    """Latest evidence per (criterion, name), parsed by the format the criterion expects;
    `conn` is the transaction that may have just stored some of it."""
    latest: dict[tuple[str, str], EvidenceRecord] = {}
    for rec in records:
        latest[(rec.criterion_id, rec.name)] = rec
    formats = {
        (c.id, f.path): f.format for c in loaded.plan.criteria for f in c.named_files(loaded.plan)
    }
    defaults = {c.id: c.evidence_format for c in loaded.plan.criteria}
    parsed: dict[tuple[str, str], tuple[Any, str | None]] = {}
    items: dict[str, list[EvidenceItem]] = {}
    wanted = [
        (rec, formats.get((rec.criterion_id, rec.name), defaults[rec.criterion_id]))
        for rec in sorted(latest.values(), key=lambda r: r.id)
        if rec.criterion_id in defaults  # else attached to a criterion this revision lacks
    ]
    # Small blobs come from the database in one query instead of one read each.
    held = ws.blobs.read_many(
        [r.digest for r, fmt in wanted if fmt != "raw" and ws.blobs.is_small(r.size)], conn
    )
    for rec, fmt in wanted:
        key = (rec.digest, fmt)
        if key not in parsed:
            parsed[key] = _parse(ws, rec, fmt, held.get(rec.digest))
        content, problem = parsed[key]
        items.setdefault(rec.criterion_id, []).append(
            EvidenceItem(
                name=rec.name,
                digest=rec.digest,
                added_by=rec.added_by,
                added_at=rec.added_at,
                role=rec.role,
                content=content,
                problem=problem,
            )
        )
    return items


def _parse(
    ws: Workspace, rec: EvidenceRecord, fmt: EvidenceFormat, data: bytes | None
) -> tuple[Any, str | None]:
    if fmt == "raw":
        return None, None
    if rec.size > ws.settings.max_document_bytes:
        return None, (
            f"{rec.name} is {rec.size:,} bytes, over the {ws.settings.max_document_bytes:,}-byte "
            "limit for a parsed document"
        )
    from clearance.integrations.documents import parse_document
    from clearance.integrations.junit import parse_junit

    try:
        if data is None:
            with ws.blobs.open(rec.digest) as fh:
                data = fh.read()
        if fmt == "junit":
            return parse_junit(rec.name, data), None
        if fmt == "findings":
            from clearance.integrations.findings import parse_findings

            return parse_findings(rec.name, data), None
        return parse_document(rec.name, data), None
    except EvidenceError as exc:
        return None, str(exc)
    except NotFoundError:
        return (
            None,
            f"{rec.name}: blob {rec.digest} is missing from the workspace's blob store",
        )


def evidence_set_digest(records: Sequence[EvidenceRecord]) -> str:
    """Digest of a candidate's evidence as it stands: the latest file per (criterion, name).
    Sign-offs carry it, so changing an evidence file makes them stale."""
    from clearance.core.digest import json_digest

    latest: dict[tuple[str, str], str] = {}
    for rec in sorted(records, key=lambda r: r.id):
        latest[(rec.criterion_id, rec.name)] = rec.digest
    return json_digest(sorted([c, n, d] for (c, n), d in latest.items()))
