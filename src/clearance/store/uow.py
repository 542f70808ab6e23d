"""The unit of work: one transaction that commits or rolls back as a whole, hands its
connection to the repositories, appends audit events with exactly the records they cover,
and turns driver errors into Clearance's errors.

Writers are serialised: SQLite by `BEGIN IMMEDIATE`, PostgreSQL by a transaction-scoped
advisory lock taken first, so the next event's index and the checkpoint after it are
computed by one writer at a time and concurrent writers queue instead of colliding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from clearance.errors import ClearanceError, ConflictError, StoreError

#: the advisory lock every PostgreSQL writer holds for its whole transaction ("Clra")
WRITE_LOCK = 0x436C7261


class TransientStoreError(StoreError):
    """A write that lost a race or a lock; retrying the whole use case is safe."""

    code = "store_busy"


@dataclass(frozen=True)
class RecordRef:
    """A record row as the log knows it: its table and the digest of its stored values."""

    table: str
    digest: str

    def as_json(self) -> list[str]:
        return [self.table, self.digest]


@dataclass(frozen=True)
class Inserted:
    id: int
    ref: RecordRef


@dataclass
class UnitOfWork:
    conn: Connection
    clock: Callable[[], datetime]
    #: indexes of the events appended in this transaction, for the checkpoint that seals it
    appended: list[int] = field(default_factory=list)
    #: the types of those events (the outbox looks up events only when one may notify)
    appended_types: set[str] = field(default_factory=set)
    #: the stored time of the last event appended in it, which the checkpoint must not precede
    last_at: str | None = None

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    def insert(self, table: sa.Table, values: Mapping[str, Any]) -> Inserted:
        """Insert one record row; the returned ref goes into the event that records it."""
        from clearance.store.repository import record_digest

        result = self.conn.execute(table.insert(), dict(values))
        key = result.inserted_primary_key
        row_id = int(key[0]) if key and isinstance(key[0], int) else 0
        return Inserted(row_id, RecordRef(table.name, record_digest(table.name, values)))

    def append(
        self,
        type: str,
        *,
        actor: str,
        subject: str,
        payload: dict[str, Any],
        system_id: str | None = None,
        records: Sequence[Inserted | RecordRef] = (),
    ) -> Any:
        """Append an audit event covering `records`, in this transaction."""
        from clearance.store.records import to_time
        from clearance.store.repository import append_event

        refs = [r.ref if isinstance(r, Inserted) else r for r in records]
        event = append_event(
            self.conn,
            type=type,
            actor=actor,
            subject=subject,
            payload=payload,
            at=self.clock(),
            system_id=system_id,
            records=[r.as_json() for r in refs],
        )
        self.appended.append(event.seq)
        self.appended_types.add(type)
        self.last_at = to_time(event.at)
        return event


@contextmanager
def unit_of_work(engine: Engine, clock: Callable[[], datetime]) -> Iterator[UnitOfWork]:
    """One write transaction; driver errors come out as StoreError (transient ones as
    TransientStoreError), conflicting inserts as ConflictError."""
    from clearance.store.db import transaction

    try:
        with transaction(engine) as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(WRITE_LOCK)))
            yield UnitOfWork(conn, clock)
    except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
        raise driver_error(exc) from None


def driver_error(exc: sa.exc.IntegrityError | sa.exc.OperationalError) -> ClearanceError:
    """Clearance's error for a driver's: a conflicting insert, a lost race, a failure."""
    if isinstance(exc, sa.exc.IntegrityError):
        return ConflictError(
            f"this write conflicts with a record already stored ({_first_line(exc.orig)}); "
            "nothing was recorded"
        )
    if _transient(exc):
        return TransientStoreError(
            f"the database is busy ({_first_line(exc.orig)}); nothing was recorded, retry"
        )
    return StoreError(f"the database failed: {_first_line(exc.orig)}")


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _transient(exc: sa.exc.OperationalError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code in ("40001", "40P01", "55P03"):  # serialization failure, deadlock, lock timeout
        return True
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text


def retrying(attempts: int = 4) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run a whole use case again when its transaction lost a race (safe: it rolled back)."""
    import functools
    import random
    import time

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(attempts):
                try:
                    return fn(*args, **kwargs)
                except TransientStoreError:
                    if attempt == attempts - 1:
                        raise
                    time.sleep(random.uniform(0.01, 0.05) * 2**attempt)
            raise AssertionError("unreachable")

        return run

    return wrap
