"""The reviewer view, `/r/{token}/…`: the pages and downloads a reviewer link opens, with no
account and no session. Every answer is read-only; every rule (what a link shows, who is
refused, what is logged) is in `clearance.services.reviewer`.

Whatever the reason a link does not open a page (a token unknown, expired or revoked, a
release or file it does not show, a path that does not exist), the answer is the same 404
page with the same headers. The token is in the path, never in a query string, and pages
send no Referer, so it does not leak to other sites; the access log redacts it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from clearance.services.reviewer import LinkRefused

if TYPE_CHECKING:
    from jinja2 import Environment

    from clearance.services.workspace import Workspace

router = APIRouter(prefix="/r", include_in_schema=False)

TEMPLATES = Path(__file__).parent / "templates"
#: the largest row id the database holds (a 32-bit integer column on PostgreSQL)
MAX_ID = 2**31 - 1
#: on every reviewer answer, page or refusal alike
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}


@cache
def _environment() -> Environment:
    """The pages' Jinja environment (autoescaping, their static URLs and filters), and the
    short form of observed and expected values the checklist shows."""
    from clearance.exports.values import brief
    from clearance.web.render import environment

    env: Environment = environment()
    env.filters["brief"] = brief
    return env


def _render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    page = (
        _environment().get_template(name).render(user=None, csrf_token=None, flash=None, **context)
    )
    return HTMLResponse(page, status_code=status, headers=HEADERS)


@cache
def _refusal_body() -> str:
    """One body for every refusal, rendered once."""
    name = "errors/404.html" if (TEMPLATES / "errors/404.html").is_file() else "reviewer/404.html"
    return _environment().get_template(name).render(user=None, csrf_token=None, flash=None)


def refused() -> HTMLResponse:
    return HTMLResponse(_refusal_body(), status_code=404, headers=HEADERS)


def _ws(request: Request) -> Workspace:
    ws: Workspace = request.app.state.ws
    return ws


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/{token}", response_class=HTMLResponse)
def index(request: Request, token: str) -> Response:
    from clearance.services.reviewer import open_link

    try:
        link = open_link(_ws(request), token, address=_address(request))
    except LinkRefused:
        return refused()
    return _render("reviewer/index.html", link=link, base=f"/r/{token}")


@router.get("/{token}/{system_id}/{version}", response_class=HTMLResponse)
def release(request: Request, token: str, system_id: str, version: str) -> Response:
    from clearance.services.reviewer import view_release

    try:
        view = view_release(_ws(request), token, system_id, version, address=_address(request))
    except LinkRefused:
        return refused()
    base = f"/r/{token}"
    return _render(
        "reviewer/release.html",
        link=view.link,
        view=view,
        base=base,
        here=f"{base}/{system_id}/{version}",
        fingerprint=_fingerprint(_ws(request)),
    )


@router.get("/{token}/{system_id}/{version}/evidence/{evidence_id}")
def evidence(
    request: Request, token: str, system_id: str, version: str, evidence_id: str
) -> Response:
    from clearance.services.reviewer import download_evidence

    if not evidence_id.isascii() or not evidence_id.isdigit() or int(evidence_id) > MAX_ID:
        return refused()
    try:
        record, stream = download_evidence(
            _ws(request), token, system_id, version, int(evidence_id), address=_address(request)
        )
    except LinkRefused:
        return refused()
    headers = {
        **HEADERS,
        "Content-Disposition": _attachment(record.name.rsplit("/", 1)[-1]),
        "Content-Length": str(record.size),
        "Digest": f"sha-256={_b64(record.digest)}",
    }
    return StreamingResponse(
        _chunks(stream),
        media_type="application/octet-stream",  # never rendered by the browser as a page
        headers=headers,
        background=BackgroundTask(stream.close),
    )


@router.get("/{token}/{system_id}/{version}/audit-pack.zip")
def pack(request: Request, token: str, system_id: str, version: str) -> Response:
    from clearance.api.render import zip_download
    from clearance.services.reviewer import download_pack

    ws, address = _ws(request), _address(request)
    name = f"{system_id}-{version}-audit-pack.zip"
    try:
        return zip_download(
            lambda out: download_pack(ws, token, system_id, version, out, address=address),
            headers={**HEADERS, "Content-Disposition": _attachment(name)},
        )
    except LinkRefused:
        return refused()


@router.api_route("/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def anything_else(rest: str) -> Response:
    """Any other path or method under /r/: the same refusal (a reviewer never writes)."""
    return refused()


def _chunks(stream: Any, size: int = 1 << 16) -> Any:
    while chunk := stream.read(size):
        yield chunk


def _attachment(name: str) -> str:
    from urllib.parse import quote

    plain = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def _b64(digest: str) -> str:
    import base64

    return base64.b64encode(bytes.fromhex(digest.removeprefix("sha256:"))).decode()


def _fingerprint(ws: Workspace) -> str:
    """The workspace key's id, printed beside the audit pack for pinning."""
    return str(ws.signing_key.key_id)
