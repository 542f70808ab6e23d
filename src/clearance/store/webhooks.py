"""Storage for webhooks: change-ticket states reported by inbound webhooks, subscriptions,
and the outbound outbox with its delivery attempts. Never commits; the outbox's claim and
finish run in their own short transactions, outside the audit log's write lock."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from clearance.core.results import TicketState
from clearance.store import tables as t
from clearance.store.records import EventRecord, from_time, to_time
from clearance.store.uow import Inserted, UnitOfWork

# -- change tickets ----------------------------------------------------------------------------


def insert_ticket_state(uow: UnitOfWork, values: dict[str, Any]) -> Inserted:
    return uow.insert(t.change_ticket_states, values)


def delivery_seen(conn: Connection, source: str, delivery: str, sent_at: str, digest: str) -> bool:
    """Whether this delivery id, or this exact signed payload, was recorded already."""
    table = t.change_ticket_states
    found = conn.execute(
        sa.select(table.c.id)
        .where(table.c.source == source)
        .where(
            (table.c.delivery == delivery)
            | ((table.c.sent_at == sent_at) & (table.c.payload_digest == digest))
        )
        .limit(1)
    ).first()
    return found is not None


def newest_ticket_state(conn: Connection, source: str, ticket: str) -> TicketState | None:
    """The state the source reported last (by the time it signed; ties by arrival)."""
    table = t.change_ticket_states
    row = conn.execute(
        sa.select(table)
        .where(table.c.source == source, table.c.ticket == ticket)
        .order_by(table.c.sent_at.desc(), table.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return TicketState(
        source=row.source,
        ticket=row.ticket,
        state=row.state,
        decision=row.decision,
        at=from_time(row.sent_at),
        delivery=row.delivery,
    )


def plans_naming(conn: Connection, ticket: str) -> list[tuple[str, str, str]]:
    """(system id, change system, change id) of plan revisions whose document mentions
    `ticket` (the caller checks the exact field)."""
    pattern = "%" + ticket.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute(
        sa.select(t.revisions.c.system_id, t.revisions.c.document).where(
            t.revisions.c.document.ilike(pattern, escape="\\")
        )
    )
    found = []
    for system_id, document in rows:
        change = (json.loads(document).get("release") or {}).get("change") or {}
        found.append((system_id, str(change.get("system", "")), str(change.get("id", ""))))
    return found


# -- subscriptions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    """Where events go: `key` is `db:ID` (added by an administrator) or `settings:NAME`."""

    key: str
    url: str
    events: tuple[str, ...]
    secret_env: str
    created_by: str
    created_at: datetime | None
    removed: bool = False

    @property
    def id(self) -> int | None:
        return int(self.key[3:]) if self.key.startswith("db:") else None


def insert_subscription(
    uow: UnitOfWork, url: str, events: Sequence[str], secret_env: str, by: str
) -> Inserted:
    values = {
        "url": url,
        "events": json.dumps(list(events)),
        "secret_env": secret_env,
        "created_by": by,
        "created_at": to_time(uow.clock()),
    }
    return uow.insert(t.webhook_subscriptions, values)


def insert_removal(uow: UnitOfWork, subscription_id: int, by: str) -> Inserted:
    values = {"subscription_id": subscription_id, "by": by, "at": to_time(uow.clock())}
    return uow.insert(t.webhook_removals, values)


def subscriptions(conn: Connection) -> list[Subscription]:
    """Every subscription added through Clearance, removed ones flagged."""
    s, r = t.webhook_subscriptions, t.webhook_removals
    rows = conn.execute(
        sa.select(s, r.c.subscription_id.label("removed_id"))
        .outerjoin(r, r.c.subscription_id == s.c.id)
        .order_by(s.c.id)
    )
    return [
        Subscription(
            key=f"db:{row.id}",
            url=row.url,
            events=tuple(json.loads(row.events)),
            secret_env=row.secret_env,
            created_by=row.created_by,
            created_at=from_time(row.created_at),
            removed=row.removed_id is not None,
        )
        for row in rows
    ]


def events_in(conn: Connection, seqs: Iterable[int], types: Iterable[str]) -> list[EventRecord]:
    """The events of `seqs` whose type is one of `types`, in order."""
    query = (
        sa.select(t.events)
        .where(t.events.c.seq.in_(list(seqs)), t.events.c.type.in_(list(types)))
        .order_by(t.events.c.seq)
    )
    return [EventRecord.from_row(r) for r in conn.execute(query)]


# -- the outbox --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxRow:
    id: int
    event_id: str
    event: str
    subscription: str
    url: str
    secret_env: str
    body: str
    created_at: datetime
    state: str  # pending | delivered | dead
    attempts: int
    next_attempt_at: datetime
    claim: str | None
    last_error: str | None
    delivered_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> OutboxRow:
        m = dict(row._mapping)
        for name in ("created_at", "next_attempt_at", "delivered_at"):
            m[name] = from_time(m[name]) if m[name] else None
        return cls(**m)


def insert_outbox(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(t.webhook_outbox.insert().values(**values))


def claim(
    engine: Engine, now: datetime, lease_until: datetime, token: str, limit: int
) -> list[OutboxRow]:
    """Claim up to `limit` due deliveries for one worker until `lease_until`: rows another
    worker holds are skipped (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's BEGIN
    IMMEDIATE lets one claimer in at a time). A crashed worker's claim lapses at its lease."""
    from clearance.store.db import transaction

    o = t.webhook_outbox
    with transaction(engine) as conn:
        ids = list(
            conn.execute(
                sa.select(o.c.id)
                .where(o.c.state == "pending", o.c.next_attempt_at <= to_time(now))
                .order_by(o.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        if not ids:
            return []
        conn.execute(
            o.update()
            .where(o.c.id.in_(ids))
            .values(claim=token, next_attempt_at=to_time(lease_until))
        )
        rows = conn.execute(sa.select(o).where(o.c.id.in_(ids)).order_by(o.c.id))
        return [OutboxRow.from_row(r) for r in rows]


def finish(
    engine: Engine,
    row: OutboxRow,
    token: str,
    *,
    outcome: str,
    status_code: int | None,
    error: str,
    now: datetime,
    retry_at: datetime | None,
) -> bool:
    """Record one attempt and move the row on: `outcome` delivered, retry (at `retry_at`) or
    dead. False when the claim lapsed and another worker holds the row now."""
    from clearance.store.db import transaction

    o = t.webhook_outbox
    values: dict[str, Any] = {"claim": None, "attempts": row.attempts + 1}
    if outcome == "delivered":
        values |= {"state": "delivered", "delivered_at": to_time(now), "last_error": None}
    elif outcome == "dead":
        values |= {"state": "dead", "last_error": error}
    else:
        assert retry_at is not None
        values |= {"next_attempt_at": to_time(retry_at), "last_error": error}
    with transaction(engine) as conn:
        done = conn.execute(
            o.update().where(o.c.id == row.id, o.c.claim == token).values(**values)
        ).rowcount
        if not done:
            return False
        conn.execute(
            t.webhook_attempts.insert().values(
                outbox_id=row.id,
                attempt=row.attempts + 1,
                outcome=outcome,
                status_code=status_code,
                error=error or None,
                at=to_time(now),
            )
        )
    return True


def deliveries(
    conn: Connection, state: str | None = None, limit: int = 200, before: int | None = None
) -> list[OutboxRow]:
    """The newest deliveries first (older than row `before`), optionally only in `state`."""
    o = t.webhook_outbox
    query = sa.select(o).order_by(o.c.id.desc()).limit(limit)
    if state is not None:
        query = query.where(o.c.state == state)
    if before is not None:
        query = query.where(o.c.id < before)
    return [OutboxRow.from_row(r) for r in conn.execute(query)]


def counts(conn: Connection) -> dict[str, int]:
    o = t.webhook_outbox
    rows = conn.execute(sa.select(o.c.state, sa.func.count()).group_by(o.c.state))
    return {state: int(n) for state, n in rows}
