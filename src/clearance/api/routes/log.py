"""The audit log (events, checkpoints, inclusion and consistency proofs, verification) and
audit packs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from clearance.api import models
from clearance.api.deps import WS, Caller
from clearance.api.pages import DEFAULT_LIMIT, MAX_LIMIT, decode, encode
from clearance.errors import UsageError
from clearance.services import queries

router = APIRouter()


@router.get("/log/events", tags=["log"])
def events(
    ws: WS,
    who: Caller,
    cursor: str | None = Query(default=None, max_length=2000),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    subject: str | None = Query(default=None, max_length=200),
) -> Any:
    after = decode(cursor) or 0
    if not isinstance(after, int):
        raise UsageError("the cursor is not one this server gave for this list")
    found = queries.events(ws, who, after=after, limit=limit + 1, subject=subject)
    chunk = found[:limit]
    return {
        "items": [{**e.as_json(), "leaf_hash": e.leaf_hash} for e in chunk],
        "next_cursor": encode(chunk[-1].seq) if len(found) > limit else None,
    }


@router.get("/log/checkpoint", tags=["log"])
def checkpoint(ws: WS, who: Caller) -> Any:
    """The latest signed checkpoint: tree size, root, time and signature."""
    return queries.checkpoint(ws, who).as_json()


@router.get("/log/events/{seq}/proof", tags=["log"])
def prove(ws: WS, who: Caller, seq: int) -> Any:
    """An inclusion proof of event `seq` against the latest signed checkpoint."""
    return queries.proof(ws, who, seq).as_json()


@router.get("/log/consistency", tags=["log"])
def consistency(
    ws: WS, who: Caller, old: int = Query(ge=1), new: int | None = Query(default=None, ge=1)
) -> Any:
    """An RFC 9162 consistency proof from the tree of size `old` to the signed checkpoint of
    size `new` (default: the latest)."""
    return queries.consistency(ws, who, old, new)


@router.post("/log/verifications", tags=["log"])
def verify(ws: WS, who: Caller) -> Any:
    """The server recomputes the whole log and checks every checkpoint (use `pack verify`
    or `log consistency` to check without trusting the server)."""
    report = queries.verified_log(ws, who)
    return {"events": report.events, "checkpoints": report.checkpoints, "failures": report.failures}


@router.post(
    "/packs",
    tags=["packs"],
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The audit pack"}},
)
def export(ws: WS, who: Caller, body: models.Export) -> FileResponse:
    """The audit pack of a candidate, as a zip file; the export is logged."""
    from clearance.api.render import pack_filename, zip_download
    from clearance.services.packs import export as export_pack

    return zip_download(lambda out: export_pack(ws, who, body.candidate, out), pack_filename)
