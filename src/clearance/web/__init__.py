"""The web pages: server-rendered (Jinja2, HTMX for partial updates) over the same services
and permissions as the API, for approvers, owners and auditors.

`mount(app)` adds them to the API's application (`create_app` calls it last), so `clearance
serve` serves the pages at `/` beside `/api/v1`. Another page group adds its module to
`ROUTERS` (the reviewer links' router is included by `create_app` itself); every router
comes before the catch-all 404 page that `mount` ends with.
"""

from __future__ import annotations

from importlib import import_module, resources
from typing import Any

from fastapi import Request
from starlette.convertors import Convertor, register_url_convertor

__all__ = ["mount"]

#: page groups included in this order; a missing optional one is skipped
ROUTERS = (
    "clearance.web.signin",
    "clearance.web.pages",
    "clearance.web.plans",
    "clearance.web.shares",  # reviewer links, as their owners manage them
)


def mount(app: Any) -> None:
    """Serve the pages of the workspace `app.state.ws` on `app`."""
    from fastapi.staticfiles import StaticFiles

    from clearance.web.render import STATIC_PREFIX, environment, render
    from clearance.web.security import Headers, Keys

    ws = app.state.ws
    app.state.web_keys = Keys(ws.signing_key.private.private_bytes_raw())
    app.state.web_templates = environment()
    app.add_middleware(Headers)
    static = str(resources.files("clearance.web") / "static")
    app.mount(STATIC_PREFIX, StaticFiles(directory=static), name="static")
    for name in ROUTERS:
        app.include_router(import_module(name).router)

    register_url_convertor("page", PagePath())

    # The catch-all never matches under /api/: there the API's own 404 and 405 (with the
    # right Allow header) must answer, not a page that claims every path takes GET.
    @app.get("/{path:page}", include_in_schema=False)
    def not_found(request: Request, path: str) -> Any:
        """Any other address outside the API: the plain 404 page."""
        return render(request, "errors/404.html", {}, 404)


class PagePath(Convertor[str]):
    """A path that is not the API's."""

    regex = "(?!api(?:/|$)).*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value
