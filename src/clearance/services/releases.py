"""Releases: record the deployment of a GO candidate, and what runs where."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from clearance.errors import ConflictError
from clearance.services.aliases import AliasMoved, AliasMover, move_aliases
from clearance.services.auth import Principal, require_signed
from clearance.services.evidence import StoredFiles, require_stored
from clearance.services.gate import Checked, gate
from clearance.services.plans import LoadedPlan, may_write
from clearance.services.workspace import Workspace
from clearance.store.records import ComponentPin, DecisionRecord, ReleaseRecord, RevisionRecord
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from clearance.store.uow import UnitOfWork


@dataclass(frozen=True)
class Released:
    release_id: int
    checked: Checked
    already: bool
    #: registry aliases the release moved (`services.aliases`)
    moved: tuple[AliasMoved, ...] = ()


@retrying()
def release(
    ws: Workspace,
    principal: Principal,
    loaded: LoadedPlan,
    digests: Mapping[str, str],
    stored: StoredFiles,
    aliases: AliasMover | None = None,
) -> Released:
    """Re-run the gate and, if GO, record the release by a signed person; a NO-GO candidate
    is refused (and the refusal is recorded). Registry aliases the plan names are moved
    through `aliases` in the release's transaction (`services.aliases`)."""
    require_signed(principal, "recording a release")
    may_write(principal, loaded.plan.system.id)
    require_stored(ws, stored)
    with ws.transaction() as uow:
        checked = gate(uow, ws, principal, loaded, digests, stored)
        evaluation, sub, decision_id = checked.evaluation, checked.submitted, checked.decision_id
        if evaluation.decision == "GO":
            return _record_release(uow, ws, principal, loaded, checked, aliases)
        uow.append(
            "release.refused",
            actor=principal.name,
            subject=sub.candidate.digest,
            payload={"decision_id": decision_id, "target": loaded.plan.release.target},
            system_id=loaded.plan.system.id,
        )
    blocking = "\n".join(f"  {r.id}: {r.reason}" for r in evaluation.blocking())
    raise NoGo(checked, f"refused: candidate {sub.candidate.digest} is NO-GO\n{blocking}")


def _record_release(
    uow: UnitOfWork,
    ws: Workspace,
    principal: Principal,
    loaded: LoadedPlan,
    checked: Checked,
    aliases: AliasMover | None = None,
) -> Released:
    from clearance.services.revocations import revoke_candidate
    from clearance.store import repository as repo

    candidate, target = checked.submitted.candidate, loaded.plan.release.target
    current = repo.releases_to(uow.conn, loaded.plan.system.id, target)
    if current and current[-1].candidate == candidate.digest:
        return Released(current[-1].id, checked, already=True)
    version = loaded.plan.release.version
    if current and (
        candidate.digest in {r.candidate for r in current}
        or (version in {r.version for r in current} and version != current[-1].version)
    ):
        # a rollback (to a candidate or version that ran here before): the candidate rolled
        # back from must not be deployed again on its GO
        left = current[-1]
        reason = f"rolled back: {target} returned from {left.version} to {version}"
        revoke_candidate(uow, ws, left.candidate, target, reason, principal.name)
    deployed = tuple(c for c in candidate.components if c.deploy)
    inserted = repo.insert_release(
        uow,
        ReleaseRecord(
            id=0,
            candidate=candidate.digest,
            decision_id=checked.decision_id,
            system_id=loaded.plan.system.id,
            version=loaded.plan.release.version,
            target=target,
            components=deployed,
            released_by=principal.name,
            released_at=uow.clock(),
        ),
    )
    uow.append(
        "release.recorded",
        actor=principal.name,
        subject=candidate.digest,
        payload={
            "release_id": inserted.id,
            "target": target,
            "version": loaded.plan.release.version,
            "components": {c.name: c.digest for c in deployed},
        },
        system_id=loaded.plan.system.id,
        records=[inserted],
    )
    moved = move_aliases(uow, principal, loaded, candidate.digest, inserted, aliases)
    return Released(inserted.id, checked, already=False, moved=moved)


class NoGo(ConflictError):
    """The refusal carries the evaluation that caused it, so the CLI can show its reasons."""

    def __init__(self, checked: Checked, message: str) -> None:
        super().__init__(message)
        self.checked = checked


# -- status -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deployed:
    system_id: str
    target: str
    component: ComponentPin
    release_version: str
    released_at: datetime
    released_by: str


@dataclass(frozen=True)
class Status:
    inventory: list[Deployed]
    pending: list[DecisionRecord]


def inventory_of(releases: list[ReleaseRecord]) -> list[Deployed]:
    """Which version of each component runs in each target, from the releases in order."""
    now: dict[tuple[str, str, str], Deployed] = {}
    for rel in releases:
        for comp in rel.components:
            now[(rel.system_id, rel.target, comp.name)] = Deployed(
                rel.system_id, rel.target, comp, rel.version, rel.released_at, rel.released_by
            )
    return [now[k] for k in sorted(now)]


def status(ws: Workspace) -> Status:
    """Inventories per target, and candidates decided but not released (superseded ones
    left out)."""
    from clearance.store import repository as repo

    with ws.engine.connect() as conn:
        releases = repo.all_releases(conn)
        decisions = repo.latest_decisions(conn)
    return Status(inventory_of(releases), waiting(decisions, releases))


def waiting(decisions: list[DecisionRecord], releases: list[ReleaseRecord]) -> list[DecisionRecord]:
    """The candidates that still wait for release: per system and target, the one decided
    last, if it was decided after that target's last release and is not released. An older
    candidate is superseded by a newer one (a fixed plan, a new version), and a decision that
    a later release overtook no longer waits."""
    released = {r.candidate for r in releases}
    last_release = {(r.system_id, r.target): r.decision_id for r in releases}
    newest: dict[tuple[str, str], DecisionRecord] = {}
    for d in decisions:  # in decision order: the last one per (system, target) wins
        newest[(d.system_id, d.target)] = d
    return [
        d
        for key, d in sorted(newest.items())
        if d.candidate not in released and d.id > last_release.get(key, 0)
    ]


# -- history ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    """One release to one environment; a rollback returns the environment to what an
    earlier release there deployed (`returns_to`: that release's id)."""

    release: ReleaseRecord
    rollback: bool
    returns_to: int | None
    #: the version that ran in the environment before this release, if any
    replaced: str | None


def history(ws: Workspace, system_id: str, target: str | None = None) -> list[HistoryEntry]:
    """Every release of `system_id` (to `target` only, if given), oldest first.

    A release is a rollback when it deploys exactly the components (by digest) that an
    earlier release to the same environment deployed, other than the one it replaces: the
    plan of a rollback usually differs (`rollback.to`, a note), so its candidate is new,
    but what runs is the earlier release's.
    """
    from clearance.errors import NotFoundError
    from clearance.store import repository as repo

    with ws.engine.connect() as conn:
        releases = [r for r in repo.all_releases(conn) if r.system_id == system_id]
        known = system_id in {d.system_id for d in repo.latest_decisions(conn)}
    if not releases and not known:
        raise NotFoundError(f'no system "{system_id}" has been checked or released here')
    entries: list[HistoryEntry] = []
    earlier: dict[str, list[ReleaseRecord]] = {}
    for r in releases:
        before = earlier.get(r.target, [])
        current = before[-1] if before else None
        deployed = _deployed(r)
        same = [e for e in before if _deployed(e) == deployed and e is not current]
        rollback = bool(same) and current is not None and _deployed(current) != deployed
        entries.append(
            HistoryEntry(
                r,
                rollback,
                same[-1].id if rollback else None,
                current.version if current else None,
            )
        )
        earlier.setdefault(r.target, []).append(r)
    return [e for e in entries if target is None or e.release.target == target]


def _deployed(release: ReleaseRecord) -> frozenset[tuple[str, str]]:
    return frozenset((c.name, c.digest) for c in release.components)


def released_revision(
    ws: Workspace, system_id: str, target: str
) -> tuple[ReleaseRecord, RevisionRecord] | None:
    """The release now current in `target` for `system_id`, with its plan revision (what a
    pull request's plan is compared with); None before the first release."""
    from clearance.store import repository as repo

    with ws.engine.connect() as conn:
        releases = repo.releases_to(conn, system_id, target)
        if not releases:
            return None
        candidate = repo.get_candidate(conn, releases[-1].candidate)
        revision = repo.get_revision(conn, candidate.revision) if candidate else None
    if revision is None:
        return None
    return releases[-1], revision
