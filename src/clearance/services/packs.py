"""Exporting an audit pack: the use case gathers a candidate's records, has `exports.pack`
render and sign them, and logs that it did, by whom."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from clearance.errors import NotFoundError
from clearance.exports.pack import Exported, PackRecords, write_pack
from clearance.services.auth import Principal
from clearance.services.workspace import Workspace
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.exports.packlog import LogRecords
    from clearance.exports.packsigned import SignedRecords
    from clearance.store.records import CandidateRecord, RevisionRecord

PAGE = 1000


def export(ws: Workspace, principal: Principal, candidate: str, out: Path) -> Exported:
    """Write the audit pack of a recorded candidate, then record the export on the log."""
    from clearance.services.queries import candidate as visible_candidate

    if principal.scopes is not None:  # a token caller must be able to read its system
        visible_candidate(ws, principal, candidate)
    with ws.engine.connect() as conn:
        records = gather(conn, candidate)
    done = write_pack(
        records,
        out,
        key=ws.signing_key,
        open_blob=ws.blobs.open,
        actor=principal.name,
        at=ws.clock(),
    )
    _log(ws, principal, done)
    receipt = ws.last_receipt
    if records.log is not None and receipt is not None:
        # The pack's log ends before its own export event: the receipt carries the proof
        # that its checkpoint extends the pack's, so it verifies against the pack.
        from dataclasses import replace

        from clearance.services.log import consistency

        proof = consistency(ws, records.log.checkpoint.size, receipt.checkpoint.size)
        ws.last_receipt = replace(receipt, consistency=proof)
    return done


@retrying()
def _log(ws: Workspace, principal: Principal, done: Exported) -> None:
    with ws.transaction() as uow:
        uow.append(
            "pack.exported",
            actor=principal.name,
            subject=done.candidate,
            payload={"manifest_sha256": done.manifest_sha256, "files": done.files - 1},
            system_id=done.system_id,
        )


def gather(conn: Connection, digest: str) -> PackRecords:
    """Every record the pack of candidate `digest` shows."""
    from clearance.services.plans import stored_plan
    from clearance.store import repository as repo

    candidate = repo.get_candidate(conn, digest)
    if candidate is None:
        raise NotFoundError(
            f"candidate {digest} has not been checked yet; run `clearance check` first"
        )
    plan = stored_plan(conn, candidate).plan
    system, version = plan.system.id, plan.release.version
    revisions = [r for r in repo.revisions_of(conn, system) if r.version == version]
    previous = _previously_released(conn, system, plan.release.target, candidate)
    if previous is not None and previous.digest not in {r.digest for r in revisions}:
        revisions.append(previous)
    subjects = {candidate.digest, system, *(r.digest for r in revisions)}
    return PackRecords(
        plan=plan,
        candidate=candidate,
        revisions=revisions,
        previous=previous,
        evidence=repo.evidence_of(conn, candidate.digest),
        approvals=repo.approvals_of(conn, system, version),
        decisions=repo.decisions_of(conn, candidate.digest),
        releases=repo.releases_of_candidate(conn, candidate.digest),
        log=_log_records(conn, subjects | _authority_subjects(conn)),
        signed=_signed_records(conn, system, version, candidate.digest),
    )


def _log_records(conn: Connection, subjects: set[str]) -> LogRecords | None:
    from clearance.exports.packlog import LogRecords
    from clearance.services import logtree
    from clearance.store import repository as repo

    found = repo.latest_checkpoint(conn)
    if found is None:
        return None
    checkpoint = found[0]
    events, after = [], 0
    while True:
        page = repo.events(conn, subjects=subjects, after=after, limit=PAGE)
        events += [e for e in page if e.seq <= checkpoint.size]
        if len(page) < PAGE:
            break
        after = page[-1].seq
    # each path from O(log n) stored nodes, not recomputed over every leaf per event
    paths = logtree.inclusion_paths(conn, [e.seq - 1 for e in events], checkpoint)
    return LogRecords(
        events,
        checkpoint,
        repo.leaf_hash_lines(conn, checkpoint.size),
        repo.public_keys(conn),
        {index + 1: path for index, path in paths.items()},
    )


def _signed_records(conn: Connection, system: str, version: str, candidate: str) -> SignedRecords:
    from clearance.exports.packsigned import SignedRecords
    from clearance.store import people as people_repo
    from clearance.store import repository as repo
    from clearance.store.revocations import revocations

    waivers = repo.waivers_of(conn, candidate)
    return SignedRecords(
        approvals=[a.envelope for a in repo.signed_approvals(conn, system, version) if a.envelope],
        waivers=[w.envelope for w in waivers],
        revocations=[r.envelope for r in repo.waiver_revocations(conn, [w.id for w in waivers])],
        evidence=[e.envelope for e in repo.evidence_of(conn, candidate) if e.envelope],
        admin=[(s.id, s.envelope) for s in people_repo.admin_statements(conn)],
        attestations=repo.attestations_of(conn, candidate),
        attestation_revocations=[r.envelope for r in revocations(conn, candidate)],
        people_keys=people_repo.person_keys_with_holders(conn),
        **_readiness_statements(conn, system, version, candidate),
    )


def _readiness_statements(
    conn: Connection, system: str, version: str, candidate: str
) -> dict[str, list[dict[str, Any]]]:
    """The signed acceptances of the candidate's findings and the acknowledgements of its
    parties, as their signers made them."""
    from clearance.store import findings as findings_repo

    return {
        "acceptances": [a.envelope for a in findings_repo.acceptances_of(conn, candidate)],
        "acknowledgements": [
            a.envelope
            for a in findings_repo.acknowledgements_of(conn, system, version)
            if a.candidate == candidate
        ],
    }


def _authority_subjects(conn: Connection) -> set[str]:
    """What the events about who may act are about (people, their keys, policies, targets,
    the workspace key), so the pack's log vouches for every key and role it relies on."""
    from clearance.store import people as people_repo
    from clearance.store import repository as repo

    keys = people_repo.person_keys_with_holders(conn)
    return (
        {k["key_id"] for k in keys}
        | {k["person"] for k in keys}
        | {a.subject for a in people_repo.admin_statements(conn)}
        | {k["key_id"] for k in repo.public_keys(conn)}
    )


def _previously_released(
    conn: Connection, system_id: str, target: str, candidate: CandidateRecord
) -> RevisionRecord | None:
    """The plan revision of the other candidate last released to `target`, if any."""
    from clearance.store import repository as repo

    earlier = [
        r for r in repo.releases_to(conn, system_id, target) if r.candidate != candidate.digest
    ]
    if not earlier:
        return None
    cand = repo.get_candidate(conn, earlier[-1].candidate)
    return repo.get_revision(conn, cand.revision) if cand else None
