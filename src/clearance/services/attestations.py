"""Release attestations as recorded: the signed statement of a candidate's GO decision."""

from __future__ import annotations

from typing import Any

from clearance.errors import ConflictError, NotFoundError
from clearance.services.workspace import Workspace


def latest_attestation(ws: Workspace, candidate: str) -> dict[str, Any]:
    """The attestation of the candidate's latest decision, which must be GO: a candidate
    whose GO was followed by a NO-GO (an approval withdrawn, a waiver expired) has none."""
    from clearance.services.revocations import refuse_revoked
    from clearance.store import repository as repo

    with ws.engine.connect() as conn:
        decisions = repo.decisions_of(conn, candidate)
        found = dict(repo.attestations_of(conn, candidate))
        latest = decisions[-1] if decisions else None
        if latest is not None and latest.id in found:
            refuse_revoked(conn, found[latest.id])
    if not decisions:
        raise NotFoundError(
            f"candidate {candidate} has no decision yet; run `clearance check` until it says GO"
        )
    latest = decisions[-1]
    if latest.outcome != "GO" or latest.id not in found:
        raise ConflictError(
            f"the latest decision on candidate {candidate} is {latest.outcome} "
            f"(decision {latest.id}, {latest.evaluated_at:%Y-%m-%d %H:%M} UTC), so there is no "
            "attestation to export; run `clearance check` and resolve what blocks it"
        )
    return found[latest.id]
