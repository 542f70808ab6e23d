"""Releases: record the deployment of a GO candidate, and what runs where."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from clearance.errors import ConflictError
from clearance.services.evidence import store_named_files
from clearance.services.gate import Checked, gate
from clearance.services.plans import LoadedPlan
from clearance.services.workspace import Workspace, record_event
from clearance.store.records import ComponentPin, DecisionRecord, ReleaseRecord

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Released:
    release_id: int
    checked: Checked
    already: bool


def release(ws: Workspace, loaded: LoadedPlan, actor: str) -> Released:
    """Re-run the gate and, if GO, record the release; a NO-GO candidate is refused (and
    the refusal is recorded)."""
    stored = store_named_files(ws, loaded)
    with ws.transaction() as conn:
        checked = gate(conn, ws, loaded, actor, stored)
        evaluation, sub, decision_id = checked.evaluation, checked.submitted, checked.decision_id
        if evaluation.decision == "GO":
            return _record_release(conn, ws, loaded, checked, actor)
        record_event(
            conn,
            ws,
            "release.refused",
            actor,
            sub.candidate.digest,
            {"decision_id": decision_id, "target": loaded.plan.release.target},
            loaded.plan.system.id,
        )
    blocking = "\n".join(f"  {r.id}: {r.reason}" for r in evaluation.blocking())
    raise NoGo(checked, f"refused: candidate {sub.candidate.digest} is NO-GO\n{blocking}")


def _record_release(
    conn: Connection, ws: Workspace, loaded: LoadedPlan, checked: Checked, actor: str
) -> Released:
    from clearance.store import repository as repo

    candidate, target = checked.submitted.candidate, loaded.plan.release.target
    current = repo.releases_to(conn, loaded.plan.system.id, target)
    if current and current[-1].candidate == candidate.digest:
        return Released(current[-1].id, checked, already=True)
    deployed = tuple(c for c in candidate.components if c.deploy)
    release_id = repo.insert_release(
        conn,
        {
            "candidate": candidate.digest,
            "decision_id": checked.decision_id,
            "system_id": loaded.plan.system.id,
            "version": loaded.plan.release.version,
            "target": target,
            "components": deployed,
            "released_by": actor,
            "released_at": ws.clock(),
        },
    )
    record_event(
        conn,
        ws,
        "release.recorded",
        actor,
        candidate.digest,
        {
            "release_id": release_id,
            "target": target,
            "version": loaded.plan.release.version,
            "components": {c.name: c.digest for c in deployed},
        },
        loaded.plan.system.id,
    )
    return Released(release_id, checked, already=False)


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
