"""Rendering pages: one Jinja2 environment (autoescaped) with what every page needs, and
the page route that turns Clearance's errors into an HTML page with the same status the API
would answer (a 404 page for anything not visible, a 403 page saying why)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from importlib import resources
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

from clearance.errors import AuthenticationError, ClearanceError, NotFoundError

STATIC_PREFIX = "/static"


def environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    folder = str(resources.files("clearance.web") / "templates")
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static_url"] = lambda name: f"{STATIC_PREFIX}/{name}"
    env.filters["when"] = when
    env.filters["short"] = short
    env.filters["plain"] = plain
    return env


def plain(value: Any) -> str:
    """A structured value (an observed value, an expectation, a plan field) as people read
    it: `key: value; key: value`, lists comma-separated, nothing omitted."""
    if value is None:
        return "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_inner(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_inner(v) for v in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _inner(value: Any) -> str:
    text = plain(value)
    return f"({text})" if isinstance(value, dict) and len(value) > 1 else text


def when(value: Any) -> str:
    """A time as people read it: `2026-12-01 09:14 UTC`."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    text = str(value or "")
    return f"{text[:10]} {text[11:16]} UTC" if len(text) >= 16 else text


def short(value: Any, length: int = 19) -> str:
    text = str(value or "")
    return text if len(text) <= length else text[:length] + "…"


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """The page `template` with `context`, plus the signed-in person and a CSRF token."""
    from clearance.web.security import csrf_token, session_of

    session = session_of(request)
    page = {
        "request": request,
        "user": session.principal if session is not None else None,
        "session": session,
        "csrf_token": csrf_token(request),
        **(context or {}),
    }
    html = request.app.state.web_templates.get_template(template).render(page)
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, exc: ClearanceError) -> Response:
    status = exc.http_status if exc.http_status >= 400 else 400
    if isinstance(exc, NotFoundError):
        return render(request, "errors/404.html", {}, 404)
    if isinstance(exc, AuthenticationError):
        from fastapi.responses import RedirectResponse

        return RedirectResponse(f"/sign-in?next={request.url.path}", status_code=303)
    return render(request, "errors/error.html", {"status": status, "message": exc.message}, status)


class PageRoute(APIRoute):
    """A route of the pages: Clearance's errors become pages, not the API's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except ClearanceError as exc:
                return error_page(request, exc)

        return page
