"""Reading plan files: size limit, encoding, and paths that are not plan files."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearance.errors import PlanError, UsageError
from clearance.services.plans import load_plan
from clearance.settings import Settings
from tests.builders import write_plan_folder


def test_plan_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    plan = write_plan_folder(tmp_path)
    settings = Settings(workspace=tmp_path / ".clearance", max_plan_bytes=100)
    with pytest.raises(PlanError, match=r"bytes is over the 100-byte limit for a plan"):
        load_plan(plan, settings)


def test_plan_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_bytes(b"apiVersion: clearance/v1\nkind: \xff\n")
    with pytest.raises(PlanError, match=r"plan.yaml:2: not UTF-8 text; save the plan as UTF-8"):
        load_plan(plan, Settings(workspace=tmp_path))


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.yaml", "no such plan file"), ("folder", "is a folder")],
)
def test_paths_that_are_not_plan_files(tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(UsageError, match=message):
        load_plan(tmp_path / name, Settings(workspace=tmp_path))
