"""Workspace verification: blobs, revisions, candidates, the log, and every record row
against the digest its event put on the log."""

from __future__ import annotations

from collections import Counter

from clearance.core.digest import candidate_digest, revision_digest
from clearance.services.log import verify_log
from clearance.services.workspace import Workspace

#: tables whose rows are each recorded, by digest, in the event that created them
RECORD_TABLES = (
    "systems",
    "plan_revisions",
    "candidates",
    "evidence",
    "approvals",
    "decisions",
    "releases",
    "keys",
    "people",
    "role_grants",
    "person_keys",
    "key_retirements",
    "waivers",
    "policies",
    "attestations",
    "admin_statements",
    "targets",
    "waiver_revocations",
)


def verify_workspace(ws: Workspace) -> tuple[int, list[str]]:
    """Re-hash every blob, verify the log, and compare every record with the log;
    returns (items checked, failures)."""
    import json

    import sqlalchemy as sa

    from clearance.store import repository as repo
    from clearance.store import tables as t
    from clearance.store.records import CandidateRecord, RevisionRecord

    ws.blobs.remove_temp(older_than=3600)  # unfinished writes of crashed processes
    failures = list(ws.blobs.verify())
    report = verify_log(ws)
    failures += report.failures
    checked = report.events
    with ws.engine.connect() as conn:
        logged: Counter[tuple[str, str]] = Counter()
        for (payload,) in conn.execute(sa.select(t.events.c.payload)):
            for table, digest in json.loads(payload).get("records", []):
                logged[(table, digest)] += 1
        stored: Counter[tuple[str, str]] = Counter()
        for name in RECORD_TABLES:
            for row in conn.execute(sa.select(t.metadata.tables[name])):
                checked += 1
                digest = repo.record_digest(name, dict(row._mapping))
                stored[(name, digest)] += 1
                if stored[(name, digest)] > logged[(name, digest)]:
                    failures.append(
                        f"{name} row {_key(row)}: not as the log recorded it "
                        "(edited or inserted outside Clearance)"
                    )
        for (name, digest), count in logged.items():
            if stored[(name, digest)] < count:
                failures.append(f"{name}: a row the log recorded ({digest[:19]}…) is missing")
        revisions = {}
        for row in conn.execute(sa.select(t.revisions)):
            rev = RevisionRecord.from_row(row)
            revisions[rev.digest] = rev
            if revision_digest(rev.document) != rev.digest:
                failures.append(f"plan revision {rev.digest}: document does not match its digest")
        for row in conn.execute(sa.select(t.candidates)):
            cand = CandidateRecord.from_row(row)
            source = revisions.get(cand.revision)
            pins = {c.name: c.digest for c in cand.components}
            if source is None or candidate_digest(source.document, pins) != cand.digest:
                failures.append(
                    f"candidate {cand.digest}: does not match its revision and components"
                )
        for digest in set(conn.execute(sa.select(t.evidence.c.digest)).scalars()):
            checked += 1
            if not ws.blobs.exists(digest):
                failures.append(f"evidence blob {digest}: referenced but missing from the store")
    return checked, failures


def _key(row: object) -> str:
    mapping = getattr(row, "_mapping", {})
    for column in ("id", "digest", "key_id"):
        if column in mapping:
            return str(mapping[column])
    return "?"
