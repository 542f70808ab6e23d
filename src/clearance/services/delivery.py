"""Delivering the webhook outbox: claim due rows, POST each signed, and record the attempt;
a failure is retried with exponential backoff until `max_attempts`, then the row is dead.

Delivery is at least once: a worker killed between the receiver's answer and recording it
sends again once its claim lapses, with the same event id, so a receiver that de-duplicates
on `X-Clearance-Delivery` (or the body's `event_id`) sees each event once. One worker runs
in every `clearance serve` process; claims keep them from sending a row twice at once.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from clearance.integrations import webhooks as wire
from clearance.services.workspace import Workspace

if TYPE_CHECKING:
    from clearance.store.webhooks import OutboxRow

log = logging.getLogger("clearance.webhooks")
#: the longest wait between two attempts
MAX_DELAY = timedelta(hours=1)
BATCH = 20


@dataclass
class Tally:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        return self.delivered + self.retried + self.dead


def deliver_due(ws: Workspace, *, max_batches: int = 1000) -> Tally:
    """Deliver every row that is due now (one pass; retries scheduled later wait)."""
    from clearance.store import webhooks as repo

    config = ws.settings.webhooks
    tally = Tally()
    token = uuid.uuid4().hex
    lease = timedelta(seconds=2 * config.timeout + 1)
    active = _active(ws)
    for _ in range(max_batches):
        now = ws.clock()
        rows = repo.claim(ws.engine, now, now + lease, token, BATCH)
        if not rows:
            break
        for row in rows:
            _deliver(ws, row, token, active, tally)
    return tally


def _active(ws: Workspace) -> dict[str, str]:
    """Subscription key -> URL of every subscription that may still be delivered to."""
    from clearance.services.webhooks import configured
    from clearance.store import webhooks as repo

    with ws.engine.connect() as conn:
        subs = repo.subscriptions(conn)
    found = {s.key: s.url for s in subs if not s.removed}
    found.update({s.key: s.url for s in configured(ws.settings.webhooks)})
    return found


def _deliver(
    ws: Workspace, row: OutboxRow, token: str, active: dict[str, str], tally: Tally
) -> None:
    from clearance.errors import UsageError
    from clearance.store import webhooks as repo

    config = ws.settings.webhooks
    status: int | None = None
    final = False
    if row.subscription not in active:
        error, final = f"subscription {row.subscription} was removed", True
    else:
        try:
            wire.check_url(row.url, config.allowed_hosts)
            secret = os.environ.get(row.secret_env)
            if not secret:
                error = f"{row.secret_env} (the signing secret) is not set for the worker"
            else:
                body = row.body.encode()
                stamp = int(ws.clock().timestamp())
                headers = wire.signed_headers(secret, body, stamp, row.event_id)
                headers[wire.EVENT] = row.event
                status, error = wire.post(row.url, body, headers, config.timeout)
                final = status == 410  # Gone: the receiver says never again
        except UsageError as exc:
            error, final = exc.message, True
    now = ws.clock()
    if not error:
        outcome, retry_at = "delivered", None
        tally.delivered += 1
    elif final or row.attempts + 1 >= config.max_attempts:
        outcome, retry_at = "dead", None
        tally.dead += 1
        tally.errors.append(f"{row.event_id} to {row.url}: {error}")
    else:
        delay = min(timedelta(seconds=config.backoff * 2**row.attempts), MAX_DELAY)
        outcome, retry_at = "retry", now + delay
        tally.retried += 1
    if not repo.finish(
        ws.engine,
        row,
        token,
        outcome=outcome,
        status_code=status,
        error=error,
        now=now,
        retry_at=retry_at,
    ):
        log.warning("webhook %s: claim lapsed before the attempt was recorded", row.event_id)


class DeliveryWorker:
    """A background thread that delivers the outbox every `poll` seconds until stopped."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clearance-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        poll = self.ws.settings.webhooks.poll
        while not self._stop.is_set():
            try:
                tally = deliver_due(self.ws)
                if tally.attempts:
                    log.info(
                        "webhooks: %d delivered, %d to retry, %d dead",
                        tally.delivered,
                        tally.retried,
                        tally.dead,
                    )
            except Exception:  # a database hiccup must not end delivery for good
                log.exception("webhook delivery failed; trying again in %s s", poll)
            self._stop.wait(poll)


@contextmanager
def delivery_worker(ws: Workspace, enabled: bool = True) -> Iterator[DeliveryWorker | None]:
    """Run a DeliveryWorker for the block (checking CLEARANCE_WEBHOOKS first, so a
    malformed setting stops the server from starting rather than losing events)."""
    from clearance.services.webhooks import configured

    if not enabled:
        yield None
        return
    configured(ws.settings.webhooks)
    worker = DeliveryWorker(ws)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
