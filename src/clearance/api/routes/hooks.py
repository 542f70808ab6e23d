"""Webhooks over HTTP: change systems report tickets (signed with the shared secret, no API
token), and administrators manage outbound subscriptions and see their deliveries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from clearance.api import models
from clearance.api.deps import WS, Caller, IdempotencyKey, once
from clearance.api.pages import DEFAULT_LIMIT, MAX_LIMIT, decode, encode
from clearance.api.render import JSON
from clearance.errors import UsageError

router = APIRouter()


@router.post(
    "/hooks/changes/{source}",
    tags=["webhooks"],
    status_code=201,
    responses={202: {"description": "Verified, but the event reports no ticket state"}},
)
async def change_hook(ws: WS, source: str, request: Request) -> Any:
    """A change ticket's state from ServiceNow (`servicenow`: a change_request record as
    Table API JSON) or Jira (`jira`: the `jira:issue_updated` webhook). Signed with
    `X-Clearance-Timestamp`, `X-Clearance-Signature: sha256=…` (HMAC-SHA256 of
    `TIMESTAMP.BODY` with CLEARANCE_HOOK_SECRET) and `X-Clearance-Delivery`; see
    docs/webhooks.md. 401 for a bad signature or a stale timestamp, 409 for a replayed
    delivery, 404 for a ticket no plan names."""
    from clearance.services.tickets import MAX_BODY, receive_change

    chunks, size = [], 0
    async for chunk in request.stream():  # never more than MAX_BODY in memory
        size += len(chunk)
        if size > MAX_BODY:
            raise UsageError(f"a change webhook is at most {MAX_BODY} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    done = await run_in_threadpool(receive_change, ws, source, dict(request.headers), body)
    return JSON(done, status_code=201 if done.recorded else 202)


def _subscription(sub: Any) -> dict[str, Any]:
    return {
        "key": sub.key,
        "id": sub.id,
        "url": sub.url,
        "events": list(sub.events),
        "secret_env": sub.secret_env,
        "created_by": sub.created_by,
        "created_at": sub.created_at,
        "removed": sub.removed,
    }


def _delivery(row: Any) -> dict[str, Any]:
    out = {name: getattr(row, name) for name in row.__dataclass_fields__ if name != "body"}
    out.pop("claim", None)
    return out


@router.get("/webhooks/deliveries", tags=["webhooks"])
def deliveries(
    ws: WS,
    who: Caller,
    state: str | None = Query(default=None, description="pending, delivered or dead"),
    cursor: str | None = Query(default=None, max_length=2000),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Any:
    """The outbound deliveries, newest first (dead letters with `state=dead`), and counts
    by state; administrators only."""
    from clearance.services.webhooks import overview

    before = decode(cursor)
    if before is not None and not isinstance(before, int):
        raise UsageError("the cursor is not one this server gave for this list")
    seen = overview(ws, who, state, limit=limit + 1, before=before)
    chunk = seen.deliveries[:limit]
    more = len(seen.deliveries) > limit
    return JSON(
        {
            "counts": seen.counts,
            "items": [_delivery(r) for r in chunk],
            "next_cursor": encode(chunk[-1].id) if more else None,
        }
    )


@router.get("/webhooks/subscriptions", tags=["webhooks"])
def subscriptions(ws: WS, who: Caller) -> Any:
    """Every subscription, from settings and added; administrators only."""
    from clearance.services.webhooks import overview

    subs = overview(ws, who, limit=0).subscriptions
    return JSON({"items": [_subscription(s) for s in subs], "next_cursor": None})


@router.post("/webhooks/subscriptions", tags=["webhooks"], status_code=201)
def add(ws: WS, who: Caller, body: models.Signed, key: IdempotencyKey = None) -> Any:
    """Subscribe a URL (an administrator's signed `webhook.add` statement)."""
    from clearance.services.webhooks import add_subscription

    def run() -> tuple[int, Any]:
        from clearance.store.records import to_time

        made = add_subscription(ws, body.envelope.model_dump(), who)
        assert made.created_at is not None
        return 201, _subscription(made) | {"created_at": to_time(made.created_at)}

    return once(ws, who, key, body.model_dump(), run)
