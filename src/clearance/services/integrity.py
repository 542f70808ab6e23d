"""Workspace verification: blobs, revisions, candidates, the log, and every record row
against the digest its event put on the log."""

from __future__ import annotations

from collections import Counter

from clearance.core.digest import candidate_digest, revision_digest
from clearance.services.log import verify_log
from clearance.services.workspace import Workspace


def verify_workspace(ws: Workspace) -> tuple[int, list[str]]:
    """Re-hash every blob, verify the log, and compare every record with the log;
    returns (items checked, failures)."""
    from clearance.store import audit

    ws.blobs.remove_temp(older_than=3600)  # unfinished writes of crashed processes
    failures = list(ws.blobs.verify())
    report = verify_log(ws)
    failures += report.failures
    checked = report.events
    with ws.engine.connect() as conn:
        logged = audit.logged_records(conn)
        stored: Counter[tuple[str, str]] = Counter()
        for name, key, digest in audit.record_rows(conn):
            checked += 1
            stored[(name, digest)] += 1
            if stored[(name, digest)] > logged[(name, digest)]:
                failures.append(
                    f"{name} row {key}: not as the log recorded it "
                    "(edited or inserted outside Clearance)"
                )
        for (name, digest), count in logged.items():
            if stored[(name, digest)] < count:
                failures.append(f"{name}: a row the log recorded ({digest[:19]}…) is missing")
        revisions = {}
        for rev in audit.all_revisions(conn):
            revisions[rev.digest] = rev
            if revision_digest(rev.document) != rev.digest:
                failures.append(f"plan revision {rev.digest}: document does not match its digest")
        for cand in audit.all_candidates(conn):
            source = revisions.get(cand.revision)
            pins = {c.name: c.digest for c in cand.components}
            if source is None or candidate_digest(source.document, pins) != cand.digest:
                failures.append(
                    f"candidate {cand.digest}: does not match its revision and components"
                )
        for digest in audit.evidence_digests(conn):
            checked += 1
            if not ws.blobs.exists(digest):
                failures.append(f"evidence blob {digest}: referenced but missing from the store")
    return checked, failures
