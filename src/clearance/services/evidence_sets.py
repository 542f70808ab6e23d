"""The evidence set a sign-off is bound to, and what changed in it since a sign-off.

A sign-off names the digest of its candidate's evidence as the gate counts it: the latest
file per (criterion, name). Files count by their content digest, except JUnit reports,
which count by what they say about the tests (`junit_fingerprint`: each test's outcome and
the totals). Rerunning the same tests rewrites a report's timestamp, durations and host
name, which no reviewer judged, so an identical rerun leaves sign-offs standing; a test
added, removed or changing outcome voids them. The raw report is still stored, attached,
shown and packed. Sign-offs recorded before this rule named the raw-file digest, which is
still accepted (`EvidenceSets.accepted`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clearance.core.digest import json_digest
from clearance.core.evidencechanges import Seen, describe_changes, junit_fingerprint
from clearance.core.results import ApprovalRecord, EvidenceItem, TestReport
from clearance.services.plans import LoadedPlan
from clearance.services.workspace import Workspace

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.store.records import EvidenceRecord

Key = tuple[str, str]
Items = Mapping[str, Sequence[EvidenceItem]]
OUTCOMES = "junit-outcomes:"


@dataclass(frozen=True)
class EvidenceSets:
    """The digest a sign-off names now (`current`), and every digest of the same evidence a
    sign-off may carry (`accepted`: `current` and the raw-file digest)."""

    current: str
    raw: str

    @property
    def accepted(self) -> frozenset[str]:
        return frozenset({self.current, self.raw})


def evidence_sets(
    ws: Workspace,
    loaded: LoadedPlan,
    records: Sequence[EvidenceRecord],
    conn: Connection | None = None,
    items: Items | None = None,
) -> EvidenceSets:
    """The digests of a candidate's evidence set (the records that verify); `items` are
    those records already parsed (`evidence_items`), when the caller has them."""
    from clearance.services.evidence import evidence_items

    if items is None:
        items = evidence_items(ws, loaded, records, conn)
    return _sets(_latest(records), _parsed(items))


def signing_digest(ws: Workspace, loaded: LoadedPlan, candidate: str) -> str:
    """The digest of a recorded candidate's evidence that a sign-off names now."""
    from clearance.services.plans import recorded_candidate
    from clearance.services.verified import verified_evidence

    with ws.engine.connect() as conn:
        cand = recorded_candidate(conn, candidate, loaded.name)
        records = verified_evidence(conn, cand, loaded.plan.system.id)
        return evidence_sets(ws, loaded, records, conn).current


def explain_stale(
    ws: Workspace,
    loaded: LoadedPlan,
    records: Sequence[EvidenceRecord],
    approvals: Sequence[ApprovalRecord],
    candidate: str,
    conn: Connection | None = None,
    items: Items | None = None,
) -> dict[str, str]:
    """Evidence-set digest named by a stale sign-off of `candidate` -> what changed since,
    file by file. The set a sign-off saw is found by replaying the evidence records in the
    order they were added until their digest is the one it names."""
    from clearance.services.evidence import evidence_items

    if items is None:
        items = evidence_items(ws, loaded, records, conn)
    parsed = _parsed(items)
    current = _latest(records)
    now = _sets(current, parsed)
    wanted = {
        a.evidence_set
        for a in approvals
        if a.candidate == candidate and a.evidence_set and a.evidence_set not in now.accepted
    }
    if not wanted:
        return {}
    ordered = sorted(records, key=lambda r: r.id)
    # Only JUnit reports count by outcome; parse every report this candidate ever had once.
    reports = [r for r in ordered if _is_report(parsed.get((r.criterion_id, r.name)))]
    for key, item in _parsed(evidence_items(ws, loaded, _each(reports), conn)).items():
        parsed.setdefault(key, item)
    seen_then: dict[str, dict[Key, EvidenceRecord]] = {}
    latest: dict[Key, EvidenceRecord] = {}
    for i in range(len(ordered) + 1):
        if i:
            rec = ordered[i - 1]
            latest[(rec.criterion_id, rec.name)] = rec
        then = _sets(latest, parsed)
        for found in {then.current, then.raw} & wanted:
            seen_then.setdefault(found, dict(latest))
        if len(seen_then) == len(wanted):
            break
    explained: dict[str, str] = {}
    for digest in wanted:
        before = seen_then.get(digest)
        if before is None:
            continue  # evidence that no longer verifies, or a set from another plan revision
        changed = [k for k, r in before.items() if k in current and current[k].digest != r.digest]
        old = _parsed(evidence_items(ws, loaded, [before[k] for k in changed], conn))
        said = describe_changes(_seen(before, old), _seen(current, parsed))
        if said:
            explained[digest] = "; ".join(said)
    return explained


def changed_since(
    ws: Workspace,
    loaded: LoadedPlan,
    records: Sequence[EvidenceRecord],
    evidence_set: str,
    candidate: str,
    conn: Connection | None = None,
) -> str | None:
    """What changed in a candidate's evidence since the set whose digest is `evidence_set`
    (as `explain_stale` says it for a sign-off naming it), or None when unknown."""
    from datetime import UTC, datetime

    probe = ApprovalRecord(
        person="",
        role="",
        decision="approve",
        candidate=candidate,
        at=datetime.now(UTC),
        evidence_set=evidence_set,
    )
    return explain_stale(ws, loaded, records, [probe], candidate, conn).get(evidence_set)


def _each(records: Sequence[EvidenceRecord]) -> list[EvidenceRecord]:
    """Records renamed apart so that `evidence_items` parses every one, not the latest."""
    from dataclasses import replace

    return [replace(r, name=f"{r.name}\0{r.digest}") for r in records]


def _parsed(items: Items) -> dict[Key, EvidenceItem]:
    """(criterion id, name) -> parsed item; by digest too, for records renamed apart."""
    out: dict[Key, EvidenceItem] = {}
    for criterion_id, found in items.items():
        for item in found:
            name, _, digest = item.name.partition("\0")
            out[(criterion_id, name if digest else item.name)] = item
            out[(criterion_id, digest or item.digest)] = item
    return out


def _is_report(item: EvidenceItem | None) -> bool:
    return item is not None and isinstance(item.content, TestReport)


def _seen(
    records: Mapping[Key, EvidenceRecord], parsed: Mapping[Key, EvidenceItem]
) -> dict[Key, Seen]:
    out: dict[Key, Seen] = {}
    for key, rec in records.items():
        item = parsed.get((rec.criterion_id, rec.digest))
        content = item.content if item is not None and item.digest == rec.digest else None
        out[key] = Seen(rec.criterion_id, rec.name, rec.digest, content)
    return out


def _latest(records: Sequence[EvidenceRecord]) -> dict[Key, EvidenceRecord]:
    latest: dict[Key, EvidenceRecord] = {}
    for rec in sorted(records, key=lambda r: r.id):
        latest[(rec.criterion_id, rec.name)] = rec
    return latest


def _sets(latest: Mapping[Key, EvidenceRecord], parsed: Mapping[Key, EvidenceItem]) -> EvidenceSets:
    raw = {k: r.digest for k, r in latest.items()}
    counted = {k: _counted(r.criterion_id, r.digest, parsed) for k, r in latest.items()}
    return EvidenceSets(current=_digest(counted), raw=_digest(raw))


def _counted(criterion_id: str, digest: str, parsed: Mapping[Key, EvidenceItem]) -> str:
    """What a file counts as in the set: its digest, or for a readable JUnit report the
    digest of its test outcomes."""
    item = parsed.get((criterion_id, digest))
    if item is None or item.digest != digest or not isinstance(item.content, TestReport):
        return digest  # not a report, or unreadable: only the same bytes are the same evidence
    return OUTCOMES + json_digest(junit_fingerprint(item.content))


def _digest(files: Mapping[Key, str]) -> str:
    return json_digest(sorted([c, n, d] for (c, n), d in files.items()))
