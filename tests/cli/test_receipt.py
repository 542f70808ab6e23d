"""`--receipt FILE`: the receipt of a command's write lands in FILE, its folder created if
need be; a FILE that could not be written is refused (exit 2) before the command runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import click
import click.testing
import pytest

from clearance.cli.main import _write_receipt, cli, main
from clearance.cli.output import console
from clearance.errors import UsageError
from tests.builders import write_plan_folder


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder, with no CLEARANCE_ settings from the environment."""
    for name in list(os.environ):
        if name.startswith("CLEARANCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLEARANCE_USER", "alice@example.com")
    monkeypatch.setenv("CLEARANCE_HOME", str(tmp_path / ".home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> tuple[int, str, str]:
    """Run `clearance ARGS` in this process: exit code, stdout, stderr."""
    console.cache_clear()
    with click.testing.CliRunner().isolation() as (out, err, _):
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
        return int(exit_.value.code or 0), out.getvalue().decode(), err.getvalue().decode()


def test_receipt_into_a_missing_folder_creates_it(here: Path) -> None:
    """The folders are created and the receipt is whole JSON, with no temporary file left."""
    code, _, err = run("--receipt", "deep/new/r.json", "init")
    assert code == 0, err
    receipt = json.loads((here / "deep/new/r.json").read_text())
    assert receipt["seq"] >= 1 and receipt["checkpoint"]["size"] >= receipt["seq"]
    assert sorted(p.name for p in (here / "deep/new").iterdir()) == ["r.json"]


def test_receipt_replaces_an_existing_file_with_the_new_receipt(here: Path) -> None:
    write_plan_folder(here)
    assert run("--receipt", "out/r.json", "init")[0] == 0
    first = json.loads((here / "out/r.json").read_text())
    assert run("env", "declare", "production")[0] == 0
    code, _, err = run("--receipt", "out/r.json", "plan", "submit", "plan.yaml", "-m", "first")
    assert code == 0, err
    second = json.loads((here / "out/r.json").read_text())
    assert second["seq"] > first["seq"]
    assert sorted(p.name for p in (here / "out").iterdir()) == ["r.json"]


def test_receipt_under_a_file_is_refused_before_the_command_runs(here: Path) -> None:
    """A file where a folder must be created: exit 2, and no workspace was created."""
    (here / "deep").write_text("in the way\n")
    code, _, err = run("--receipt", "deep/new/r.json", "init")
    assert code == 2
    assert "deep is a file, not a folder" in err and "give a path in a folder" in err
    assert "internal error" not in err
    assert not (here / ".clearance").exists()


def test_receipt_that_is_a_folder_is_refused(here: Path) -> None:
    (here / "receipts").mkdir()
    code, _, err = run("--receipt", "receipts", "init")
    assert code == 2 and "is a directory" in err
    assert not (here / ".clearance").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_receipt_in_a_folder_without_write_permission_is_refused(here: Path) -> None:
    locked = here / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, _, err = run("--receipt", "locked/new/r.json", "init")
    finally:
        locked.chmod(0o755)
    assert code == 2 and "permission denied" in err
    assert not (here / ".clearance").exists()


def test_receipt_that_cannot_be_written_after_the_write_is_shown_instead(here: Path) -> None:
    """If the folder becomes impossible to create while the command runs, the error (exit 2)
    says the write was recorded and carries the receipt, so it is not lost."""
    (here / "deep").write_text("appeared while the command ran\n")
    ctx = click.Context(cli)
    receipt = SimpleNamespace(as_json=lambda: {"seq": 7, "checkpoint": {"size": 7}})
    ctx.meta["clearance.workspace"] = SimpleNamespace(last_receipt=receipt)
    with pytest.raises(UsageError) as error:
        _write_receipt(ctx, here / "deep/new/r.json")
    assert error.value.exit_code == 2
    assert "write was recorded" in error.value.message
    assert '"seq": 7' in error.value.message


def test_no_receipt_file_when_the_command_wrote_nothing(here: Path) -> None:
    write_plan_folder(here)
    code, _, err = run("--receipt", "deep/r.json", "plan", "validate", "plan.yaml")
    assert code == 0, err
    assert not (here / "deep/r.json").exists()
