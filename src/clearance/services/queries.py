"""What a caller may read: systems, revisions, candidates and their evaluation, evidence,
sign-offs, decisions, releases, inventories, the log and people.

Every query takes the principal. A token caller needs the `read` scope and sees only the
systems it holds a role for (or all, with an organisation-wide role); for any other system
the answer is NotFoundError, the same as for one that does not exist. A caller on the
workspace's own machine (no scopes) sees everything, as it holds the database file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from clearance.core.identity import Person, Scope
from clearance.errors import NotFoundError
from clearance.services.auth import Principal, require_access, require_scope, require_signed
from clearance.services.workspace import Workspace

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.core.checkpoint import Checkpoint
    from clearance.core.decision import Evaluation
    from clearance.core.diff import Change
    from clearance.services.log import LogReport, Proof
    from clearance.services.releases import Status
    from clearance.store.records import (
        CandidateRecord,
        DecisionRecord,
        EventRecord,
        EvidenceRecord,
        ReleaseRecord,
        RevisionRecord,
        WaiverRow,
    )


def reader(principal: Principal) -> None:
    require_scope(principal, Scope.READ)


def _sees_all(principal: Principal) -> bool:
    person = principal.person
    return principal.scopes is None or (
        person is not None and any(g.system_id is None for g in person.roles)
    )


def visible(principal: Principal, system_id: str | None) -> bool:
    if _sees_all(principal):
        return True
    return (
        system_id is not None and principal.person is not None and principal.person.sees(system_id)
    )


@dataclass(frozen=True)
class SystemInfo:
    id: str
    name: str
    owner: str
    created_at: str


def systems(ws: Workspace, principal: Principal) -> list[SystemInfo]:
    import sqlalchemy as sa

    from clearance.store import tables as t

    reader(principal)
    with ws.engine.connect() as conn:
        rows = conn.execute(sa.select(t.systems).order_by(t.systems.c.id)).all()
    return [
        SystemInfo(r.id, r.name, r.owner, r.created_at) for r in rows if visible(principal, r.id)
    ]


def system(ws: Workspace, principal: Principal, system_id: str) -> SystemInfo:
    reader(principal)
    require_access(principal, system_id)
    for found in systems(ws, principal):
        if found.id == system_id:
            return found
    raise NotFoundError(f"no system {system_id!r}")


def revisions(ws: Workspace, principal: Principal, system_id: str) -> list[RevisionRecord]:
    from clearance.store import repository as repo

    system(ws, principal, system_id)
    with ws.engine.connect() as conn:
        return repo.revisions_of(conn, system_id)


def revision(ws: Workspace, principal: Principal, digest: str) -> RevisionRecord:
    from clearance.store import repository as repo

    reader(principal)
    with ws.engine.connect() as conn:
        found = repo.get_revision(conn, digest)
    if found is None or not visible(principal, found.system_id):
        raise NotFoundError(f"no plan revision {digest}")
    return found


def diff(ws: Workspace, principal: Principal, old: str, new: str) -> list[Change]:
    """What changed between two revisions, section by section."""
    from clearance.core.diff import diff_plans

    a, b = revision(ws, principal, old), revision(ws, principal, new)
    return diff_plans(a.document, b.document)


def _candidate(conn: Connection, principal: Principal, digest: str) -> CandidateRecord:
    from clearance.store import repository as repo

    found = repo.get_candidate(conn, digest)
    if found is None or not visible(principal, found.system_id):
        raise NotFoundError(f"no candidate {digest}")
    return found


def candidate(ws: Workspace, principal: Principal, digest: str) -> CandidateRecord:
    reader(principal)
    with ws.engine.connect() as conn:
        return _candidate(conn, principal, digest)


def evaluation(ws: Workspace, principal: Principal, digest: str) -> Evaluation:
    """The candidate evaluated now from what is recorded (nothing is recorded)."""
    from clearance.services.gate import evaluate
    from clearance.services.plans import stored_plan

    reader(principal)
    with ws.engine.connect() as conn:
        found = _candidate(conn, principal, digest)
        return evaluate(conn, ws, stored_plan(conn, found), found)


def candidates(ws: Workspace, principal: Principal, system_id: str) -> list[CandidateRecord]:
    """The system's submitted candidates, oldest first (the web pages' release list)."""
    from clearance.store import repository as repo

    found = revisions(ws, principal, system_id)
    with ws.engine.connect() as conn:
        every = [c for r in found for c in repo.candidates_of_revision(conn, r.digest)]
    return sorted(every, key=lambda c: c.created_at)


def evidence_set(ws: Workspace, principal: Principal, digest: str) -> str:
    """The digest of the candidate's evidence as the gate counts it now (what a sign-off
    is bound to)."""
    from clearance.services.evidence_sets import evidence_sets
    from clearance.services.plans import stored_plan
    from clearance.services.verified import verified_evidence

    reader(principal)
    with ws.engine.connect() as conn:
        found = _candidate(conn, principal, digest)
        loaded = stored_plan(conn, found)
        records = verified_evidence(conn, found, loaded.plan.system.id)
        return evidence_sets(ws, loaded, records, conn).current


def evidence(ws: Workspace, principal: Principal, digest: str) -> list[EvidenceRecord]:
    from clearance.store import repository as repo

    reader(principal)
    with ws.engine.connect() as conn:
        _candidate(conn, principal, digest)
        return repo.evidence_of(conn, digest)


def evidence_item(ws: Workspace, principal: Principal, evidence_id: int) -> EvidenceRecord:
    from clearance.store import repository as repo

    reader(principal)
    with ws.engine.connect() as conn:
        found = repo.get_evidence(conn, evidence_id)
    if found is None or not visible(principal, found.system_id):
        raise NotFoundError(f"no evidence {evidence_id}")
    return found


def evidence_content(ws: Workspace, principal: Principal, evidence_id: int) -> BinaryIO:
    return ws.blobs.open(evidence_item(ws, principal, evidence_id).digest)


def findings(ws: Workspace, principal: Principal, digest: str, criterion_id: str) -> list[Any]:
    """The findings of a findings criterion of the candidate, for people choosing what to
    accept."""
    from clearance.services.findings import candidate_findings, findings_criterion
    from clearance.services.plans import stored_plan

    reader(principal)
    with ws.engine.connect() as conn:
        found = _candidate(conn, principal, digest)
        loaded = stored_plan(conn, found)
        findings_criterion(loaded, criterion_id)
        return list(candidate_findings(ws, conn, loaded, found, criterion_id))


def approvals(ws: Workspace, principal: Principal, digest: str) -> list[dict[str, Any]]:
    """The candidate's sign-offs as recorded (signed statements included)."""
    from clearance.store import repository as repo

    reader(principal)
    with ws.engine.connect() as conn:
        found = _candidate(conn, principal, digest)
        rows = repo.signed_approvals(conn, found.system_id, found.version)
    return [
        {"id": r.id, **_plain(r.record), "envelope": r.envelope}
        for r in rows
        if r.record.candidate == digest
    ]


def waivers(ws: Workspace, principal: Principal, digest: str) -> list[WaiverRow]:
    from clearance.store import repository as repo

    reader(principal)
    with ws.engine.connect() as conn:
        _candidate(conn, principal, digest)
        return repo.waivers_of(conn, digest)


def decisions(ws: Workspace, principal: Principal, digest: str) -> list[DecisionRecord]:
    from clearance.store import repository as repo

    reader(principal)
    with ws.engine.connect() as conn:
        _candidate(conn, principal, digest)
        return repo.decisions_of(conn, digest)


def releases(ws: Workspace, principal: Principal) -> list[ReleaseRecord]:
    from clearance.store import repository as repo

    reader(principal)
    with ws.engine.connect() as conn:
        return [r for r in repo.all_releases(conn) if visible(principal, r.system_id)]


def status(ws: Workspace, principal: Principal) -> Status:
    from clearance.services.releases import Status
    from clearance.services.releases import status as full

    reader(principal)
    state = full(ws)
    return Status(
        [d for d in state.inventory if visible(principal, d.system_id)],
        [p for p in state.pending if visible(principal, p.system_id)],
    )


def events(
    ws: Workspace, principal: Principal, *, after: int, limit: int, subject: str | None = None
) -> list[EventRecord]:
    """A page of the log; a caller who sees only some systems gets only their events (the
    log's hashes, checkpoints and proofs stay public to every reader)."""
    from clearance.store import repository as repo

    reader(principal)
    with ws.engine.connect() as conn:
        if _sees_all(principal):
            return repo.events(
                conn, subjects=[subject] if subject else None, after=after, limit=limit
            )
        found: list[EventRecord] = []
        while len(found) < limit:
            page = repo.events(
                conn, subjects=[subject] if subject else None, after=after, limit=limit
            )
            found += [e for e in page if visible(principal, e.system_id)]
            if len(page) < limit:
                break
            after = page[-1].seq
        return found[:limit]


def people(ws: Workspace, principal: Principal) -> list[Person]:
    """Everyone, for a caller with an organisation-wide role; yourself otherwise."""
    from clearance.store import people as repo

    reader(principal)
    me = require_signed(principal, "listing people")
    with ws.engine.connect() as conn:
        everyone = repo.all_people(conn)
    return everyone if _sees_all(principal) else [p for p in everyone if p.name == me.name]


def _plain(record: Any) -> dict[str, Any]:
    import dataclasses

    from clearance.store.records import to_time

    out = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        out[f.name] = to_time(value) if hasattr(value, "tzinfo") else value
    return out


def context(ws: Workspace, principal: Principal) -> dict[str, Any]:
    """What a client needs to validate a plan as the server will: the declared targets, the
    current policy, and the workspace's public key."""
    from clearance.services.policy import policy_of, targets
    from clearance.signing import b64

    reader(principal)
    policy = policy_of(ws)
    key = ws.signing_key
    document = (
        {"document": policy.policy.model_dump(mode="json"), "digest": policy.digest}
        if policy is not None
        else None
    )
    return {
        "targets": sorted(targets(ws)),
        "policy": document,
        "workspace_key": {"key_id": key.key_id, "public_key": b64(key.public_raw)},
    }


def checkpoint(ws: Workspace, principal: Principal) -> Checkpoint:
    from clearance.services.log import latest

    reader(principal)
    return latest(ws)


def proof(ws: Workspace, principal: Principal, seq: int) -> Proof:
    """An inclusion proof of an event the caller may see (another system's: not found)."""
    from clearance.services.log import prove

    reader(principal)
    found = prove(ws, seq)
    if not visible(principal, found.event.get("system_id")):
        raise NotFoundError(f"no event {seq}")
    return found


def consistency(
    ws: Workspace, principal: Principal, old_size: int, new_size: int | None = None
) -> dict[str, Any]:
    from clearance.services.log import consistency as prove

    reader(principal)
    return prove(ws, old_size, new_size)


def verified_log(ws: Workspace, principal: Principal) -> LogReport:
    from clearance.services.log import verify_log

    reader(principal)
    return verify_log(ws, None)
