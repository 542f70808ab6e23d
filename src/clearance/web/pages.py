"""The signed-in pages: the dashboard, a release (its candidate: plan summary, environment
differences, checklist, evidence, sign-offs, history, timeline), sign-off from that page,
evidence downloads and previews, the audit log with "verify now", and the audit pack.

Every page reads through `services.queries` with the signed-in person's principal, so it
sees exactly what their API token would; nothing here decides a rule.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Request
from fastapi.responses import RedirectResponse, Response

from clearance.errors import ClearanceError
from clearance.services import queries
from clearance.services.signin import WebSession
from clearance.web.render import PageRoute, render
from clearance.web.security import check_csrf, session_id_of, session_of
from clearance.web.signin import csrf_refused

router = APIRouter(route_class=PageRoute, include_in_schema=False)
RECENT = 12


def signed_in(request: Request) -> WebSession:
    """The signed-in session; AuthenticationError (a redirect to sign in) otherwise."""
    from clearance.errors import AuthenticationError

    session = session_of(request)
    if session is None:
        raise AuthenticationError("sign in first")
    return session


@router.get("/")
def dashboard(request: Request) -> Response:
    from clearance.services.browser import sign_off_options

    me = signed_in(request).principal
    ws = request.app.state.ws
    systems = queries.systems(ws, me)
    status = queries.status(ws, me)
    waiting, latest = [], []
    for system in systems:
        found = queries.candidates(ws, me, system.id)
        newest: dict[str, Any] = {}
        for cand in found:
            newest[cand.version] = cand
        for cand in newest.values():
            evaluation = queries.evaluation(ws, me, cand.digest)
            latest.append((cand, evaluation))
            if evaluation.decision == "GO":
                continue
            mine = [
                o.role
                for o in sign_off_options(ws, me, cand.digest)
                if o.held and o.given != "approve"
            ]
            if mine:
                waiting.append((cand, evaluation, mine))
    decisions = [
        e
        for e in _recent_events(ws, me, 400)
        if e.type.startswith(("approval.", "decision.", "release.", "gate."))
    ][:RECENT]
    context = {
        "systems": systems,
        "mine": [s for s in systems if s.owner == me.name],
        "waiting": waiting,
        "latest": latest,
        "decisions": decisions,
        "inventory": _by_target(status.inventory),
    }
    return render(request, "pages/dashboard.html", context)


def _recent_events(ws: Any, me: Any, window: int, subject: str | None = None) -> list[Any]:
    size = queries.checkpoint(ws, me).size
    found = queries.events(ws, me, after=max(0, size - window), limit=window, subject=subject)
    return list(reversed(found))


def _by_target(inventory: list[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for item in inventory:
        grouped.setdefault(item.target, []).append(item)
    return grouped


@router.get("/systems/{system_id}/releases/{version}")
def release_by_version(request: Request, system_id: str, version: str) -> Response:
    """The release page of the newest candidate of SYSTEM at VERSION."""
    from clearance.errors import NotFoundError

    me = signed_in(request).principal
    found = [
        c for c in queries.candidates(request.app.state.ws, me, system_id) if c.version == version
    ]
    if not found:
        raise NotFoundError(f"no release {version} of {system_id}")
    return RedirectResponse(f"/candidates/{found[-1].digest}", status_code=303)


def release_context(request: Request, digest: str) -> dict[str, Any]:
    """What the release page shows of a candidate (shared by the page and its sign-off)."""
    from clearance.services.browser import sign_off_options
    from clearance.signing.statements import envelope_digest

    me = signed_in(request).principal
    ws = request.app.state.ws
    candidate = queries.candidate(ws, me, digest)
    revision = queries.revision(ws, me, candidate.revision)
    evaluation = queries.evaluation(ws, me, digest)
    approvals = queries.approvals(ws, me, digest)
    for a in approvals:
        how = _statement(a.get("envelope")).get("authenticated")
        a["browser"] = how if isinstance(how, dict) else None
        a["statement"] = envelope_digest(a["envelope"]) if a.get("envelope") else None
    siblings = queries.candidates(ws, me, candidate.system_id)
    document = revision.document
    criteria = {c.get("id"): c for c in document.get("criteria", []) if isinstance(c, dict)}
    return {
        "candidate": candidate,
        "revision": revision,
        "plan": document,
        "criteria": criteria,
        "evaluation": evaluation,
        "environment": [r for r in evaluation.results if r.kind == "environment"],
        "evidence": queries.evidence(ws, me, digest),
        "approvals": approvals,
        "waivers": queries.waivers(ws, me, digest),
        "decisions": queries.decisions(ws, me, digest),
        "events": _recent_events(ws, me, 2000, subject=digest),
        "options": sign_off_options(ws, me, digest),
        "others": [c for c in siblings if c.digest != digest],
        "key_id": ws.signing_key.key_id,
    }


def _statement(envelope: Any) -> dict[str, Any]:
    import json

    from clearance.signing import unb64

    try:
        predicate = json.loads(unb64(envelope["payload"]))["predicate"]
    except (KeyError, TypeError, ValueError):
        return {}
    return predicate if isinstance(predicate, dict) else {}


@router.get("/candidates/{digest}")
def release_page(request: Request, digest: str) -> Response:
    return render(request, "pages/release.html", release_context(request, digest))


@router.post("/candidates/{digest}/sign-off")
def sign_off(
    request: Request,
    digest: str,
    role: Annotated[str, Form(max_length=64)] = "",
    decision: Annotated[str, Form(max_length=16)] = "",
    comment: Annotated[str, Form(max_length=4000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Approve or reject as the signed-in person, under the same rules as the CLI and API:
    a refusal is shown on the release page with its reason."""
    from clearance.services.browser import sign_off as record

    if not check_csrf(request, csrf_token):
        return csrf_refused(request)
    signed_in(request)
    try:
        record(
            request.app.state.ws,
            str(session_id_of(request)),
            digest,
            role=role,
            decision=decision,
            comment=comment,
        )
    except ClearanceError as exc:
        context = release_context(request, digest)
        context.update(refusal=exc.message, refused_role=role, comment=comment)
        return render(request, "pages/release.html", context, exc.http_status or 400)
    return RedirectResponse(f"/candidates/{digest}?signed={decision}#sign-off", status_code=303)


# -- evidence -------------------------------------------------------------------------------

PREVIEW_BYTES = 256 * 1024
IMAGES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


def _kind(head: bytes, name: str) -> tuple[str, str | None]:
    """('image', media type) | ('json', None) | ('text', None) | ('binary', None), by the
    bytes themselves (never trusting the name for images: no SVG, no HTML, ever inline)."""
    import json

    for magic, media in IMAGES.items():
        if head.startswith(magic):
            return "image", media
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image", "image/webp"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "binary", None
    if name.lower().endswith(".json"):
        try:
            json.loads(text)
            return "json", None
        except ValueError:
            pass
    return "text", None


@router.get("/evidence/{evidence_id}")
def evidence_page(request: Request, evidence_id: int) -> Response:
    import json

    me = signed_in(request).principal
    ws = request.app.state.ws
    item = queries.evidence_item(ws, me, evidence_id)
    with queries.evidence_content(ws, me, evidence_id) as fh:
        head = fh.read(PREVIEW_BYTES + 1)
    kind, _ = _kind(head, item.name)
    preview = None
    if kind in ("text", "json"):
        text = head[:PREVIEW_BYTES].decode("utf-8", errors="replace")
        if kind == "json" and len(head) <= PREVIEW_BYTES:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        preview = text
    context = {
        "item": item,
        "kind": kind,
        "preview": preview,
        "truncated": len(head) > PREVIEW_BYTES,
    }
    return render(request, "pages/evidence.html", context)


@router.get("/evidence/{evidence_id}/download")
def evidence_download(request: Request, evidence_id: int) -> Response:
    return _evidence_bytes(request, evidence_id, inline=False)


@router.get("/evidence/{evidence_id}/image")
def evidence_image(request: Request, evidence_id: int) -> Response:
    return _evidence_bytes(request, evidence_id, inline=True)


def _evidence_bytes(request: Request, evidence_id: int, *, inline: bool) -> Response:
    from fastapi.responses import StreamingResponse

    from clearance.errors import NotFoundError

    me = signed_in(request).principal
    ws = request.app.state.ws
    item = queries.evidence_item(ws, me, evidence_id)
    fh = queries.evidence_content(ws, me, evidence_id)
    head = fh.read(16)
    kind, media = _kind(head, item.name)
    if inline and kind != "image":
        fh.close()
        raise NotFoundError(f"evidence {evidence_id} is not an image")

    def chunks() -> Any:
        try:
            yield head
            while block := fh.read(1 << 20):
                yield block
        finally:
            fh.close()

    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in item.name)[:120]
    disposition = "inline" if inline else f'attachment; filename="{safe or "evidence"}"'
    return StreamingResponse(
        chunks(),
        media_type=media if inline and media else "application/octet-stream",
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
    )


# -- audit log and pack -----------------------------------------------------------------------


@router.get("/log")
def log_page(request: Request) -> Response:
    me = signed_in(request).principal
    ws = request.app.state.ws
    context = {
        "checkpoint": queries.checkpoint(ws, me),
        "events": _recent_events(ws, me, 50),
        "key_id": ws.signing_key.key_id,
    }
    return render(request, "pages/log.html", context)


@router.post("/log/verify")
def verify_now(
    request: Request,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    header_token: Annotated[str | None, Header(alias="X-CSRF-Token")] = None,
) -> Response:
    """The server recomputes the whole log and every checkpoint (HTMX swaps the result in)."""
    if not check_csrf(request, csrf_token or header_token):
        return csrf_refused(request)
    me = signed_in(request).principal
    report = queries.verified_log(request.app.state.ws, me)
    return render(request, "pages/_verified.html", {"report": report})


@router.post("/candidates/{digest}/pack")
def pack(
    request: Request, digest: str, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """The audit pack of the candidate (its export is logged); verify it offline against the
    workspace key fingerprint the page shows."""

    from clearance.api.render import pack_filename, zip_download
    from clearance.services.packs import export

    if not check_csrf(request, csrf_token):
        return csrf_refused(request)
    me = signed_in(request).principal
    ws = request.app.state.ws
    return zip_download(lambda out: export(ws, me, digest, out), pack_filename)


@router.get("/candidates/{digest}/criteria/{criterion_id}")
def criterion_page(request: Request, digest: str, criterion_id: str) -> Response:
    """One criterion of a candidate, with what moves it on, in words and buttons."""
    from clearance.errors import NotFoundError

    me = signed_in(request).principal
    ws = request.app.state.ws
    candidate = queries.candidate(ws, me, digest)
    evaluation = queries.evaluation(ws, me, digest)
    result = next((r for r in evaluation.results if r.id == criterion_id), None)
    if result is None:
        raise NotFoundError(f"no criterion {criterion_id!r} in this release")
    document = queries.revision(ws, me, candidate.revision).document
    criterion = next(
        (
            c
            for c in document.get("criteria", [])
            if isinstance(c, dict) and c.get("id") == criterion_id
        ),
        {},
    )
    context = {"candidate": candidate, "result": result, "criterion": criterion}
    return render(request, "pages/criterion.html", context)
