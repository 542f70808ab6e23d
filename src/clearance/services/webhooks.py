"""Outbound webhooks: subscriptions (administrators, or CLEARANCE_WEBHOOKS), the outbox row
written in the same transaction as the event it announces, and delivery with retries,
exponential backoff and a dead-letter state.

Events: `signoff.waiting` (a decision found sign-offs missing, first time for that set),
`decision`, `release` and `attestation.revoked`. Each event has one id, kept across retries
and subscriptions, so a receiver that de-duplicates on it sees every event exactly once.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clearance.core.identity import Permission, Scope
from clearance.errors import ConflictError, NotFoundError, UsageError
from clearance.integrations import webhooks as wire
from clearance.services.admin import accept_admin, args, store
from clearance.services.auth import Principal, require, require_scope
from clearance.services.notifications import notifications
from clearance.services.workspace import Workspace
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from clearance.settings import WebhookSettings
    from clearance.store.uow import UnitOfWork
    from clearance.store.webhooks import OutboxRow, Subscription

EVENTS = ("signoff.waiting", "decision", "release", "attestation.revoked")
#: audit event types that can cause a webhook event
CAUSES = ("decision.recorded", "release.recorded", "attestation.revoked")
_ENV = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")


def parse_events(given: list[str]) -> tuple[str, ...]:
    chosen = [e.strip() for text in given for e in text.split(",") if e.strip()]
    unknown = sorted(set(chosen) - set(EVENTS))
    if unknown:
        raise UsageError(f"no webhook event {', '.join(unknown)}; choose from {', '.join(EVENTS)}")
    return tuple(dict.fromkeys(chosen)) or EVENTS


def _checked(
    url: str, events: list[str], secret_env: str, config: WebhookSettings
) -> tuple[str, tuple[str, ...], str]:
    if not _ENV.fullmatch(secret_env):
        raise UsageError(
            f"--secret-env {secret_env!r}: name the environment variable that holds the "
            "signing secret, e.g. CLEARANCE_SLACK_SECRET (the secret itself is never stored)"
        )
    return wire.check_url(url, config.allowed_hosts), parse_events(events), secret_env


def configured(config: WebhookSettings) -> list[Subscription]:
    """The subscriptions of CLEARANCE_WEBHOOKS: a JSON list of {name, url, events,
    secret_env}; UsageError saying what is wrong in it."""
    from clearance.store.webhooks import Subscription

    if not config.subscriptions:
        return []
    try:
        entries = json.loads(config.subscriptions)
        if not isinstance(entries, list):
            raise ValueError("it is not a JSON list")
        found = []
        for entry in entries:
            name, url = str(entry["name"]), str(entry["url"])
            events = entry.get("events") or []
            url, chosen, env = _checked(url, list(events), str(entry["secret_env"]), config)
            found.append(Subscription(f"settings:{name}", url, chosen, env, "settings", None))
    except (ValueError, KeyError, TypeError, UsageError) as exc:
        detail = exc.message if isinstance(exc, UsageError) else str(exc)
        raise UsageError(
            f"CLEARANCE_WEBHOOKS is malformed ({detail}); give a JSON list of "
            '{"name", "url", "events", "secret_env"}'
        ) from None
    return found


@retrying()
def add_subscription(
    ws: Workspace, envelope: dict[str, Any], caller: Principal | None = None
) -> Subscription:
    """Subscribe a URL to events (administrators only); only loopback URLs and hosts in
    CLEARANCE_WEBHOOK_HOSTS are accepted."""
    from clearance.store import webhooks as repo

    with ws.transaction() as uow:
        signed = accept_admin(uow, envelope, "webhook.add", Permission.MANAGE_WEBHOOKS, caller)
        given = args(signed)
        url, events, env = _checked(
            str(given.get("url", "")),
            [str(e) for e in given.get("events") or []],
            str(given.get("secret_env", "")),
            ws.settings.webhooks,
        )
        inserted = repo.insert_subscription(uow, url, events, env, signed.principal.name)
        statement = store(uow, signed, url)
        uow.append(
            "webhook.subscribed",
            actor=signed.principal.name,
            subject=f"db:{inserted.id}",
            payload={"url": url, "events": list(events), "secret_env": env},
            records=[inserted, statement],
        )
        return next(s for s in repo.subscriptions(uow.conn) if s.id == inserted.id)


@retrying()
def remove_subscription(
    ws: Workspace, envelope: dict[str, Any], caller: Principal | None = None
) -> Subscription:
    """Stop a subscription (administrators only); its undelivered rows go dead."""
    from clearance.store import webhooks as repo

    with ws.transaction() as uow:
        signed = accept_admin(uow, envelope, "webhook.remove", Permission.MANAGE_WEBHOOKS, caller)
        wanted = str(args(signed).get("id", ""))
        found = next((s for s in repo.subscriptions(uow.conn) if str(s.id) == wanted), None)
        if found is None or found.id is None:
            raise NotFoundError(f"no webhook subscription {wanted}; see `clearance webhooks list`")
        if found.removed:
            raise ConflictError(f"webhook subscription {wanted} was removed already")
        inserted = repo.insert_removal(uow, found.id, signed.principal.name)
        statement = store(uow, signed, found.key)
        uow.append(
            "webhook.removed",
            actor=signed.principal.name,
            subject=found.key,
            payload={"url": found.url},
            records=[inserted, statement],
        )
        return found


def _may_manage(ws: Workspace, principal: Principal) -> None:
    from clearance.store import people as people_repo

    require_scope(principal, Scope.ADMIN)
    with ws.engine.connect() as conn:
        require(principal, Permission.MANAGE_WEBHOOKS, people_repo.administrators(conn))


@dataclass(frozen=True)
class Overview:
    subscriptions: list[Subscription]
    deliveries: list[OutboxRow]
    counts: dict[str, int]


def overview(
    ws: Workspace,
    principal: Principal,
    state: str | None = None,
    *,
    limit: int = 200,
    before: int | None = None,
) -> Overview:
    """Subscriptions and the newest deliveries (older than row `before`), dead letters
    included (administrators only)."""
    from clearance.store import webhooks as repo

    if state is not None and state not in ("pending", "delivered", "dead"):
        raise UsageError(f"no delivery state {state!r}; use pending, delivered or dead")
    _may_manage(ws, principal)
    with ws.engine.connect() as conn:
        subs = repo.subscriptions(conn) + configured(ws.settings.webhooks)
        found = repo.deliveries(conn, state, limit, before)
        return Overview(subs, found, repo.counts(conn))


def enqueue(uow: UnitOfWork, config: WebhookSettings) -> int:
    """Write the outbox rows for the events this transaction appended, in it; the number
    written. Called by `Workspace.transaction` before it commits."""
    from clearance.store import webhooks as repo
    from clearance.store.records import to_time

    if not uow.appended or uow.appended_types.isdisjoint(CAUSES):
        return 0
    events = repo.events_in(uow.conn, uow.appended, CAUSES)
    if not events:
        return 0
    subs = [s for s in repo.subscriptions(uow.conn) if not s.removed] + configured(config)
    if not subs:
        return 0
    written = 0
    now = to_time(uow.clock())
    for event in events:
        for name, body in notifications(uow.conn, event):
            event_id = uuid.uuid4().hex
            text = json.dumps({"event_id": event_id, **body}, sort_keys=True)
            for sub in subs:
                if name not in sub.events:
                    continue
                repo.insert_outbox(
                    uow.conn,
                    {
                        "event_id": event_id,
                        "event": name,
                        "subscription": sub.key,
                        "url": sub.url,
                        "secret_env": sub.secret_env,
                        "body": text,
                        "created_at": now,
                        "state": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                    },
                )
                written += 1
    return written
