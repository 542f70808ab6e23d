"""`create_app(settings)`: the FastAPI application of one workspace or team deployment."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from clearance.errors import StoreError
from clearance.settings import Settings

PREFIX = "/api/v1"


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    workspace: Any = None,
    deliver_webhooks: bool = False,
) -> FastAPI:
    """The API over the workspace `settings` name (a team deployment with
    CLEARANCE_DATABASE_URL and CLEARANCE_BLOB_URL). Stateless: any number of processes may
    serve one database and blob store. With `deliver_webhooks`, the process also runs one
    webhook delivery worker (`clearance serve` does)."""
    from importlib.metadata import version

    from clearance.api import errors
    from clearance.api.errors import ErrorResponse
    from clearance.api.routes import hooks, log, plans, shares, statements
    from clearance.services.workspace import Workspace

    ws = workspace or (Workspace(settings, clock) if clock else Workspace(settings))
    ws.engine  # noqa: B018 - refuse to start on a database that is missing or behind
    _current_key(ws)  # and without the key that signs its checkpoints
    if deliver_webhooks:  # and with malformed webhook subscriptions (CLEARANCE_WEBHOOKS)
        from clearance.services.webhooks import configured

        configured(ws.settings.webhooks)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from clearance.services.delivery import delivery_worker

        with delivery_worker(ws, enabled=deliver_webhooks):
            yield
        if workspace is None:  # a workspace handed in belongs to the caller
            ws.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Clearance",
        version=version("clearance"),
        description="Deployment plans, a release gate, sign-offs and audit packs (ISO/IEC "
        '42001 A.6.2.5). Every 4xx and 5xx answer is `{"error": {"code", "message", '
        '"details"}}`.',
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
        responses={
            status: {"model": ErrorResponse, "description": text}
            for status, text in (
                (400, "Bad input"),
                (401, "No valid API token"),
                (403, "Not permitted"),
                (404, "Not found (or not visible to the caller)"),
                (409, "Conflicts with what is recorded"),
                (422, "Invalid request or plan"),
                (500, "A bug"),
            )
        },
    )
    app.state.ws = ws
    errors.install(app)
    redact_tokens()
    for module in (plans, statements, log, hooks, shares):
        app.include_router(module.router, prefix=PREFIX)
    from clearance.web.reviewer import router as reviewer_links

    app.include_router(reviewer_links)  # /r/{token}/…: reviewer links, no sign-in

    @app.get(f"{PREFIX}/health", tags=["server"])
    def health() -> dict[str, str]:
        """Liveness: the process answers (no token needed, nothing about the data)."""
        return {"status": "ok"}

    @app.get(f"{PREFIX}/ready", tags=["server"])
    def ready() -> dict[str, str]:
        """Readiness: the database answers at this schema and the blob store answers (no
        token needed, nothing about the data); 503 in the error shape otherwise."""
        from clearance.store.db import HEAD, schema_revision

        if schema_revision(ws.engine) != HEAD:
            raise StoreError(f"the database is not at schema {HEAD}; run `clearance db upgrade`")
        ws.blobs.exists("sha256:" + "0" * 64)
        return {"status": "ready", "schema": HEAD}

    from clearance.web import mount

    mount(app)  # the pages at /, last: it ends with the catch-all 404 page
    return app


def _current_key(ws: Any) -> None:
    """The process's workspace key must be the workspace's current one: a process signing
    with another key would write checkpoints that never verify."""
    from clearance.errors import IntegrityError
    from clearance.store import repository as repo

    key = ws.signing_key
    with ws.engine.connect() as conn:
        current = repo.current_workspace_key(conn)
    if current is not None and current != key.key_id:
        raise IntegrityError(
            f"the workspace key given ({key.key_id[:19]}…) is not this workspace's current key "
            f"({current[:19]}…); point CLEARANCE_WORKSPACE_KEY at the right key"
        )


class _Redact(logging.Filter):
    """Blanks anything shaped like an API token or a reviewer link's token in a log record
    (a token pasted into a URL, or a reviewer link's path, would otherwise reach the access
    log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _TOKEN.search(message):
            record.msg = _TOKEN.sub(r"\1_[redacted]", message)
            record.args = ()
        return True


#: API tokens (clearance.services.tokens.PREFIX) and reviewer links' (…shares.PREFIX)
#: (also percent-encoded: `crv%5F…` in a query string)
_TOKEN = re.compile(r"(clr|crv)(?:_|%5[Ff])[A-Za-z0-9_%\-]+")


def redact_tokens() -> None:
    for name in ("uvicorn.access", "uvicorn.error", "clearance.api"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Redact) for f in logger.filters):
            logger.addFilter(_Redact())


def from_env() -> FastAPI:
    """The app for `uvicorn --factory` (one per worker process), from CLEARANCE_* settings."""
    return create_app(Settings.from_env(), deliver_webhooks=True)
