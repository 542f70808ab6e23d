"""Release attestations as recorded: the signed statement of a candidate's GO decision."""

from __future__ import annotations

from typing import Any

from clearance.errors import NotFoundError
from clearance.services.plans import LoadedPlan, candidate_of
from clearance.services.workspace import Workspace


def latest_attestation(ws: Workspace, loaded: LoadedPlan) -> dict[str, Any]:
    from clearance.store import repository as repo

    digest = candidate_of(ws, loaded)
    with ws.engine.connect() as conn:
        found = repo.attestations_of(conn, digest)
    if not found:
        raise NotFoundError(
            f"candidate {digest} has no GO decision, so no attestation; "
            "run `clearance check` until it says GO"
        )
    return found[-1][1]
