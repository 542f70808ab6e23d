"""Group commits: writers that arrive while another's transaction is open share its commit
and its signed checkpoint, each in a savepoint of its own, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from clearance.errors import ConflictError
from clearance.services.log import verify_log
from clearance.services.workspace import Workspace
from clearance.store import tables as t
from tests.builders import open_workspace


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None) -> Iterator[Workspace]:
    workspace = open_workspace(tmp_path / ".clearance", database_url)
    yield workspace
    workspace.close()


def counts(ws: Workspace) -> tuple[int, int]:
    with ws.engine.connect() as conn:
        events = conn.execute(sa.select(sa.func.count()).select_from(t.events)).scalar_one()
        cps = conn.execute(sa.select(sa.func.count()).select_from(t.checkpoints)).scalar_one()
    return int(events), int(cps)


def wait_for_joiners(ws: Workspace, writers: int) -> None:
    """Until `writers` writers (the leader included) are in the open group."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        group = ws._commits._open
        if group is not None and group.pending >= writers:
            return
        time.sleep(0.005)
    raise AssertionError("the other writers never joined the open transaction")


def write(ws: Workspace, subject: str, results: dict[str, Any], fail: bool = False) -> None:
    """One writer: an event, and for `fail` an error after it (its savepoint rolls back)."""
    try:
        with ws.transaction() as uow:
            uow.append("test.grouped", actor="writer", subject=subject, payload={})
            if fail:
                raise ValueError("this writer changed its mind")
        results[subject] = ws.last_receipt
    except Exception as exc:  # the test reads what each writer got
        results[subject] = exc


def test_writers_that_arrive_during_a_transaction_share_its_commit(ws: Workspace) -> None:
    """Three writers, one commit, one new checkpoint; each receipt names its own event and
    the shared checkpoint, which covers it; the log verifies."""
    events_before, checkpoints_before = counts(ws)
    results: dict[str, Any] = {}
    others = [threading.Thread(target=write, args=(ws, s, results)) for s in ("b", "c")]
    with ws.transaction() as uow:
        uow.append("test.grouped", actor="writer", subject="a", payload={})
        for thread in others:
            thread.start()
        wait_for_joiners(ws, 3)
        assert counts(ws) == (events_before, checkpoints_before)  # nothing committed yet
    results["a"] = ws.last_receipt
    for thread in others:
        thread.join(10)
    assert counts(ws) == (events_before + 3, checkpoints_before + 1)
    receipts = [results[s] for s in "abc"]
    assert len({r.seq for r in receipts}) == 3
    assert len({r.checkpoint for r in receipts}) == 1
    assert all(r.seq <= r.checkpoint.size == events_before + 3 for r in receipts)
    assert verify_log(ws).failures == []


def test_a_writer_that_fails_in_the_group_rolls_back_alone(ws: Workspace) -> None:
    """The failing writer gets its own error and leaves nothing; the others commit."""
    events_before, _ = counts(ws)
    results: dict[str, Any] = {}
    failing = threading.Thread(target=write, args=(ws, "b", results, True))
    fine = threading.Thread(target=write, args=(ws, "c", results))
    with ws.transaction() as uow:
        uow.append("test.grouped", actor="writer", subject="a", payload={})
        failing.start()
        fine.start()
        wait_for_joiners(ws, 3)
    failing.join(10)
    fine.join(10)
    assert isinstance(results["b"], ValueError)
    assert results["c"].checkpoint.size == events_before + 2
    with ws.engine.connect() as conn:
        subjects = conn.execute(
            sa.select(t.events.c.subject).where(t.events.c.type == "test.grouped")
        ).scalars()
        assert sorted(subjects) == ["a", "c"]
    assert counts(ws)[0] == events_before + 2
    assert verify_log(ws).failures == []


def test_a_leader_that_fails_still_commits_the_writers_that_joined(ws: Workspace) -> None:
    results: dict[str, Any] = {}
    other = threading.Thread(target=write, args=(ws, "b", results))
    with pytest.raises(ConflictError), ws.transaction() as uow:
        uow.append("test.grouped", actor="writer", subject="a", payload={})
        other.start()
        wait_for_joiners(ws, 2)
        raise ConflictError("the leader's own write conflicts")
    other.join(10)
    assert results["b"].seq > 0
    with ws.engine.connect() as conn:
        subjects = conn.execute(
            sa.select(t.events.c.subject).where(t.events.c.type == "test.grouped")
        ).scalars()
        assert list(subjects) == ["b"]
    assert verify_log(ws).failures == []


def test_a_transaction_opened_inside_another_is_refused_not_a_deadlock(ws: Workspace) -> None:
    with (
        ws.transaction(),
        pytest.raises(RuntimeError, match="inside another"),
        ws.transaction(),
    ):
        pass


def test_a_group_whose_checkpoint_fails_records_nothing_for_anyone(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the shared checkpoint cannot be signed (here: another key is current), every
    writer of the group gets the error, none gets a receipt, and no event stays."""
    from clearance.errors import IntegrityError
    from clearance.services import log

    def refuse(*args: object) -> None:
        raise IntegrityError("the workspace's current key is another; nothing was recorded")

    events_before, checkpoints_before = counts(ws)
    results: dict[str, Any] = {}
    other = threading.Thread(target=write, args=(ws, "b", results))
    monkeypatch.setattr(log, "seal", refuse)
    with pytest.raises(IntegrityError), ws.transaction() as uow:
        uow.append("test.grouped", actor="writer", subject="a", payload={})
        other.start()
        wait_for_joiners(ws, 2)
    other.join(10)
    assert isinstance(results["b"], IntegrityError)
    assert "nothing was recorded" in str(results["b"])
    assert counts(ws) == (events_before, checkpoints_before)
