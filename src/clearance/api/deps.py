"""What every route gets: the workspace, the authenticated caller, and idempotent writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from clearance.errors import AuthenticationError, ConflictError, UsageError
from clearance.services.auth import Principal
from clearance.services.workspace import Workspace

bearer = HTTPBearer(auto_error=False, description="An API token: `clearance tokens create`")


def workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.ws
    return ws


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The token's person or service account; 401 for a missing, unknown, expired or
    revoked token (the token's value is never logged or echoed)."""
    from clearance.services.tokens import token_principal

    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError(
            "this needs an API token: send `Authorization: Bearer TOKEN` (the CLI reads "
            "CLEARANCE_TOKEN); an administrator creates one with `clearance tokens create`"
        )
    ws = workspace(request)
    with ws.engine.connect() as conn:
        return token_principal(conn, credentials.credentials.strip(), ws.clock())


def writer(who: Annotated[Principal, Depends(caller)]) -> Principal:
    """A caller whose token may write; refused before its request is even read (the use
    cases check it again, with the system)."""
    from clearance.core.identity import Scope
    from clearance.services.auth import require_scope

    require_scope(who, Scope.WRITE)
    return who


Caller = Annotated[Principal, Depends(caller)]
Writer = Annotated[Principal, Depends(writer)]
WS = Annotated[Workspace, Depends(workspace)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Retry a write with the same key to get its first answer, not a second record.",
    ),
]


def once(
    ws: Workspace,
    who: Principal,
    key: str | None,
    request: Any,
    run: Callable[[], tuple[int, Any]],
    *,
    keep_body: bool = True,
) -> JSONResponse:
    """Run a write, or answer a retry (same caller, same Idempotency-Key) with the kept
    answer; a key reused for another request is refused. With `keep_body` false (an answer
    holding a secret), a retry is refused instead of replayed."""
    import hashlib

    from clearance.store import tokens as repo

    if key is None:
        status, body = run()
        return JSONResponse(body, status_code=status)
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    fingerprint = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    caller_id = f"{who.name}:{who.token}"
    with ws.engine.connect() as conn:
        kept = repo.kept_response(conn, caller_id, key)
    if kept is not None:
        return _replay(kept, fingerprint, key)
    status, body = run()
    text = json.dumps(body) if keep_body else json.dumps({"replayed": False})
    try:
        with ws.transaction() as uow:
            repo.keep_response(uow.conn, caller_id, key, fingerprint, status, text, uow.clock())
    except ConflictError:  # a concurrent retry kept its answer first: both wrote one record
        with ws.engine.connect() as conn:
            kept = repo.kept_response(conn, caller_id, key)
        if kept is None:
            raise
    return JSONResponse(body, status_code=status)


def _replay(kept: Any, fingerprint: str, key: str) -> JSONResponse:
    if kept.request != fingerprint:
        raise UsageError(
            f"the Idempotency-Key {key!r} was used for another request; use a new key for a "
            "new request"
        )
    body = json.loads(kept.body)
    if body == {"replayed": False}:
        raise UsageError(
            f"the request with Idempotency-Key {key!r} was done already and its answer held a "
            "secret that is not kept; list the result instead"
        )
    return JSONResponse(body, status_code=kept.status, headers={"Idempotent-Replayed": "true"})
