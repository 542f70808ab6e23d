"""Reads for whole-workspace verification: every record row with its digest, and what the
log says was recorded."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clearance.store import tables as t
from clearance.store.records import CandidateRecord, RevisionRecord
from clearance.store.repository import record_digest

#: tables whose rows are each recorded, by digest, in the event that created them
RECORD_TABLES = tuple(
    name for name in t.INSERT_ONLY if name not in ("events", "checkpoints", "log_nodes")
)


def logged_records(conn: Connection) -> Counter[tuple[str, str]]:
    """How many times the log recorded each (table, digest)."""
    logged: Counter[tuple[str, str]] = Counter()
    for (payload,) in conn.execute(sa.select(t.events.c.payload)):
        for table, digest in json.loads(payload).get("records", []):
            logged[(table, digest)] += 1
    return logged


def record_rows(conn: Connection) -> Iterator[tuple[str, str, str]]:
    """(table, row key, digest as stored) of every record row."""
    for name in RECORD_TABLES:
        for row in conn.execute(sa.select(t.metadata.tables[name])):
            yield name, _key(row._mapping), record_digest(name, row._mapping)


def _key(mapping: object) -> str:
    for column in ("id", "digest", "key_id", "name", "waiver_id"):
        if column in mapping:  # type: ignore[operator]
            return str(mapping[column])  # type: ignore[index]
    return "?"


def all_revisions(conn: Connection) -> list[RevisionRecord]:
    return [RevisionRecord.from_row(r) for r in conn.execute(sa.select(t.revisions))]


def all_candidates(conn: Connection) -> list[CandidateRecord]:
    return [CandidateRecord.from_row(r) for r in conn.execute(sa.select(t.candidates))]


def evidence_digests(conn: Connection) -> set[str]:
    return set(conn.execute(sa.select(t.evidence.c.digest)).scalars())
