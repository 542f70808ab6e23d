"""Evidence that follows the work, through the command: an identical `pytest --junitxml`
rerun keeps GO, a real change says which file changed and how, and a missing file is
reported with the date of the attached copy used instead (terminal and JSON)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.builders import junit, write_plan_folder
from tests.cli.harness import Completed, invoke

ADMIN = "ops@example.com"
WIDE = {"COLUMNS": "1000"}  # one line per table row, so reasons can be searched whole
Run = Callable[..., Completed]


@pytest.fixture
def run(tmp_path: Path, database_url: str | None) -> Run:
    env = {"CLEARANCE_HOME": str(tmp_path / "home"), "CLEARANCE_USER": ADMIN, **WIDE}
    if database_url:
        env["CLEARANCE_DATABASE_URL"] = database_url

    def run(cwd: Path, *args: str) -> Completed:
        return invoke(cwd, *args, env=env)

    return run


@pytest.fixture
def project(tmp_path: Path, run: Run) -> Path:
    write_plan_folder(tmp_path)
    assert run(tmp_path, "init").returncode == 0
    assert run(tmp_path, "env", "declare", "production").returncode == 0
    return tmp_path


def signed_off(project: Path, run: Run) -> None:
    """User testing attested by carol, sign-offs by dana and erik: GO."""
    for person, role in (
        ("dana@example.com", "model-risk"),
        ("erik@example.com", "eng-manager"),
        ("carol@example.com", "product-owner"),
    ):
        assert run(project, "keys", "generate", "-o", f"keys/{person}.pem").returncode == 0
        added = run(
            project,
            "people",
            "add",
            person,
            "--role",
            role,
            "--public-key",
            f"keys/{person}.pem.pub",
        )
        assert added.returncode == 0, added.stderr
    assert run(project, "check", "plan.yaml").returncode == 1
    attest = run(
        project,
        *("evidence", "add", "docs/uat.md", "--plan", "plan.yaml", "--criterion", "uat"),
        *("--role", "product-owner", "--key", "keys/carol@example.com.pem"),
    )
    assert attest.returncode == 0, attest.stderr
    for role, person in (("model-risk", "dana@example.com"), ("eng-manager", "erik@example.com")):
        proc = run(
            project,
            "approve",
            "plan.yaml",
            "--role",
            role,
            "-m",
            "ok",
            "--key",
            f"keys/{person}.pem",
        )
        assert proc.returncode == 0, proc.stderr
    assert run(project, "check", "plan.yaml").returncode == 0


def test_an_identical_junit_rerun_keeps_go_and_a_new_test_says_what_changed(
    project: Path, run: Run
) -> None:
    signed_off(project, run)
    report = project / "reports/junit.xml"
    text = report.read_text().replace("2026-11-01T10:00:00", "2026-11-02T07:59:03")
    report.write_text(re.sub(r'time="[0-9.]+"', 'time="0.37"', text).replace('"ci"', '"runner-2"'))
    again = run(project, "check", "plan.yaml")
    assert again.returncode == 0, again.stdout
    assert "before the evidence changed" not in again.stdout
    report.write_text(junit(13))
    changed = run(project, "check", "plan.yaml")
    assert changed.returncode == 1
    assert (
        "approval by dana@example.com (model-risk) was given before the evidence changed "
        "(reports/junit.xml changed: 1 test added (tests_model.test_model.test_12))"
    ) in changed.stdout


def test_a_missing_file_is_reported_with_the_attached_copy_used(project: Path, run: Run) -> None:
    assert run(project, "check", "plan.yaml").returncode == 1
    (project / "eval/metrics.json").unlink()
    shown = run(project, "check", "plan.yaml")
    said = "eval/metrics.json was not found when the gate ran, so the copy attached on "
    assert said in shown.stdout
    as_json = run(project, "check", "plan.yaml", "--format", "json")
    auc = next(c for c in json.loads(as_json.stdout)["criteria"] if c["id"] == "auc")
    assert auc["status"] == "passed"
    assert re.search(
        re.escape(said) + r"\d{4}-\d\d-\d\d \d\d:\d\d UTC by ops@example.com", auc["reason"]
    )
