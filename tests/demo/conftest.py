"""Fixtures for the demo tests: a trained folder and a whole demo run against the stand-in
command, each made once and shared by the tests that only read them."""

import sys
from pathlib import Path

import pytest

from clearance.demo import run_demo
from clearance.demo.model import train_and_evaluate

FAKE_CLEARANCE = [sys.executable, str(Path(__file__).with_name("fake_clearance.py"))]


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A folder with the demo's model, holdout set and metrics, and the metrics returned."""
    root = tmp_path_factory.mktemp("trained")
    return root, train_and_evaluate(root)


@pytest.fixture(scope="session")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, list[str]]:
    """A demo folder after the whole story, the demo's exit code and the lines it printed."""
    directory = tmp_path_factory.mktemp("story") / "clearance-demo"
    lines: list[str] = []
    code = run_demo(directory, lines.append, FAKE_CLEARANCE)
    return directory, code, lines
