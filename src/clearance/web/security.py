"""What keeps the pages safe to use in a browser: signed session cookies, CSRF tokens bound
to the session, and the headers every page is served with (a strict Content-Security-Policy
with no inline script, no framing, no referrer to other sites).

The cookie holds a random session id, signed with a key derived from the workspace key (so
every server process of a deployment accepts it); the database holds only the id's digest,
and sign-out ends the session there, at once, whatever copies of the cookie exist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Any

from starlette.middleware.base import BaseHTTPMiddleware

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from clearance.services.signin import WebSession

SESSION_COOKIE = "clearance_session"
#: the browser's token before sign-in, which the sign-in forms' CSRF tokens are bound to
PRE_COOKIE = "clearance_pre"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class Keys:
    """The secrets of one deployment's pages, derived from its workspace key."""

    def __init__(self, workspace_private: bytes) -> None:
        self.root = hashlib.sha256(b"clearance-web-v1\0" + workspace_private).digest()

    def _mac(self, purpose: str, value: str) -> str:
        return hmac.new(self.root, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()[:43]

    def seal(self, session_id: str) -> str:
        """The cookie value of a session id: the id and its MAC."""
        return f"{session_id}.{self._mac('session', session_id)}"

    def unseal(self, cookie: str | None) -> str | None:
        """The session id in a cookie, or None when it is missing, malformed or altered."""
        if not cookie or "." not in cookie:
            return None
        session_id, _, mac = cookie.rpartition(".")
        if not session_id or not hmac.compare_digest(mac, self._mac("session", session_id)):
            return None
        return session_id

    def csrf(self, bound_to: str) -> str:
        """The CSRF token of a session (or of a browser's pre-sign-in token)."""
        return self._mac("csrf", bound_to)

    def csrf_ok(self, bound_to: str | None, token: str | None) -> bool:
        if not bound_to or not token:
            return False
        return hmac.compare_digest(self.csrf(bound_to), token)

    def state(self, payload: str) -> str:
        return f"{payload}.{self._mac('oidc', payload)}"

    def open_state(self, sealed: str | None) -> str | None:
        if not sealed or "." not in sealed:
            return None
        payload, _, mac = sealed.rpartition(".")
        return payload if hmac.compare_digest(mac, self._mac("oidc", payload)) else None


def keys_of(request: Request) -> Keys:
    keys: Keys = request.app.state.web_keys
    return keys


def secure(request: Request) -> bool:
    """Cookies are Secure except on plain http to a loopback address (tests, the demo)."""
    return not (request.url.scheme == "http" and (request.url.hostname or "") in LOOPBACK)


def set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path="/",
    )


def pre_token(request: Request, response: Response | None = None) -> str:
    """The browser's pre-sign-in token (set on `response` when it has none yet)."""
    token = request.cookies.get(PRE_COOKIE) or ""
    if len(token) < 20 or not token.replace("-", "").replace("_", "").isalnum():
        token = secrets.token_urlsafe(24)
        request.state.new_pre = token
    return token


def session_of(request: Request) -> WebSession | None:
    """The signed-in session of the request, or None (read once per request)."""
    if hasattr(request.state, "web_session"):
        found: WebSession | None = request.state.web_session
        return found
    from clearance.errors import AuthenticationError
    from clearance.services.signin import current_session

    session_id = keys_of(request).unseal(request.cookies.get(SESSION_COOKIE))
    session = None
    if session_id is not None:
        try:
            session = current_session(request.app.state.ws, session_id)
        except AuthenticationError:
            session = None
    request.state.web_session = session
    request.state.session_id = session_id if session is not None else None
    return session


def session_id_of(request: Request) -> str | None:
    session_of(request)
    found: str | None = request.state.session_id
    return found


def csrf_token(request: Request) -> str:
    """The token every form of this page carries."""
    session_id = session_id_of(request)
    return keys_of(request).csrf(session_id if session_id else "pre:" + pre_token(request))


def check_csrf(request: Request, token: str | None) -> bool:
    session_id = session_id_of(request)
    keys = keys_of(request)
    if session_id:
        return keys.csrf_ok(session_id, token)
    pre = request.cookies.get(PRE_COOKIE)
    return bool(pre) and keys.csrf_ok("pre:" + str(pre), token)


class Headers(BaseHTTPMiddleware):
    """The security headers on every page (the API's JSON and its docs are left alone)."""

    async def dispatch(self, request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        if not request.url.path.startswith("/api/"):
            for name, value in HEADERS.items():
                response.headers.setdefault(name, value)
            if "text/html" in response.headers.get("content-type", ""):
                response.headers.setdefault("Cache-Control", "no-store")
            new_pre = getattr(request.state, "new_pre", None)
            if new_pre and PRE_COOKIE not in request.cookies:
                set_cookie(request, response, PRE_COOKIE, new_pre, 60 * 60 * 24)
        return response
