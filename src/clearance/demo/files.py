"""The demo folder and the files the demo writes into it from its assets.

A folder is only ever wiped when it holds the marker file a previous demo run wrote;
any other non-empty folder is refused.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path

MARKER = ".clearance-demo"
MODEL_TESTS_DIR = "tests_model"
UAT_REPORT = "docs/uat-report.md"
CHANGE_TICKET = "change/CHG0042.json"
REHEARSAL = "docs/rollback-rehearsal.json"


class FolderRefused(Exception):
    """The demo folder cannot be used; the message says why and what to do."""


def prepare_folder(directory: Path) -> Path:
    """Make `directory` an empty demo folder holding the marker, and return its absolute path."""
    root = directory.expanduser().absolute()
    if root.exists() and not root.is_dir():
        raise FolderRefused(f"{root} is a file; give the demo a folder")
    if root.is_dir() and any(root.iterdir()):
        if not (root / MARKER).is_file():
            raise FolderRefused(
                f"{root} is not empty and was not made by `clearance demo`; "
                "choose another folder or empty this one"
            )
        # Empty the folder rather than removing it: it may be the current directory.
        for child in root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(
        "Written by `clearance demo`. Running the demo again deletes everything in this folder.\n"
    )
    return root


def asset_text(name: str) -> str:
    """The text of one of the demo's assets."""
    return (files("clearance.demo") / "assets" / name).read_text(encoding="utf-8")


def dated(text: str, today: date) -> str:
    """Fill `{{days_ago_N}}` and `{{days_ahead_N}}` with ISO dates relative to `today`."""
    for n in range(10):
        text = text.replace(f"{{{{days_ago_{n}}}}}", (today - timedelta(days=n)).isoformat())
        text = text.replace(f"{{{{days_ahead_{n}}}}}", (today + timedelta(days=n)).isoformat())
    if "{{" in text:
        raise ValueError(f"unfilled placeholder in demo asset: {text[text.index('{{') :][:30]}")
    return text


def write_text(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_model_tests(root: Path) -> Path:
    """The model's pytest suite, and a pytest.ini that keeps pytest from picking up any
    configuration or conftest.py of the folders above the demo folder."""
    write_text(root, "pytest.ini", "[pytest]\ntestpaths = tests_model\n")
    return write_text(root, f"{MODEL_TESTS_DIR}/test_model.py", asset_text("test_model.py.txt"))


def write_project_files(root: Path) -> None:
    """Files that exist before the release is planned: the readme and the scoring service."""
    write_text(root, "README.md", asset_text("README.md"))
    write_text(root, "service/score.py", asset_text("score.py.txt"))


def write_release_files(root: Path, today: date) -> None:
    """The files the plan names besides evidence from the pipeline: risk register, rollback
    procedure and rehearsal record, change ticket export. Dates are relative to `today`."""
    write_text(root, "risks.yaml", dated(asset_text("risks.yaml"), today))
    write_text(root, "docs/rollback.md", asset_text("rollback.md"))
    write_text(root, CHANGE_TICKET, dated(asset_text("change-ticket.json"), today))
    write_text(root, REHEARSAL, rehearsal_record(today))


def rehearsal_record(today: date) -> str:
    """A rollback rehearsal two days before `today`, as JSON."""
    record = {
        "procedure": "docs/rollback.md",
        "rehearsed_at": f"{(today - timedelta(days=2)).isoformat()}T14:00:00Z",
        "environment": "staging",
        "performed_by": "bob@example.com",
        "outcome": "success",
        "duration_minutes": 6,
        "notes": "Turned the progression-triage flag off and on again in staging; follow-ups "
        "fell back to calendar order and came back, no errors.",
    }
    return json.dumps(record, indent=2) + "\n"


def write_uat_report(root: Path, today: date) -> Path:
    return write_text(root, UAT_REPORT, dated(asset_text("uat-report.md"), today))
