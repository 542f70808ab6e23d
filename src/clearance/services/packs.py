"""Exporting an audit pack: the use case that renders a candidate's records into a pack
(`exports.pack`) and logs that it did, by whom."""

from __future__ import annotations

from pathlib import Path

from clearance.exports.pack import Exported, export_pack
from clearance.services.auth import Principal
from clearance.services.workspace import Workspace
from clearance.store.uow import retrying


def export(ws: Workspace, principal: Principal, candidate: str, out: Path) -> Exported:
    """Write the audit pack of a recorded candidate, then record the export on the log."""
    done = export_pack(ws, candidate, out, principal.name)
    _log(ws, principal, done)
    return done


@retrying()
def _log(ws: Workspace, principal: Principal, done: Exported) -> None:
    with ws.transaction() as uow:
        uow.append(
            "pack.exported",
            actor=principal.name,
            subject=done.candidate,
            payload={"manifest_sha256": done.manifest_sha256, "files": done.files - 1},
            system_id=done.system_id,
        )
