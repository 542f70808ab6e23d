"""What a reviewer link shows: a read-only view of exactly the releases it names (plan,
checklist, evidence, sign-offs, the diff from the revision before, the audit pack), and
nothing else.

Every use is admitted and logged in one transaction: the link is looked up by its token's
hash under the write lock, so a revocation committed before is seen, and the event (which
link, what was read, from which address) is on the log before anything is shown. Every
refusal (a token unknown, expired, revoked, or used for something it does not show) is the
same `LinkRefused`, with the same message, so a refusal tells nothing about why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from clearance.errors import NotFoundError
from clearance.services.shares import PREFIX, token_hash
from clearance.services.workspace import Workspace
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from clearance.core.decision import Evaluation
    from clearance.core.diff import Change
    from clearance.core.plan import Plan
    from clearance.exports.pack import Exported
    from clearance.store.records import (
        ComponentPin,
        DecisionRecord,
        EvidenceRecord,
        RevisionRecord,
        SignedApproval,
        WaiverRow,
    )
    from clearance.store.shares import LinkRow, SharedRelease
    from clearance.store.uow import UnitOfWork

#: a token-shaped value no link can have, looked up for malformed tokens so that every
#: refusal costs the same database round trip
_NOBODY = PREFIX + "-" * 43


class LinkRefused(NotFoundError):
    """A reviewer link that does not open this page; deliberately says nothing more."""

    def __init__(self) -> None:
        super().__init__("not found")


@dataclass(frozen=True)
class ReleaseView:
    """One shared release, as the reviewer sees it."""

    link: LinkRow
    release: SharedRelease
    plan: Plan
    revision: RevisionRecord
    #: the components as pinned in the candidate, with their digests
    components: tuple[ComponentPin, ...]
    evaluation: Evaluation
    evidence: list[EvidenceRecord]
    approvals: list[SignedApproval]
    waivers: list[WaiverRow]
    decisions: list[DecisionRecord]
    #: the revision before this one and what changed since (None for a first revision)
    previous: RevisionRecord | None
    changes: list[Change]


def open_link(ws: Workspace, secret: str, *, address: str | None) -> LinkRow:
    """The link's landing page: which releases it shows, who shared it, until when."""
    return _use(ws, secret, address, "viewed", {"read": "index"})[0]


def view_release(
    ws: Workspace, secret: str, system_id: str, version: str, *, address: str | None
) -> ReleaseView:
    """A shared release's page (logged as viewed)."""
    from clearance.core.diff import diff_plans
    from clearance.services.gate import evaluate
    from clearance.services.plans import stored_plan
    from clearance.store import repository as repo

    link, release = _use(
        ws, secret, address, "viewed", {"read": "release"}, system_id=system_id, version=version
    )
    assert release is not None
    with ws.engine.connect() as conn:
        candidate = repo.get_candidate(conn, release.candidate)
        assert candidate is not None  # a link pins a recorded candidate
        loaded = stored_plan(conn, candidate)
        revisions = repo.revisions_of(conn, release.system_id)
        at = next(i for i, r in enumerate(revisions) if r.digest == candidate.revision)
        previous = revisions[at - 1] if at > 0 else None
        return ReleaseView(
            link=link,
            release=release,
            plan=loaded.plan,
            revision=revisions[at],
            components=candidate.components,
            evaluation=evaluate(conn, ws, loaded, candidate),
            evidence=repo.evidence_of(conn, candidate.digest),
            approvals=[
                a
                for a in repo.signed_approvals(conn, release.system_id, release.version)
                if a.record.candidate == candidate.digest
            ],
            waivers=repo.waivers_of(conn, candidate.digest),
            decisions=repo.decisions_of(conn, candidate.digest),
            previous=previous,
            changes=diff_plans(previous.document, revisions[at].document) if previous else [],
        )


def download_evidence(
    ws: Workspace,
    secret: str,
    system_id: str,
    version: str,
    evidence_id: int,
    *,
    address: str | None,
) -> tuple[EvidenceRecord, BinaryIO]:
    """One evidence file of a shared release (logged as downloaded, naming the file)."""

    def check(uow: UnitOfWork, release: SharedRelease) -> dict[str, Any]:
        from clearance.store import repository as repo

        found = repo.get_evidence(uow.conn, evidence_id)
        if found is None or found.candidate != release.candidate:
            raise LinkRefused()
        return {"evidence": {"id": found.id, "name": found.name, "digest": found.digest}}

    _, release, _ = _use_with(
        ws, secret, address, "downloaded", "evidence", system_id, version, check
    )
    assert release is not None
    from clearance.store import repository as repo

    with ws.engine.connect() as conn:
        record = repo.get_evidence(conn, evidence_id)
    assert record is not None
    return record, ws.blobs.open(record.digest)


def download_pack(
    ws: Workspace, secret: str, system_id: str, version: str, out: Path, *, address: str | None
) -> Exported:
    """The audit pack of a shared release, written to `out` (logged as downloaded)."""
    from clearance.exports.pack import write_pack
    from clearance.services.packs import gather

    link, release = _use(
        ws, secret, address, "downloaded", {"read": "audit-pack"},
        system_id=system_id, version=version,
    )  # fmt: skip
    assert release is not None
    with ws.engine.connect() as conn:
        records = gather(conn, release.candidate)
    return write_pack(
        records,
        out,
        key=ws.signing_key,
        open_blob=ws.blobs.open,
        actor=link.subject,
        at=ws.clock(),
    )


# -- admission ---------------------------------------------------------------------------


def _use(
    ws: Workspace,
    secret: str,
    address: str | None,
    kind: str,
    what: dict[str, Any],
    *,
    system_id: str | None = None,
    version: str | None = None,
) -> tuple[LinkRow, SharedRelease | None]:
    link, release, _ = _use_with(
        ws, secret, address, kind, str(what["read"]), system_id, version, None
    )
    return link, release


@retrying()
def _use_with(
    ws: Workspace,
    secret: str,
    address: str | None,
    kind: str,
    read: str,
    system_id: str | None,
    version: str | None,
    check: Any,
) -> tuple[LinkRow, SharedRelease | None, dict[str, Any]]:
    """Admit one use of a link and log it, in one transaction; LinkRefused otherwise.

    A read-only look first refuses what it can without the write lock, so guessing tokens
    never queues the writers; the transaction then looks again under the lock, so a
    revocation committed in between is seen."""
    from clearance.store import shares as repo

    looked_up = secret if secret.startswith(PREFIX) and len(secret) == len(_NOBODY) else _NOBODY
    digest = token_hash(looked_up)
    with ws.engine.connect() as conn:
        _admitted(repo.link_by_hash(conn, digest), ws.clock(), system_id, version)
    with ws.transaction() as uow:
        link, release = _admitted(
            repo.link_by_hash(uow.conn, digest), uow.clock(), system_id, version
        )
        detail = check(uow, release) if check is not None else {}
        payload: dict[str, Any] = {"link": link.id, "read": read, **detail, "address": address}
        if release is not None:
            payload["release"] = release.as_json()
        uow.append(
            f"share.{kind}",
            actor=link.subject,
            subject=link.subject,
            payload=payload,
            system_id=release.system_id if release is not None else _only_system(link),
        )
    return link, release, detail


def _admitted(
    link: LinkRow | None, now: datetime, system_id: str | None, version: str | None
) -> tuple[LinkRow, SharedRelease | None]:
    """The link and the release asked for, if the link is usable now and shows it."""
    if link is None or not link.usable(now):
        raise LinkRefused()
    if system_id is None:
        return link, None
    for release in link.releases:
        if (release.system_id, release.version) == (system_id, version):
            return link, release
    raise LinkRefused()


def _only_system(link: LinkRow) -> str | None:
    systems = {r.system_id for r in link.releases}
    return systems.pop() if len(systems) == 1 else None
