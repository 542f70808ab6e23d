"""Several processes on one database: a host whose clock is behind cannot make the log look
backdated, a process with the wrong workspace key records nothing, and a missing key file
never makes a new key for a database that has one."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from clearance.errors import IntegrityError, UsageError
from clearance.services.log import verify_log
from clearance.services.workspace import Workspace
from clearance.signing import SigningKey
from tests.builders import Clock, check, declare, load, open_workspace, write_plan_folder


def _second(ws: Workspace, clock: Clock, **changes: object) -> Workspace:
    """Another process on the same database (and workspace folder)."""
    return Workspace(dataclasses.replace(ws.settings, **changes), clock)


def test_a_host_behind_does_not_backdate_the_log(tmp_path: Path, database_url: str | None) -> None:
    ahead, behind = Clock(), Clock()
    behind.now = ahead.now - timedelta(seconds=2)
    ws = open_workspace(tmp_path / ".clearance", database_url, ahead)
    other = _second(ws, behind)
    other.keys = ws.keys  # type: ignore[attr-defined]
    local = load(ws, write_plan_folder(tmp_path / "project"))
    check(ws, local)
    check(other, local)  # recorded 2 s "before" the check it follows
    check(ws, local)
    report = verify_log(ws, None)
    assert report.failures == []
    other.close()
    ws.close()


def test_a_process_with_another_key_records_nothing(
    tmp_path: Path, database_url: str | None
) -> None:
    from fastapi import FastAPI

    from clearance.api.app import create_app
    from clearance.store import repository as repo

    ws = open_workspace(tmp_path / ".clearance", database_url)
    wrong = tmp_path / "wrong.pem"
    SigningKey.generate().save(wrong)
    other = _second(ws, Clock(), workspace_key_file=wrong)
    other.keys = ws.keys  # type: ignore[attr-defined]
    with ws.engine.connect() as conn:
        before = len(repo.event_rows(conn))
    with pytest.raises(IntegrityError, match="current key"):
        declare(other, "staging")
    with ws.engine.connect() as conn:
        assert len(repo.event_rows(conn)) == before
    with pytest.raises(IntegrityError, match="not this workspace's current key"):
        create_app(other.settings)
    assert isinstance(create_app(ws.settings), FastAPI)
    assert verify_log(ws, None).failures == []
    other.close()
    ws.close()


def test_a_missing_key_file_makes_no_new_key_for_a_database_that_has_one(
    tmp_path: Path, database_url: str | None
) -> None:
    ws = open_workspace(tmp_path / ".clearance", database_url)
    moved = _second(ws, Clock(), workspace_key_file=tmp_path / "nowhere.pem")
    with pytest.raises(UsageError, match="point CLEARANCE_WORKSPACE_KEY"):
        moved.create()
    assert not (tmp_path / "nowhere.pem").exists()
    assert verify_log(ws, None).failures == []
    ws.close()
