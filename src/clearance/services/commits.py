"""Group commits: writers that arrive while another writer's transaction is open (threads of
one server process) join it instead of queueing for the write lock behind it.

The first writer leads: it opens the transaction (SQLite's write lock, PostgreSQL's advisory
lock) and runs its unit of work; each writer that joins runs its own unit of work after it,
one at a time on the same connection, each in a savepoint of its own, so a writer that fails
rolls back alone and gets its own error. When every writer that joined has run, the leader
closes the group, writes one signed checkpoint over all their events, commits once, and each
writer leaves its `with` block only then, with its own receipt: its events, that checkpoint.
A writer never returns before its events are durable, and a failed commit fails them all.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from clearance.errors import ClearanceError, StoreError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.core.checkpoint import Receipt
    from clearance.services.workspace import Workspace
    from clearance.store.uow import UnitOfWork


@dataclass
class _Group:
    conn: Connection | None = None
    #: writers that joined and have not finished their unit of work
    pending: int = 0
    done: list[UnitOfWork] = field(default_factory=list)
    opened: threading.Event = field(default_factory=threading.Event)
    committed: threading.Event = field(default_factory=threading.Event)
    #: why the group recorded nothing (its transaction did not open, seal or commit)
    error: BaseException | None = None
    #: the receipt of the group's last event: its checkpoint is every writer's
    sealed: Receipt | None = None
    turn: threading.Lock = field(default_factory=threading.Lock)
    names: Iterator[int] = field(default_factory=itertools.count)


class CommitGroups:
    """The write transactions of one workspace handle, grouped (see the module's doc)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._lock = threading.Condition()
        self._open: _Group | None = None
        self._inside = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        if getattr(self._inside, "active", False):
            raise RuntimeError("a write transaction was opened inside another one")
        with self._lock:
            group, lead = self._open, False
            if group is None:
                group = self._open = _Group()
                lead = True
            group.pending += 1
        self._inside.active = True
        try:
            if lead:
                yield from self._lead(group)
            else:
                yield from self._join(group)
        finally:
            self._inside.active = False

    def _lead(self, group: _Group) -> Iterator[UnitOfWork]:
        from clearance.services.log import seal
        from clearance.store.uow import UnitOfWork, unit_of_work

        own: BaseException | None = None
        mine: UnitOfWork | None = None
        try:
            with unit_of_work(self.ws.engine, self.ws.clock) as shared:
                group.conn = shared.conn
                group.opened.set()
                try:
                    mine = yield from self._member(group)
                except BaseException as exc:  # rolled back alone; raised after the commit
                    own = exc
                with self._lock:
                    while group.pending:
                        self._lock.wait()
                    self._open = None  # later writers start the next group
                all_of = UnitOfWork(shared.conn, self.ws.clock)
                for uow in group.done:
                    all_of.appended += uow.appended
                    all_of.appended_types |= uow.appended_types
                    all_of.last_at = max(filter(None, (all_of.last_at, uow.last_at)), default=None)
                all_of.appended.sort()
                group.sealed = seal(all_of, self.ws)
        except BaseException as exc:
            group.error = exc
            raise
        finally:
            with self._lock:
                if self._open is group:
                    self._open = None
            group.opened.set()
            group.committed.set()
        if own is not None:
            raise own
        assert mine is not None
        self.ws.last_receipt = _receipt(mine, group.sealed) or self.ws.last_receipt

    def _join(self, group: _Group) -> Iterator[UnitOfWork]:
        group.opened.wait()
        if group.error is not None or group.conn is None:
            self._finished(group)
            raise _again(group.error)
        mine = yield from self._member(group)
        group.committed.wait()
        if group.error is not None:
            raise _again(group.error)
        self.ws.last_receipt = _receipt(mine, group.sealed) or self.ws.last_receipt

    def _member(self, group: _Group) -> Generator[UnitOfWork, None, UnitOfWork]:
        """Run one writer's unit of work in a savepoint of the group's transaction."""
        from clearance.services.webhooks import enqueue
        from clearance.store.uow import UnitOfWork, driver_error

        conn = group.conn
        assert conn is not None
        try:
            with group.turn:
                name = f"writer_{next(group.names)}"
                conn.exec_driver_sql(f"SAVEPOINT {name}")
                uow = UnitOfWork(conn, self.ws.clock)
                try:
                    yield uow
                    enqueue(uow, self.ws.settings.webhooks)
                except BaseException as exc:
                    conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {name}")
                    conn.exec_driver_sql(f"RELEASE SAVEPOINT {name}")
                    if isinstance(exc, (sa.exc.IntegrityError, sa.exc.OperationalError)):
                        raise driver_error(exc) from None
                    raise
                conn.exec_driver_sql(f"RELEASE SAVEPOINT {name}")
                group.done.append(uow)
                return uow
        finally:
            self._finished(group)

    def _finished(self, group: _Group) -> None:
        with self._lock:
            group.pending -= 1
            self._lock.notify_all()


def _receipt(uow: UnitOfWork, sealed: Receipt | None) -> Receipt | None:
    from clearance.core.checkpoint import Receipt

    if not uow.appended or sealed is None:
        return None
    return Receipt(max(uow.appended), sealed.checkpoint)


def _again(error: BaseException | None) -> BaseException:
    """The group's failure for one more writer: its own copy (an exception raised in several
    threads at once would share one traceback)."""
    if isinstance(error, ClearanceError):
        return type(error)(error.message)
    return StoreError(f"the write was not recorded: {error or 'its transaction did not open'}")
