"""Reviewer links over the API: create (the URL is in that answer only), list, revoke, and
read a link's access log. The rules (owner or administrator, at most 30 days, a link's
managers only) are the use cases' in `clearance.services.shares`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from clearance.api.deps import WS, Caller, IdempotencyKey, Writer, once
from clearance.api.pages import DEFAULT_LIMIT, MAX_LIMIT, page

router = APIRouter(tags=["reviewer links"])
LinkId = Path(ge=1, le=2**31 - 1)  # a 32-bit id column on PostgreSQL


class SharedReleaseInput(BaseModel):
    system: str = Field(min_length=1, max_length=64)
    version: str = Field(min_length=1, max_length=200)


class ShareInput(BaseModel):
    releases: list[SharedReleaseInput] = Field(min_length=1, max_length=50)
    expires: str = Field(
        default="7d",
        max_length=64,
        description="A duration (`7d`) or an ISO date or time; at most 30 days from now.",
    )
    note: str = Field(default="", max_length=500)


def _link(summary: Any) -> dict[str, Any]:
    from clearance.store.records import to_time

    link = summary.link
    return {
        "id": link.id,
        "releases": [r.as_json() for r in link.releases],
        "note": link.note,
        "created_by": link.created_by,
        "created_at": to_time(link.created_at),
        "expires_at": to_time(link.expires_at),
        "revoked_at": to_time(link.revoked_at) if link.revoked_at else None,
        "revoked_by": link.revoked_by,
        "state": summary.state,
        "views": summary.views,
    }


@router.get("/shares")
def shares(
    ws: WS,
    who: Caller,
    cursor: str | None = Query(default=None, max_length=2000),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Any:
    """The reviewer links you manage (every link, for an administrator); never a token."""
    from clearance.services.shares import list_shares

    return page(list_shares(ws, who), lambda s: s.link.id, cursor, limit, _link)


@router.post("/shares", status_code=201)
def create(ws: WS, who: Writer, body: ShareInput, key: IdempotencyKey = None) -> Any:
    """Share releases with a reviewer until `expires`; the URL is in this answer only (a
    retry with the same Idempotency-Key is refused, not replayed)."""
    from clearance.core.durations import parse_expiry
    from clearance.errors import UsageError
    from clearance.services.shares import ShareSummary, create_share

    def run() -> tuple[int, Any]:
        try:
            until = parse_expiry(body.expires, ws.clock())
        except ValueError as exc:
            raise UsageError(f"expires: {exc}") from None
        releases = [(r.system, r.version) for r in body.releases]
        made = create_share(ws, who, releases, until, body.note)
        return 201, {**_link(ShareSummary(made.link, "active", 0)), "url": made.url}

    return once(ws, who, key, body.model_dump(), run, keep_body=False)


@router.post("/shares/{link_id}/revocation", status_code=201)
def revoke(ws: WS, who: Writer, link_id: int = LinkId) -> Any:
    """Revoke a link from now on: its creator, the owner of every release it shows, or an
    administrator."""
    from clearance.services.shares import ShareSummary, revoke_share

    link = revoke_share(ws, who, str(link_id))
    return _link(ShareSummary(link, "revoked", 0))


@router.get("/shares/{link_id}/access")
def access(ws: WS, who: Caller, link_id: int = LinkId) -> Any:
    """Every use of a link: when, what was read, from which address."""
    from clearance.api.render import JSON
    from clearance.services.shares import share_report

    summary, log = share_report(ws, who, link_id)
    return JSON({**_link(summary), "access": log})
