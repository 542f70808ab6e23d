"""The demo's story, run against a stand-in for the `clearance` command (the end-to-end
run with the real command lives with the CLI tests)."""

import json
import sys
from pathlib import Path

from clearance.core.loader import parse_plan
from clearance.demo import run_demo
from clearance.demo.files import MARKER

FAKE = [sys.executable, str(Path(__file__).with_name("fake_clearance.py"))]


def _run(directory: Path, monkeypatch=None, fail: str | None = None) -> tuple[int, list[str]]:
    lines: list[str] = []
    if monkeypatch is not None and fail:
        monkeypatch.setenv("FAKE_CLEARANCE_FAIL", fail)
    code = run_demo(directory, lines.append, FAKE)
    return code, lines


def _calls(directory: Path) -> list[dict]:
    log = directory / ".clearance" / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_story_ends_with_go_and_the_audit_pack(story):
    directory, code, lines = story
    assert code == 0, "\n".join(lines)
    assert lines[-3:] == [
        f"Attestation: {directory.absolute() / 'release.intoto.json'}",
        "Decision: GO",
        f"Audit pack: {directory.absolute() / 'audit-pack.zip'}",
    ]


def test_story_runs_the_commands_in_order_in_its_workspace(story):
    directory, _, _ = story
    calls = _calls(directory)
    assert [" ".join(c["args"][:2]) for c in calls] == [
        "env capture",
        "init",
        "plan validate",
        "plan submit",
        "check plan.yaml",
        "keys generate",
        "people add",
        "keys generate",
        "people add",
        "evidence add",
        "reject plan.yaml",
        "check plan.yaml",
        "plan submit",
        "evidence add",
        "approve plan.yaml",
        "approve plan.yaml",
        "check plan.yaml",
        "attestation export",
        "keys workspace",
        "attestation verify",
        "attestation verify",
        "release plan.yaml",
        "status",
        "export plan.yaml",
        "pack verify",
    ]
    assert {c["user"] for c in calls} == {"alice@example.com"}
    approvers = [c["args"][c["args"].index("--as") + 1] for c in calls if c["args"][0] == "approve"]
    assert approvers == ["dana@example.com", "erik@example.com"]


def test_story_prints_each_command_then_its_output(story):
    _, _, lines = story
    check = lines.index("$ clearance check plan.yaml")
    assert lines[check + 1].startswith("NO-GO")
    assert any(
        line.startswith("$ pytest tests_model --junitxml=reports/junit.xml") for line in lines
    )
    assert "$ clearance pack verify audit-pack.zip" in lines


def test_story_leaves_a_valid_plan_and_its_files(story):
    directory, _, _ = story
    plan = parse_plan((directory / "plan.yaml").read_text(), "plan.yaml")
    for path in ("models/model.pkl", "eval/metrics.json", "reports/junit.xml",
                 "env/staging.json", "env/production.yaml", "risks.yaml",
                 "docs/rollback.md", "docs/rollback-rehearsal.json", "change/CHG0042.json",
                 "docs/uat-report.md", "service/score.py", MARKER):  # fmt: skip
        assert (directory / path).is_file(), path
    assert json.loads((directory / "env/staging.json").read_text())["hosting"] == "on-prem"
    assert "{{" not in (directory / "risks.yaml").read_text()
    assert plan.criterion("environments").acknowledge


def test_non_empty_folder_without_marker_is_refused(tmp_path: Path):
    (tmp_path / "precious.txt").write_text("keep me")
    code, lines = _run(tmp_path)
    assert code == 2
    assert "not empty" in lines[-1]
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_a_file_is_refused(tmp_path: Path):
    target = tmp_path / "file"
    target.write_text("x")
    code, lines = _run(target)
    assert code == 2
    assert "is a file" in lines[-1]


def test_previous_demo_folder_is_wiped(tmp_path: Path, monkeypatch):
    directory = tmp_path / "demo"
    directory.mkdir()
    (directory / MARKER).write_text("")
    (directory / "old").mkdir()
    (directory / "old" / "stale.txt").write_text("stale")
    code, _ = _run(directory, monkeypatch, fail="env capture")
    assert code == 3
    assert not (directory / "old").exists()
    assert (directory / MARKER).is_file()


def test_unexpected_exit_code_stops_the_demo_with_a_message(tmp_path: Path, monkeypatch):
    code, lines = _run(tmp_path / "demo", monkeypatch, fail="pack verify")
    assert code == 3
    assert lines[-2] == "error: pack verify failed on purpose"
    assert lines[-1].startswith(
        "Demo stopped: `clearance pack verify audit-pack.zip` exited with 3"
    )
    assert "Decision: GO" not in lines
    assert not any("Traceback" in line for line in lines)


def test_a_command_that_cannot_start_stops_the_demo(tmp_path: Path):
    lines: list[str] = []
    code = run_demo(tmp_path / "demo", lines.append, [str(tmp_path / "no-such-clearance")])
    assert code == 2
    assert lines[-1].startswith("Demo stopped: could not start `clearance env capture")


def test_missing_demo_dependencies_are_named(tmp_path: Path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a)
    )
    lines: list[str] = []
    assert run_demo(tmp_path / "demo", lines.append, FAKE) == 2
    assert "scikit-learn" in lines[-1] and "clearance[demo]" in lines[-1]
    assert not (tmp_path / "demo").exists()
