"""The unit of work turns driver errors into Clearance's errors, and use cases that lost a
race are run again; nothing half-written is left either way."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from clearance.errors import ConflictError
from clearance.store import tables as t
from clearance.store.db import _sqlite_pragmas, create_engine, migrate, transaction
from clearance.store.uow import TransientStoreError, retrying, unit_of_work


def clock() -> datetime:
    return datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path, database_url: str | None):
    engine = create_engine(database_url or f"sqlite:///{tmp_path / 'clearance.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


SYSTEM = {"id": "s", "name": "n", "owner": "o", "created_at": "2026-12-01T00:00:00.000000Z"}


def test_a_conflicting_insert_is_a_conflict_and_nothing_is_kept(engine) -> None:
    with unit_of_work(engine, clock) as uow:
        uow.insert(t.systems, SYSTEM)
    with (
        pytest.raises(ConflictError, match="nothing was recorded"),
        unit_of_work(engine, clock) as uow,
    ):
        uow.append("x", actor="a", subject="s", payload={})
        uow.insert(t.systems, SYSTEM)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.events)).scalar() == 0


def test_a_busy_sqlite_database_is_transient(tmp_path: Path) -> None:
    """A second writer that cannot get the write lock in time gets TransientStoreError."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    holder = create_engine(url)
    migrate(holder)
    impatient = sa.create_engine(url, connect_args={"timeout": 0.05})
    sa.event.listen(impatient, "connect", _sqlite_pragmas)
    try:
        with (
            transaction(holder),
            pytest.raises(TransientStoreError, match="retry"),
            unit_of_work(impatient, clock),
        ):
            pass
    finally:
        holder.dispose()
        impatient.dispose()


def test_retrying_runs_a_use_case_again_until_it_lands() -> None:
    calls = []

    @retrying(attempts=3)
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientStoreError("busy")
        return "done"

    assert flaky() == "done" and len(calls) == 3


def test_retrying_gives_up_and_says_so() -> None:
    calls = []

    @retrying(attempts=2)
    def busy() -> None:
        calls.append(1)
        raise TransientStoreError("busy")

    with pytest.raises(TransientStoreError):
        busy()
    assert len(calls) == 2
