"""Reviewer links from the release pages: the links that show a release, each with its
access log, a form to share the release (the URL is shown once, on the answer), and a
revoke button. For the signed-in person, under the rules of `clearance.services.shares`
(an owner or an administrator), exactly as `clearance share` and `/api/v1/shares`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from clearance.errors import ClearanceError
from clearance.web.render import PageRoute, render
from clearance.web.security import check_csrf

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _page(request: Request, system_id: str, version: str, **extra: Any) -> dict[str, Any]:
    from clearance.services.shares import MAX_LIFETIME, release_shares, share_access_log
    from clearance.web.pages import signed_in

    me = signed_in(request).principal
    ws = request.app.state.ws
    links = release_shares(ws, me, system_id, version)
    return {
        "system_id": system_id,
        "version": version,
        "links": [(s, share_access_log(ws, me, s.link.id)) for s in links],
        "max_days": MAX_LIFETIME.days,
        **extra,
    }


@router.get("/systems/{system_id}/releases/{version}/shares")
def release_links(request: Request, system_id: str, version: str) -> Response:
    return render(request, "reviewer/manage.html", _page(request, system_id, version))


@router.post("/systems/{system_id}/releases/{version}/shares")
def share_release(
    request: Request,
    system_id: str,
    version: str,
    expires: Annotated[str, Form(max_length=64)] = "7d",
    note: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Create a link; its URL is on this answer only (never stored, never shown again)."""
    from clearance.core.durations import parse_expiry
    from clearance.errors import UsageError
    from clearance.services.shares import create_share
    from clearance.web.pages import signed_in
    from clearance.web.signin import csrf_refused

    if not check_csrf(request, csrf_token):
        return csrf_refused(request)
    me = signed_in(request).principal
    ws = request.app.state.ws
    try:
        try:
            until = parse_expiry(expires, ws.clock())
        except ValueError as exc:
            raise UsageError(f"Expires: {exc}") from None
        made = create_share(ws, me, [(system_id, version)], until, note)
    except ClearanceError as exc:
        context = _page(request, system_id, version, refusal=exc.message, note=note)
        return render(request, "reviewer/manage.html", context, exc.http_status or 400)
    context = _page(request, system_id, version, created=made)
    return render(request, "reviewer/manage.html", context, 201)


@router.post("/shares/{link_id}/revoke")
def revoke(
    request: Request,
    link_id: int,
    back: Annotated[str, Form(max_length=500)] = "/",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Revoke a link from now on, then back to the page the button was on."""
    from clearance.services.shares import revoke_share
    from clearance.web.pages import signed_in
    from clearance.web.signin import csrf_refused

    if not check_csrf(request, csrf_token):
        return csrf_refused(request)
    me = signed_in(request).principal
    revoke_share(request.app.state.ws, me, str(link_id))
    # only a path on this site: never an open redirect
    target = back if back.startswith("/") and back[1:2] not in ("/", "\\") else "/"
    return RedirectResponse(f"{target}?revoked={link_id}", status_code=303)
