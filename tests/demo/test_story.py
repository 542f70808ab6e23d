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


def _command(call: dict) -> list[str]:
    """The call's arguments after the global `--identity KEY` option."""
    args = call["args"]
    return args[2:] if args[:1] == ["--identity"] else args


def test_story_ends_with_go_the_workspace_key_and_the_audit_pack(story):
    directory, code, lines = story
    assert code == 0, "\n".join(lines)
    assert lines[-4:] == [
        f"Attestation: {directory.absolute() / 'release.intoto.json'}",
        "Decision: GO",
        f"Workspace key: {directory.absolute() / 'keys/clearance-workspace.pub'}",
        f"Audit pack: {directory.absolute() / 'audit-pack.zip'}",
    ]


def test_story_runs_the_commands_in_order_in_its_workspace(story):
    """The target is declared before the plan is submitted; every sign-off follows a check
    of the evidence as it then stands."""
    directory, _, _ = story
    calls = _calls(directory)
    assert [" ".join(_command(c)[:2]) for c in calls] == [
        "env capture",
        "init",
        "env declare",
        "policy set",
        "plan validate",
        "plan submit",
        "check plan.yaml",
        "keys generate",
        "people add",
        "keys generate",
        "people add",
        "keys generate",
        "people add",
        "keys generate",
        "people add",
        "keys generate",
        "people add",
        "evidence add",
        "check plan.yaml",
        "reject plan.yaml",
        "check plan.yaml",
        "plan submit",
        "evidence add",
        "check plan.yaml",
        "finding accept",
        "acknowledge plan.yaml",
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
    assert calls[2]["args"][:3] == ["env", "declare", "production"]


def test_story_signs_as_each_person_with_their_own_key(story):
    """The people who sign off are registered with their roles and public keys; evidence
    and sign-offs are signed with their own private keys, everything else by the admin."""
    directory, _, _ = story
    calls = _calls(directory)
    added = [_command(c) for c in calls if _command(c)[:2] == ["people", "add"]]
    assert [(a[2], a[a.index("--role") + 1], a[a.index("--public-key") + 1]) for a in added] == [
        ("dana@example.com", "model-risk", "keys/dana.pem.pub"),
        ("erik@example.com", "eng-manager", "keys/erik.pem.pub"),
        ("carol@example.com", "product-owner", "keys/carol.pem.pub"),
        ("sam@example.com", "security", "keys/sam.pem.pub"),
        ("paula@example.com", "patients-representative", "keys/paula.pem.pub"),
    ]
    signed = [(_command(c)[0], c["identity"]) for c in calls if c["identity"] is not None]
    assert signed == [
        ("evidence", "keys/carol.pem"),
        ("reject", "keys/dana.pem"),
        ("evidence", "keys/carol.pem"),
        ("finding", "keys/sam.pem"),
        ("acknowledge", "keys/paula.pem"),
        ("approve", "keys/dana.pem"),
        ("approve", "keys/erik.pem"),
    ]
    assert all("--as" not in c["args"] for c in calls)


def test_story_pins_the_workspace_key_when_verifying(story):
    directory, _, _ = story
    calls = [_command(c) for c in _calls(directory)]
    written = next(c for c in calls if c[:2] == ["keys", "workspace"])
    assert written[written.index("-o") + 1] == "keys/clearance-workspace.pub"
    verified = [c for c in calls if c[1:2] == ["verify"]]
    assert len(verified) == 3
    assert all(c[c.index("--key") + 1] == "keys/clearance-workspace.pub" for c in verified)


def test_story_prints_each_command_then_its_output(story):
    _, _, lines = story
    check = lines.index("$ clearance check plan.yaml")
    assert lines[check + 1].startswith("NO-GO")
    assert any(
        line.startswith("$ pytest tests_model --junitxml=reports/junit.xml") for line in lines
    )
    assert "$ clearance pack verify audit-pack.zip --key keys/clearance-workspace.pub" in lines


def test_story_leaves_a_valid_plan_and_its_files(story):
    directory, _, _ = story
    plan = parse_plan((directory / "plan.yaml").read_text(), "plan.yaml")
    for path in ("models/model.pkl", "eval/metrics.json", "reports/junit.xml",
                 "env/staging.json", "env/production.yaml", "risks.yaml",
                 "docs/rollback.md", "docs/rollback-rehearsal.json", "change/CHG0042.json",
                 "docs/uat-report.md", "service/score.py", "reports/bandit.sarif",
                 "policy.yaml", MARKER):  # fmt: skip
        assert (directory / path).is_file(), path
    assert json.loads((directory / "env/staging.json").read_text())["hosting"] == "on-prem"
    assert "{{" not in (directory / "risks.yaml").read_text()
    assert plan.criterion("environments").acknowledge
    assert plan.interested_parties[0].acknowledged_by == "patients-representative"


def test_story_scans_the_scoring_service_and_accepts_its_finding_with_an_expiry(story):
    """Bandit writes the SARIF the plan names; security accepts the one finding it reports,
    named as the report names it, with an expiry; the patients' representative acknowledges
    their party by its name in the plan."""
    directory, _, lines = story
    assert "$ bandit -r service -f sarif -o reports/bandit.sarif --exit-zero -q" in lines
    report = json.loads((directory / "reports/bandit.sarif").read_text())
    b301 = next(r for r in report["runs"][0]["results"] if r["ruleId"] == "B301")
    line = b301["locations"][0]["physicalLocation"]["region"]["startLine"]
    accepted = next(_command(c) for c in _calls(directory) if _command(c)[0] == "finding")
    assert accepted[accepted.index("--location") + 1] == f"service/score.py:{line}"
    assert accepted[accepted.index("--role") + 1] == "security"
    assert accepted[accepted.index("--expires") + 1] == "30d"
    party = next(_command(c) for c in _calls(directory) if _command(c)[0] == "acknowledge")
    assert party[party.index("--party") + 1] == "Patients with type 2 diabetes"


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
        "Demo stopped: `clearance pack verify audit-pack.zip --key keys/clearance-workspace.pub` "
        "exited with 3"
    )
    assert "Decision: GO" not in lines and not any(line.startswith("Audit pack:") for line in lines)
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
