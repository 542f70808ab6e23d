"""Workspace verification: blobs, revisions, candidates and events against their digests."""

from __future__ import annotations

from clearance.core.digest import candidate_digest, revision_digest
from clearance.services.workspace import Workspace


def verify_workspace(ws: Workspace) -> tuple[int, list[str]]:
    """Re-hash every blob and recompute every recorded digest; returns (checked, failures)."""
    import sqlalchemy as sa

    from clearance.store import repository as repo
    from clearance.store import tables as t
    from clearance.store.records import CandidateRecord, EventRecord, RevisionRecord

    failures = list(ws.blobs.verify())
    checked = 0
    with ws.engine.connect() as conn:
        revisions = {}
        for row in conn.execute(sa.select(t.revisions)):
            rev = RevisionRecord.from_row(row)
            revisions[rev.digest] = rev
            checked += 1
            if revision_digest(rev.document) != rev.digest:
                failures.append(f"plan revision {rev.digest}: document does not match its digest")
        for row in conn.execute(sa.select(t.candidates)):
            cand = CandidateRecord.from_row(row)
            checked += 1
            source = revisions.get(cand.revision)
            pins = {c.name: c.digest for c in cand.components}
            if source is None or candidate_digest(source.document, pins) != cand.digest:
                failures.append(
                    f"candidate {cand.digest}: does not match its revision and components"
                )
        for digest in set(conn.execute(sa.select(t.evidence.c.digest)).scalars()):
            checked += 1
            if not ws.blobs.exists(digest):
                failures.append(
                    f"evidence blob {digest}: referenced but missing from the blob store"
                )
        for row in conn.execute(sa.select(t.events).order_by(t.events.c.seq)):
            event = EventRecord.from_row(row)
            checked += 1
            if repo.event_leaf_hash(event.as_json()) != event.leaf_hash:
                failures.append(f"event {event.seq}: content does not match its leaf hash")
    return checked, failures
