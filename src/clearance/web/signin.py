"""Signing in and out: a password form, OpenID Connect, and sign-out that ends the session
on the server. Every sign-in makes a new session id (a session planted before sign-in is
never adopted), and every form carries a CSRF token (a POST without the right one gets the
403 page)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from clearance.errors import AuthenticationError, ClearanceError, ForbiddenError
from clearance.web.render import PageRoute, render
from clearance.web.security import (
    PRE_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    keys_of,
    session_id_of,
    set_cookie,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)
CALLBACK = "/sign-in/oidc/callback"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def csrf_refused(request: Request) -> Response:
    return render(
        request,
        "errors/error.html",
        {
            "status": 403,
            "message": "This form is out of date or did not come from this site (its CSRF "
            "token is missing or wrong). Go back, reload the page and try again.",
        },
        403,
    )


def _sign_in_page(request: Request, problem: str | None = None, status: int = 200) -> Response:
    from clearance.web.oidc import provider_of

    provider = provider_of(request.app)
    context = {
        "problem": problem,
        "next": safe_next(request.query_params.get("next")),
        "oidc": request.app.state.ws.settings.oidc if provider is not None else None,
    }
    return render(request, "signin/sign_in.html", context, status)


@router.get("/sign-in")
def sign_in_page(request: Request) -> Response:
    return _sign_in_page(request)


def _signed_in(request: Request, session_id: str, target: str) -> Response:
    from clearance.services.signin import SESSION_TTL, end_session

    old = session_id_of(request)
    if old:  # signing in again replaces the session the browser had
        end_session(request.app.state.ws, old, "replaced by a new sign-in")
    response = RedirectResponse(safe_next(target), status_code=303)
    sealed = keys_of(request).seal(session_id)
    set_cookie(request, response, SESSION_COOKIE, sealed, int(SESSION_TTL.total_seconds()))
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.post("/sign-in")
def sign_in(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    from clearance.services.signin import check_password, start_session

    if not check_csrf(request, csrf_token):
        return csrf_refused(request)
    ws = request.app.state.ws
    try:
        person = check_password(ws, name, password)
    except AuthenticationError as exc:
        return _sign_in_page(request, exc.message, 401)
    session_id, _ = start_session(ws, person, "password")
    return _signed_in(request, session_id, next)


@router.get("/sign-in/oidc")
def oidc_start(request: Request) -> Response:
    from clearance.web.oidc import FLOW_AGE, FLOW_COOKIE, provider_of

    provider = provider_of(request.app)
    if provider is None:
        return _sign_in_page(request, "Single sign-on is not set up on this server.", 404)
    redirect = request.app.state.ws.settings.public_url.rstrip("/") + CALLBACK
    try:
        url, flow = provider.start(redirect)
    except ClearanceError as exc:
        return _sign_in_page(request, exc.message, 502)
    response = RedirectResponse(url, status_code=303)
    next_page = safe_next(request.query_params.get("next"))
    set_cookie(
        request, response, FLOW_COOKIE, keys_of(request).state(_pack(flow, next_page)), FLOW_AGE
    )
    return response


def _pack(flow: str, next_page: str) -> str:
    import base64
    import json

    text = json.dumps({"flow": flow, "next": next_page})
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unpack(sealed: str | None) -> dict[str, Any] | None:
    import base64
    import json

    if not sealed:
        return None
    try:
        found = json.loads(base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4)))
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


@router.get(CALLBACK)
def oidc_callback(request: Request) -> Response:
    from clearance.services.signin import oidc_person, start_session
    from clearance.web.oidc import FLOW_COOKIE, provider_of

    provider = provider_of(request.app)
    if provider is None:
        return _sign_in_page(request, "Single sign-on is not set up on this server.", 404)
    kept = _unpack(keys_of(request).open_state(request.cookies.get(FLOW_COOKIE)))
    if kept is None:
        return _sign_in_page(request, "The sign-in expired or was altered; start again.", 400)
    ws = request.app.state.ws
    redirect = ws.settings.public_url.rstrip("/") + CALLBACK
    try:
        claims = provider.finish(str(kept["flow"]), dict(request.query_params), redirect)
        person = oidc_person(
            ws, str(provider.settings.issuer), claims, ws.settings.oidc.match_email
        )
    except ForbiddenError as exc:
        return _sign_in_page(request, exc.message, exc.http_status)
    session_id, _ = start_session(ws, person, "oidc")
    response = _signed_in(request, session_id, str(kept.get("next") or "/"))
    response.delete_cookie(FLOW_COOKIE, path="/")
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    from clearance.services.signin import end_session

    if not check_csrf(request, csrf_token):
        return csrf_refused(request)
    session_id = session_id_of(request)
    if session_id:
        end_session(request.app.state.ws, session_id)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
