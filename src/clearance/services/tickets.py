"""Change tickets reported by their systems: a signed inbound webhook from ServiceNow or Jira
records the ticket's state (insert-only, logged), and the change criterion reads the newest.

A delivery is refused, with nothing recorded, when its signature does not verify with the
shared secret, when it was signed outside the replay window, when its delivery id (or its
exact signed payload) was recorded before, or when no plan names the ticket.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from clearance.errors import AuthenticationError, NotFoundError, UsageError
from clearance.integrations import webhooks as wire
from clearance.services.workspace import Workspace
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.core.plan import Plan
    from clearance.core.results import TicketState

MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Received:
    """What an inbound delivery did: the ticket state recorded, or why it was ignored."""

    recorded: bool
    source: str
    ticket: str | None = None
    state: str | None = None
    decision: str | None = None
    systems: tuple[str, ...] = ()
    reason: str = ""


@retrying()
def receive_change(ws: Workspace, source: str, headers: Mapping[str, str], body: bytes) -> Received:
    """Verify a change-system delivery and record the ticket state it reports."""
    from clearance.store import webhooks as repo
    from clearance.store.records import to_time

    source = source.strip().lower()
    if source not in wire.SOURCES:
        raise NotFoundError(f"no change system {source!r}; use one of {', '.join(wire.SOURCES)}")
    secret = ws.settings.webhooks.hook_secret
    if not secret:
        raise AuthenticationError(
            "inbound webhooks are off on this server: set CLEARANCE_HOOK_SECRET to the secret "
            "shared with the change system"
        )
    if len(body) > MAX_BODY:
        raise UsageError(f"a change webhook is at most {MAX_BODY} bytes")
    now = ws.clock()
    sent, delivery = wire.verify(
        secret, headers, body, now.timestamp(), ws.settings.webhooks.replay_window
    )
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise UsageError(f"the webhook body is not JSON: {exc}") from None
    report = wire.parse_change(source, payload)
    if report is None:
        event = payload.get("webhookEvent") if isinstance(payload, dict) else None
        why = f"{source} event {event!r} reports no issue state; nothing recorded"
        return Received(False, source, reason=why)
    ticket = report.ticket.upper()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    sent_at = to_time(datetime.fromtimestamp(sent, UTC))
    with ws.transaction() as uow:
        seen = repo.delivery_seen(uow.conn, source, delivery, sent_at, digest)
        wire.refuse_replay(seen, delivery)
        named = repo.plans_naming(uow.conn, ticket)
        systems = sorted(
            {
                system_id
                for system_id, system, change_id in named
                if system.strip().casefold() == source and change_id.strip().upper() == ticket
            }
        )
        if not systems:
            raise NotFoundError(
                f"no plan names {source} change {report.ticket} (release.change); nothing was "
                "recorded"
            )
        inserted = repo.insert_ticket_state(
            uow,
            {
                "source": source,
                "ticket": ticket,
                "state": report.state,
                "decision": report.decision,
                "delivery": delivery,
                "payload_digest": digest,
                "sent_at": sent_at,
                "received_at": to_time(now),
            },
        )
        moved = wire.status_change(payload) if source == "jira" else None
        uow.append(
            "change.ticket_reported",
            actor=f"webhook:{source}",
            subject=ticket,
            payload={
                "source": source,
                "state": report.state,
                "decision": report.decision,
                "delivery": delivery,
                "systems": systems,
                **({"changelog": {"from": moved[0], "to": moved[1]}} if moved else {}),
            },
            system_id=systems[0],
            records=[inserted],
        )
    return Received(True, source, ticket, report.state, report.decision, tuple(systems))


def reported_state(conn: Connection, plan: Plan) -> TicketState | None:
    """The newest state the plan's change system reported for its ticket, if any."""
    from clearance.store import webhooks as repo

    change = plan.release.change
    if change is None:
        return None
    source = change.system.strip().casefold()
    if source not in wire.SOURCES:
        return None
    return repo.newest_ticket_state(conn, source, change.id.strip().upper())
