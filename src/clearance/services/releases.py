"""Releases: record the deployment of a GO candidate, and what runs where."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from clearance.errors import ConflictError
from clearance.services.auth import Principal, require_signed
from clearance.services.evidence import StoredFiles, require_stored
from clearance.services.gate import Checked, gate
from clearance.services.plans import LoadedPlan, may_write
from clearance.services.workspace import Workspace
from clearance.store.records import ComponentPin, DecisionRecord, ReleaseRecord
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from clearance.store.uow import UnitOfWork


@dataclass(frozen=True)
class Released:
    release_id: int
    checked: Checked
    already: bool


@retrying()
def release(
    ws: Workspace,
    principal: Principal,
    loaded: LoadedPlan,
    digests: Mapping[str, str],
    stored: StoredFiles,
) -> Released:
    """Re-run the gate and, if GO, record the release by a signed person; a NO-GO candidate
    is refused (and the refusal is recorded)."""
    require_signed(principal, "recording a release")
    may_write(principal, loaded.plan.system.id)
    require_stored(ws, stored)
    with ws.transaction() as uow:
        checked = gate(uow, ws, principal, loaded, digests, stored)
        evaluation, sub, decision_id = checked.evaluation, checked.submitted, checked.decision_id
        if evaluation.decision == "GO":
            return _record_release(uow, principal, loaded, checked)
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
    uow: UnitOfWork, principal: Principal, loaded: LoadedPlan, checked: Checked
) -> Released:
    from clearance.store import repository as repo

    candidate, target = checked.submitted.candidate, loaded.plan.release.target
    current = repo.releases_to(uow.conn, loaded.plan.system.id, target)
    if current and current[-1].candidate == candidate.digest:
        return Released(current[-1].id, checked, already=True)
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
    return Released(inserted.id, checked, already=False)


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
    """Inventories per target, and candidates decided but not released."""
    from clearance.store import repository as repo

    with ws.engine.connect() as conn:
        releases = repo.all_releases(conn)
        released = {r.candidate for r in releases}
        pending = [d for d in repo.latest_decisions(conn) if d.candidate not in released]
    return Status(inventory_of(releases), pending)
