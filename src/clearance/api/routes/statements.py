"""Signed statements: sign-offs, waivers and their revocations, and administrators'
statements (people, roles, keys, policy, targets, tokens). Each is signed with the caller's
own key on the caller's machine; the server never holds a person's private key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query

from clearance.api import models, render
from clearance.api.deps import WS, Caller, IdempotencyKey, once
from clearance.api.pages import DEFAULT_LIMIT, MAX_LIMIT, page
from clearance.services import queries

router = APIRouter()
Cursor = Query(default=None, max_length=2000)
Limit = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


def _envelope(body: models.Signed) -> dict[str, Any]:
    return body.envelope.model_dump()


def _record(
    ws: Any,
    who: Any,
    key: str | None,
    body: models.Signed,
    use_case: Callable[..., Any],
    shape: Callable[[Any], Any] = render.plain,
    status: int = 201,
) -> Any:
    """Hand the signed statement and its caller to the use case, once per Idempotency-Key;
    answer `shape` of what it returns."""
    return once(
        ws, who, key, body.model_dump(), lambda: (status, shape(use_case(ws, _envelope(body), who)))
    )


@router.post("/approvals", tags=["statements"], status_code=201)
def approve(ws: WS, who: Caller, body: models.Signed, key: IdempotencyKey = None) -> Any:
    """Record a signed approval, rejection or withdrawal (a retry of the same statement
    answers the record already made)."""
    from clearance.services.approvals import sign

    def run() -> tuple[int, Any]:
        done = sign(ws, _envelope(body), who)
        return 201, {"approval_id": done.approval_id, **render.plain(done.approval)}

    return once(ws, who, key, body.model_dump(), run)


@router.post("/waivers", tags=["statements"], status_code=201)
def waive(ws: WS, who: Caller, body: models.Signed, key: IdempotencyKey = None) -> Any:
    from clearance.services.approvals import waive as record

    return _record(ws, who, key, body, record)


@router.post("/waiver-revocations", tags=["statements"], status_code=201)
def revoke_waiver(ws: WS, who: Caller, body: models.Signed, key: IdempotencyKey = None) -> Any:
    from clearance.services.approvals import revoke_waiver as record

    return _record(ws, who, key, body, record, lambda found: {"revoked": found})


@router.post("/finding-acceptances", tags=["statements"], status_code=201)
def accept_finding(ws: WS, who: Caller, body: models.Signed, key: IdempotencyKey = None) -> Any:
    """Record a signed acceptance of one finding, with justification and expiry."""
    from clearance.services.findings import accept_finding as record

    return _record(ws, who, key, body, record)


@router.post("/acknowledgements", tags=["statements"], status_code=201)
def acknowledge(ws: WS, who: Caller, body: models.Signed, key: IdempotencyKey = None) -> Any:
    """Record a signed acknowledgement of an interested party's impact and consideration."""
    from clearance.services.findings import acknowledge as record

    return _record(ws, who, key, body, record)


# -- people, keys, policy, targets ---------------------------------------------------------


@router.get("/whoami", tags=["people"])
def whoami(ws: WS, who: Caller) -> Any:
    """The person or service account the token acts for, with its roles and keys, and the
    token's name and scopes."""
    from clearance.services.people import person as registered

    person = registered(ws, who.name)
    return {**render.person(person), "token": who.token, "scopes": sorted(who.scopes or ())}


@router.get("/people", tags=["people"])
def people(ws: WS, who: Caller, cursor: str | None = Cursor, limit: int = Limit) -> Any:
    return page(queries.people(ws, who), lambda p: p.name, cursor, limit, render.person)


@router.post("/people", tags=["people"], status_code=201)
def add_person(ws: WS, who: Caller, body: models.Signed, key: IdempotencyKey = None) -> Any:
    """Register a person or service account (an administrator's signed statement)."""
    from clearance.services.people import add_person as record

    return _record(ws, who, key, body, record, render.person)


@router.post("/roles", tags=["people"])
def change_role(ws: WS, who: Caller, body: models.Signed, key: IdempotencyKey = None) -> Any:
    """Grant or revoke a role (an administrator's signed statement)."""
    from clearance.services.people import change_role as record

    return _record(ws, who, key, body, record, render.person, 200)


@router.post("/keys", tags=["people"], status_code=201)
def add_key(ws: WS, who: Caller, body: models.Signed, key: IdempotencyKey = None) -> Any:
    from clearance.services.people import add_key as record

    return _record(ws, who, key, body, record, lambda found: {"key_id": found})


@router.post("/keys/retirements", tags=["people"], status_code=201)
def retire_key(ws: WS, who: Caller, body: models.Signed, key: IdempotencyKey = None) -> Any:
    from clearance.services.people import retire_key as record

    return _record(ws, who, key, body, record, lambda found: {"retired": found})


@router.post("/policy", tags=["people"])
def set_policy(ws: WS, who: Caller, body: models.Signed, key: IdempotencyKey = None) -> Any:
    from clearance.services.policy import set_policy as record

    def run() -> tuple[int, Any]:
        current, changed = record(ws, _envelope(body), who)
        return 200, {"digest": current.digest, "changed": changed}

    return once(ws, who, key, body.model_dump(), run)


@router.post("/targets", tags=["people"], status_code=201)
def declare_target(ws: WS, who: Caller, body: models.Signed, key: IdempotencyKey = None) -> Any:
    from clearance.services.policy import declare_target as record

    def run() -> tuple[int, Any]:
        name, new = record(ws, _envelope(body), who)
        return (201 if new else 200), {"target": name, "new": new}

    return once(ws, who, key, body.model_dump(), run)


# -- tokens --------------------------------------------------------------------------------


def _token(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = render.plain(row)
    out.pop("id", None)
    return out


@router.get("/tokens", tags=["tokens"])
def tokens(ws: WS, who: Caller, cursor: str | None = Cursor, limit: int = Limit) -> Any:
    """Every token (administrators) or your own: names, scopes, expiry; never a value."""
    from clearance.services.tokens import list_tokens

    return page(list_tokens(ws, who), lambda t: t.name, cursor, limit, _token)


@router.post("/tokens", tags=["tokens"], status_code=201)
def create_token(ws: WS, who: Caller, body: models.Signed, key: IdempotencyKey = None) -> Any:
    """Create a token (an administrator's signed statement); its value is in this answer
    only, never stored, and a retry with the same Idempotency-Key is refused."""
    from clearance.services.tokens import create_token as record

    def run() -> tuple[int, Any]:
        made = record(ws, _envelope(body), who)
        return 201, {**_token(made.token), "token": made.secret}

    return once(ws, who, key, body.model_dump(), run, keep_body=False)


@router.post("/tokens/revocations", tags=["tokens"], status_code=201)
def revoke_token(ws: WS, who: Caller, body: models.Signed, key: IdempotencyKey = None) -> Any:
    from clearance.services.tokens import revoke_token as record

    return _record(ws, who, key, body, record, lambda found: {"revoked": found})
