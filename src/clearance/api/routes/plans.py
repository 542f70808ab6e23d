"""Systems, plans and revisions, candidates and their evaluation, evidence and blobs,
checks, releases and inventories."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from clearance.api import models, render
from clearance.api.deps import WS, Caller, IdempotencyKey, Writer, once
from clearance.api.pages import DEFAULT_LIMIT, MAX_LIMIT, page
from clearance.blobs import StoredBlob
from clearance.errors import EvidenceError
from clearance.services import queries

router = APIRouter()
Cursor = Query(default=None, max_length=2000)
Limit = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
DIGEST = r"^sha256:[0-9a-f]{64}$"
CHUNK = 1 << 20


def _loaded(ws: Any, body: models.PlanInput) -> Any:
    from clearance.services.plans import read_plan

    return read_plan(ws, body.text, body.filename)


def _stored(files: list[models.StoredFile]) -> dict[tuple[str, str], StoredBlob]:
    return {(f.criterion, f.name): StoredBlob(f.digest, f.size) for f in files}


# -- context, systems, revisions ------------------------------------------------------------


@router.get("/context", tags=["plans"])
def context(ws: WS, who: Caller) -> dict[str, Any]:
    """What a client needs to validate a plan as the server will: the declared targets, the
    current policy, and the workspace's public key."""
    return queries.context(ws, who)


@router.get("/systems", tags=["plans"])
def systems(ws: WS, who: Caller, cursor: str | None = Cursor, limit: int = Limit) -> Any:
    return page(queries.systems(ws, who), lambda s: s.id, cursor, limit)


@router.get("/systems/{system_id}", tags=["plans"])
def system(ws: WS, who: Caller, system_id: str) -> Any:
    return render.plain(queries.system(ws, who, system_id))


@router.get("/systems/{system_id}/revisions", tags=["plans"])
def revisions(
    ws: WS, who: Caller, system_id: str, cursor: str | None = Cursor, limit: int = Limit
) -> Any:
    found = queries.revisions(ws, who, system_id)
    order = {r.digest: i for i, r in enumerate(found)}
    return page(found, lambda r: order[r.digest], cursor, limit)


@router.get("/revisions/{digest}", tags=["plans"])
def revision(ws: WS, who: Caller, digest: str) -> Any:
    return render.plain(queries.revision(ws, who, digest))


@router.get("/revisions/{old}/diff/{new}", tags=["plans"])
def diff(ws: WS, who: Caller, old: str, new: str) -> Any:
    return {
        "old": old,
        "new": new,
        "changes": [c.as_json() for c in queries.diff(ws, who, old, new)],
    }


@router.post("/plans", tags=["plans"], status_code=201)
def submit(ws: WS, who: Writer, body: models.Submit, key: IdempotencyKey = None) -> Any:
    """Record a plan revision (and its candidate) with a message; nothing new if unchanged."""
    from clearance.services.plans import submit_plan

    def run() -> tuple[int, Any]:
        sub = submit_plan(ws, who, _loaded(ws, body), body.digests, body.message, body.parent)
        return (201 if sub.new_revision else 200), {
            "revision": sub.revision.digest,
            "candidate": sub.candidate.digest,
            "new_revision": sub.new_revision,
            "new_candidate": sub.new_candidate,
        }

    return once(ws, who, key, body.model_dump(), run)


# -- candidates ----------------------------------------------------------------------------


@router.get("/candidates/{digest}", tags=["candidates"])
def candidate(ws: WS, who: Caller, digest: str) -> Any:
    return render.plain(queries.candidate(ws, who, digest))


@router.get("/candidates/{digest}/evaluation", tags=["candidates"])
def evaluation(ws: WS, who: Caller, digest: str) -> Any:
    """The candidate evaluated now, from what is recorded (the same results as `check`)."""
    return queries.evaluation(ws, who, digest).as_json()


@router.get("/candidates/{digest}/evidence-set", tags=["candidates"])
def evidence_set(ws: WS, who: Caller, digest: str) -> Any:
    return {"candidate": digest, "evidence_set": queries.evidence_set(ws, who, digest)}


@router.get("/candidates/{digest}/evidence", tags=["evidence"])
def candidate_evidence(
    ws: WS, who: Caller, digest: str, cursor: str | None = Cursor, limit: int = Limit
) -> Any:
    return page(queries.evidence(ws, who, digest), lambda e: e.id, cursor, limit, render.evidence)


@router.get("/candidates/{digest}/findings", tags=["candidates"])
def findings(
    ws: WS,
    who: Caller,
    digest: str,
    criterion: str = Query(max_length=200),
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """The findings of a findings criterion, in report order."""
    found = list(enumerate(queries.findings(ws, who, digest, criterion)))
    return page(found, lambda f: f[0], cursor, limit, lambda f: f[1])


@router.get("/candidates/{digest}/approvals", tags=["statements"])
def approvals(
    ws: WS, who: Caller, digest: str, cursor: str | None = Cursor, limit: int = Limit
) -> Any:
    return page(queries.approvals(ws, who, digest), lambda a: a["id"], cursor, limit, dict)


@router.get("/candidates/{digest}/waivers", tags=["statements"])
def waivers(
    ws: WS, who: Caller, digest: str, cursor: str | None = Cursor, limit: int = Limit
) -> Any:
    return page(queries.waivers(ws, who, digest), lambda w: w.id, cursor, limit)


@router.get("/candidates/{digest}/decisions", tags=["candidates"])
def decisions(
    ws: WS, who: Caller, digest: str, cursor: str | None = Cursor, limit: int = Limit
) -> Any:
    return page(queries.decisions(ws, who, digest), lambda d: d.id, cursor, limit)


@router.post("/checks", tags=["candidates"])
def check(ws: WS, who: Writer, body: models.Check, key: IdempotencyKey = None) -> Any:
    """Run the release gate: submit the revision if new, attach the uploaded files the plan
    names, evaluate and record the decision."""
    from clearance.services.gate import check as run_check

    def run() -> tuple[int, Any]:
        checked = run_check(ws, who, _loaded(ws, body), body.digests, _stored(body.files))
        return 200, {
            "decision": checked.evaluation.decision,
            "decision_id": checked.decision_id,
            "candidate": checked.submitted.candidate.digest,
            "ingested": checked.ingested,
            "evaluation": checked.evaluation.as_json(),
        }

    return once(ws, who, key, body.model_dump(), run)


# -- evidence and blobs --------------------------------------------------------------------


@router.post("/blobs", tags=["evidence"], status_code=201)
async def upload(request: Request, ws: WS, who: Writer) -> Any:
    """Stream a file into the blob store (the raw request body); answers its digest. Files
    are attached to criteria by `POST /evidence` or `POST /checks`."""
    from clearance.services.evidence import store_upload

    limit = ws.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise EvidenceError(
            f"the file is {int(declared):,} bytes; this server takes at most {limit:,}"
        )
    fd, name = tempfile.mkstemp(prefix="clearance-upload-")
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise EvidenceError(
                        f"the file is larger than this server takes ({limit:,} bytes)"
                    )
                out.write(chunk)
        blob = await run_in_threadpool(store_upload, ws, who, Path(name))
    finally:
        os.unlink(name)
    return {"digest": blob.digest, "size": blob.size}


@router.head("/blobs/{digest}", tags=["evidence"])
def blob_exists(ws: WS, who: Caller, digest: str) -> Response:
    """200 when the blob is stored (a client skips uploading it again), 404 otherwise."""
    from clearance.services.evidence import blob_stored

    return Response(status_code=200 if blob_stored(ws, who, digest) else 404)


@router.post("/evidence", tags=["evidence"], status_code=201)
def add_evidence(ws: WS, who: Writer, body: models.Evidence, key: IdempotencyKey = None) -> Any:
    """Attach an uploaded blob to a criterion of the plan's current candidate; with a signed
    attestation, the caller vouches for it in a role."""
    from clearance.services.evidence import add_evidence as attach

    def run() -> tuple[int, Any]:
        attestation = body.attestation.model_dump() if body.attestation else None
        done = attach(
            ws,
            None if attestation else who,
            _loaded(ws, body),
            body.digests,
            body.criterion,
            body.name,
            StoredBlob(body.digest, body.size),
            source=body.source,
            attestation=attestation,
            caller=who,
        )
        return (201 if done.new else 200), render.plain(done)

    return once(ws, who, key, body.model_dump(), run)


@router.get("/evidence/{evidence_id}", tags=["evidence"])
def evidence_item(ws: WS, who: Caller, evidence_id: int) -> Any:
    return render.evidence(queries.evidence_item(ws, who, evidence_id))


@router.get(
    "/evidence/{evidence_id}/content",
    tags=["evidence"],
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file"}},
)
def evidence_content(ws: WS, who: Caller, evidence_id: int) -> StreamingResponse:
    item = queries.evidence_item(ws, who, evidence_id)
    stream = queries.evidence_content(ws, who, evidence_id)

    def chunks() -> Any:
        with stream:
            while chunk := stream.read(CHUNK):
                yield chunk

    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in item.name)[:200] or "evidence"
    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{safe}"',
            "Digest": f"sha-256={item.digest}",
            "X-Content-Type-Options": "nosniff",
        },
    )


# -- releases and inventories --------------------------------------------------------------


@router.post("/releases", tags=["releases"], status_code=201)
def release(ws: WS, who: Writer, body: models.Check, key: IdempotencyKey = None) -> Any:
    """Re-run the gate and record the deployment of a GO candidate (409 with the evaluation
    for a NO-GO one)."""
    from clearance.services.releases import release as record

    def run() -> tuple[int, Any]:
        done = record(ws, who, _loaded(ws, body), body.digests, _stored(body.files))
        candidate = done.checked.submitted.candidate
        return (200 if done.already else 201), {
            "release_id": done.release_id,
            "already": done.already,
            "candidate": candidate.digest,
            "components": [c.as_json() for c in candidate.components if c.deploy],
            "evaluation": done.checked.evaluation.as_json(),
        }

    return once(ws, who, key, body.model_dump(), run)


@router.get("/releases", tags=["releases"])
def releases(ws: WS, who: Caller, cursor: str | None = Cursor, limit: int = Limit) -> Any:
    return page(queries.releases(ws, who), lambda r: r.id, cursor, limit)


@router.get("/status", tags=["releases"])
def status(ws: WS, who: Caller) -> Any:
    """Which version of each component runs in each environment, and what waits."""
    state = queries.status(ws, who)
    return render.JSON({"inventory": state.inventory, "pending": state.pending})
