"""Reading plan files (the client's work): size limit, encoding, paths that are not plan
files, and a target the workspace never declared."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from clearance.errors import PlanError, UsageError
from clearance.services.workspace import Workspace
from tests.builders import declare, load, open_workspace, plan_document, write_plan_folder


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = open_workspace(tmp_path / ".clearance")
    yield workspace
    workspace.close()


def test_plan_over_the_size_limit_is_refused(ws: Workspace, tmp_path: Path) -> None:
    """Refused before it is parsed, as a usage error naming the size and the limit."""
    plan = write_plan_folder(tmp_path / "p")
    small = Workspace(replace(ws.settings, max_plan_bytes=100))
    size = plan.stat().st_size
    with pytest.raises(UsageError, match=rf"plan file is {size:,} bytes, over the 100-byte limit"):
        load(small, plan)


def test_plan_that_is_not_utf8_names_the_line(ws: Workspace, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_bytes(b"apiVersion: clearance/v1\nkind: \xff\n")
    with pytest.raises(PlanError, match=r"plan.yaml:2: not UTF-8 text; save the plan as UTF-8"):
        load(ws, plan)


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.yaml", "no such plan file"), ("folder", "is a folder")],
)
def test_paths_that_are_not_plan_files(
    ws: Workspace, tmp_path: Path, name: str, message: str
) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(UsageError, match=message):
        load(ws, tmp_path / name)


def test_a_target_nobody_declared_is_refused_at_its_position(ws: Workspace, tmp_path: Path) -> None:
    """A plan cannot pick a target of its own (and so escape the policy of the real one):
    PlanError at release.target's line and column until an administrator declares it."""
    document = plan_document()
    document["release"]["target"] = "prod-eu"
    document["environments"]["prod-eu"] = document["environments"].pop("production")
    plan = write_plan_folder(tmp_path / "p", document=document)
    lines = plan.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, start=1) if "target: prod-eu" in text)
    column = lines[line - 1].index("prod-eu") + 1
    with pytest.raises(PlanError) as caught:
        load(ws, plan)
    [problem] = caught.value.problems
    assert (problem.field, problem.line, problem.column) == ("release.target", line, column)
    assert '"prod-eu" is not a declared target environment (declared: production)' in str(problem)
    assert "clearance env declare prod-eu" in problem.message
    declare(ws, "prod-eu")
    assert load(ws, plan).loaded.plan.release.target == "prod-eu"
