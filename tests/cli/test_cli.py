"""The real `clearance` command on a real SQLite workspace: exit codes and messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.builders import write_plan_folder

CLEARANCE = str(Path(sys.executable).with_name("clearance"))


def run(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")}
    full_env.update(env or {})
    return subprocess.run(
        [CLEARANCE, *args], cwd=cwd, capture_output=True, text=True, env=full_env, timeout=120
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A workspace with a plan folder and three registered signers, keys in keys/NAME.pem."""
    write_plan_folder(tmp_path)
    assert run(tmp_path, "init").returncode == 0
    for person, role in (
        ("dana@example.com", "model-risk"),
        ("erik@example.com", "eng-manager"),
        ("bob@example.com", "model-risk"),
    ):
        assert run(tmp_path, "keys", "generate", "-o", f"keys/{person}.pem").returncode == 0
        proc = run(
            tmp_path, "people", "add", person, "--role", role, "--key", f"keys/{person}.pem.pub"
        )
        assert proc.returncode == 0, proc.stderr
    return tmp_path


def key(person: str) -> tuple[str, str]:
    return ("--key", f"keys/{person}.pem")


def assert_clean_error(proc: subprocess.CompletedProcess[str], code: int) -> None:
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout


def test_yaml_syntax_error_gives_position_and_exit_2(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("apiVersion: clearance/v1\nkind: DeploymentPlan\nsystem: {id: x, name: [\n")
    proc = run(tmp_path, "plan", "validate", "plan.yaml")
    assert_clean_error(proc, 2)
    assert "plan.yaml:4:1: YAML syntax error" in proc.stderr
    assert "nothing was recorded" in proc.stderr


def test_wrong_type_names_field_and_expectation(tmp_path: Path) -> None:
    write_plan_folder(tmp_path)
    text = (tmp_path / "plan.yaml").read_text().replace("threshold: 0.8", "threshold: high")
    (tmp_path / "plan.yaml").write_text(text)
    proc = run(tmp_path, "plan", "validate", "plan.yaml")
    assert_clean_error(proc, 2)
    line = next(i + 1 for i, t in enumerate(text.splitlines()) if "threshold: high" in t)
    assert f"plan.yaml:{line}:" in proc.stderr
    assert 'criteria[0].threshold: expected a number, got "high"' in proc.stderr


def test_valid_plan_reports_its_revision(tmp_path: Path) -> None:
    write_plan_folder(tmp_path)
    proc = run(tmp_path, "plan", "validate", "plan.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout and "sha256:" in proc.stdout


def test_missing_evidence_is_no_go_exit_1(project: Path) -> None:
    (project / "reports/junit.xml").unlink()
    proc = run(project, "check", "plan.yaml", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["decision"] == "NO-GO"
    assert report["candidate"].startswith("sha256:")
    tests = next(c for c in report["criteria"] if c["id"] == "tests")
    assert tests["status"] == "pending"
    assert set(tests) >= {"id", "kind", "status", "reason", "observed", "expected", "evidence"}


def test_full_story_through_the_command(project: Path, tmp_path: Path) -> None:
    """NO-GO, evidence and two sign-offs, GO, release, status, export, pack verify."""
    assert run(project, "check", "plan.yaml").returncode == 1
    proc = run(
        project,
        "evidence",
        "add",
        "docs/uat.md",
        "--plan",
        "plan.yaml",
        "--criterion",
        "uat",
        "--as",
        "carol@example.com",
        "--role",
        "product-owner",
    )
    assert proc.returncode == 0, proc.stderr
    for role, person in (("model-risk", "dana@example.com"), ("eng-manager", "erik@example.com")):
        proc = run(
            project,
            "approve",
            "plan.yaml",
            "--role",
            role,
            "--as",
            person,
            "-m",
            "ok",
            *key(person),
        )
        assert proc.returncode == 0, proc.stderr
    proc = run(project, "check", "plan.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Decision: GO" in proc.stdout
    proc = run(project, "release", "plan.yaml", "--as", "ops@example.com")
    assert proc.returncode == 0 and "Released credit-scoring 2.4.0 to production" in proc.stdout
    proc = run(project, "status")
    assert "scorer" in proc.stdout and "production" in proc.stdout
    proc = run(project, "export", "plan.yaml", "-o", "pack.zip")
    assert proc.returncode == 0, proc.stderr
    assert run(project, "pack", "verify", "pack.zip").returncode == 0
    assert run(project, "verify").returncode == 0
    proc = run(project, "plan", "history", "credit-scoring")
    assert proc.returncode == 0 and "credit-scoring" in proc.stdout


def test_pack_with_an_altered_byte_exits_3_naming_the_file(project: Path, tmp_path: Path) -> None:
    run(project, "check", "plan.yaml")
    assert run(project, "export", "plan.yaml", "-o", "pack.zip").returncode == 0
    with zipfile.ZipFile(project / "pack.zip") as zf:
        content = {n: zf.read(n) for n in zf.namelist()}
    content["decisions.json"] = content["decisions.json"].replace(b"NO-GO", b"GO   ", 1)
    with zipfile.ZipFile(project / "bad.zip", "w") as zf:
        for name, data in content.items():
            zf.writestr(name, data)
    proc = run(project, "pack", "verify", "bad.zip")
    assert_clean_error(proc, 3)
    assert "decisions.json: sha256 does not match the manifest" in proc.stderr


def test_corrupted_blob_fails_workspace_verify(project: Path) -> None:
    run(project, "check", "plan.yaml")
    blob = next(p for p in (project / ".clearance/blobs/sha256").rglob("*") if p.is_file())
    blob.chmod(0o644)
    blob.write_bytes(b"tampered")
    proc = run(project, "verify")
    assert_clean_error(proc, 3)
    assert blob.name in proc.stderr


def test_release_of_no_go_exits_1_with_reasons(project: Path) -> None:
    proc = run(project, "release", "plan.yaml")
    assert_clean_error(proc, 1)
    assert "NO-GO" in proc.stderr and "signoff" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("evidence", "add", "nope.md", "--plan", "plan.yaml", "--criterion", "uat"),
            "nope.md: no such file",
        ),
        (
            ("evidence", "add", "docs/uat.md", "--plan", "plan.yaml", "--criterion", "nope"),
            'no criterion "nope"',
        ),
        (
            (
                "approve",
                "plan.yaml",
                "--role",
                "ciso",
                "--as",
                "dana@example.com",
                "--key",
                "keys/dana@example.com.pem",
            ),
            'no "ciso" sign-off',
        ),
        (
            (
                "approve",
                "plan.yaml",
                "--role",
                "model-risk",
                "--as",
                "dana@example.com",
                "--key",
                "keys/dana@example.com.pem",
            ),
            "has not been submitted",
        ),
        (("check", "missing.yaml"), "missing.yaml: no such plan file"),
        (("plan", "diff", "zz", "yy"), "is not a revision digest"),
        (("plan", "history", "nosuch"), 'no system "nosuch"'),
        (("export", "plan.yaml", "-o", "p.zip"), "has not been checked yet"),
        (("init", "--template", "nope"), "nope"),
        (("check", "plan.yaml", "--format", "yaml"), "Invalid value for '--format'"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    project: Path, args: tuple[str, ...], message: str
) -> None:
    proc = run(project, *args)
    assert_clean_error(proc, 2)
    assert message in proc.stderr


def test_author_cannot_approve_own_plan(project: Path) -> None:
    """Separation of duties: the person who submitted the plan is refused, exit 2."""
    run(project, "plan", "submit", "plan.yaml", "-m", "First", "--as", "bob@example.com")
    proc = run(
        project,
        "approve",
        "plan.yaml",
        "--role",
        "model-risk",
        "--as",
        "bob@example.com",
        *key("bob@example.com"),
    )
    assert_clean_error(proc, 2)
    assert "bob@example.com wrote or submitted this plan and cannot approve it" in proc.stderr


def test_no_workspace_tells_how_to_create_one(tmp_path: Path) -> None:
    write_plan_folder(tmp_path)
    proc = run(tmp_path, "check", "plan.yaml")
    assert_clean_error(proc, 2)
    assert "run `clearance init`" in proc.stderr


def test_check_formats_for_ci(project: Path) -> None:
    junit = run(project, "check", "plan.yaml", "--format", "junit")
    assert junit.returncode == 1 and "<testsuites>" in junit.stdout
    assert 'name="signoff"' in junit.stdout and "<failure" in junit.stdout
    markdown = run(project, "check", "plan.yaml", "--format", "markdown")
    assert "**NO-GO**" in markdown.stdout and "| signoff | approval |" in markdown.stdout


def test_schema_is_json_schema(tmp_path: Path) -> None:
    proc = run(tmp_path, "schema")
    schema = json.loads(proc.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    assert "criteria" in schema["properties"]


def test_plan_diff_is_semantic(project: Path) -> None:
    first = json.loads(run(project, "check", "plan.yaml", "--format", "json").stdout)
    text = (project / "plan.yaml").read_text().replace("threshold: 0.8", "threshold: 0.85")
    (project / "plan.yaml").write_text(text)
    assert run(project, "plan", "submit", "plan.yaml", "-m", "Raise AUC bar").returncode == 0
    history = json.loads(
        run(project, "plan", "history", "credit-scoring", "--format", "json").stdout
    )
    assert len(history) == 2 and first["candidate"]
    proc = run(project, "plan", "diff", history[0]["digest"][7:19], history[1]["digest"][7:19])
    assert proc.returncode == 0, proc.stderr
    assert "criteria auc: threshold 0.8 -> 0.85" in proc.stdout


def test_every_command_documents_an_example(tmp_path: Path) -> None:
    from clearance.cli.main import COMMANDS

    leaves = [
        "init",
        "schema",
        "plan validate",
        "plan submit",
        "plan history",
        "plan diff",
        "env capture",
        "evidence add",
        "check",
        "approve",
        "reject",
        "release",
        "status",
        "export",
        "pack verify",
        "verify",
        "log checkpoint",
        "log verify",
        "log prove",
        "log show",
        "demo",
        "withdraw",
        "waive",
        "people add",
        "people grant",
        "people revoke",
        "people list",
        "keys generate",
        "keys add",
        "keys retire",
        "keys workspace",
        "policy set",
        "policy show",
        "attestation export",
        "attestation verify",
    ]
    assert {c.split()[0] for c in leaves} == set(COMMANDS)
    for command in leaves:
        proc = run(tmp_path, *command.split(), "--help")
        assert proc.returncode == 0 and "Example:" in proc.stdout, command


def test_env_capture_writes_yaml_or_json(tmp_path: Path) -> None:
    import yaml

    for name in ("env/dev.yaml", "env/dev.json"):
        proc = run(tmp_path, "env", "capture", "dev", "-o", name)
        assert proc.returncode == 0, proc.stderr
        manifest = yaml.safe_load((tmp_path / name).read_text())
        assert manifest["name"] == "dev" and "python" in manifest["runtime"]


def test_export_to_a_folder_is_refused(project: Path) -> None:
    run(project, "check", "plan.yaml")
    (project / "out").mkdir()
    proc = run(project, "export", "plan.yaml", "-o", "out")
    assert_clean_error(proc, 2)
    assert "File 'out' is a directory" in proc.stderr


def test_init_with_template_writes_a_valid_plan(tmp_path: Path) -> None:
    proc = run(tmp_path, "init", "--template", "llm-app")
    assert proc.returncode == 0, proc.stderr
    assert run(tmp_path, "plan", "validate", "plan.yaml").returncode == 0
    again = run(tmp_path, "init", "--template", "llm-app")
    assert_clean_error(again, 2)
    assert "already exist" in again.stderr and "--force" in again.stderr


def test_log_commands(project: Path) -> None:
    """Receipts can be kept and checked; the log pages; a bad kept checkpoint exits 3."""
    import json as _json

    assert run(project, "--receipt", "r.json", "check", "plan.yaml").returncode == 1
    receipt = _json.loads((project / "r.json").read_text())
    assert receipt["seq"] <= receipt["checkpoint"]["size"]
    (project / "kept.json").write_text(_json.dumps(receipt["checkpoint"]))
    proc = run(project, "log", "verify", "--since", "kept.json")
    assert proc.returncode == 0 and "contains the kept checkpoint" in proc.stdout
    page = run(project, "log", "show", "--limit", "2")
    assert [_json.loads(line)["seq"] for line in page.stdout.splitlines()] == [1, 2]
    assert "more: clearance log show --after 2" in page.stderr
    proof = _json.loads(run(project, "log", "prove", "1").stdout)
    assert proof["leaf_index"] == 0 and proof["inclusion_path"]
    forged = {**receipt["checkpoint"], "root": "00" * 32}
    (project / "forged.json").write_text(_json.dumps(forged))
    proc = run(project, "log", "verify", "--since", "forged.json")
    assert_clean_error(proc, 3)
    assert "the kept checkpoint has a different root" in proc.stderr
    assert_clean_error(run(project, "log", "prove", "999"), 2)


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ((), ("people", "add", "dana@example.com", "--role", "x"), "already registered"),
        ((), ("keys", "generate", "-o", "keys/dana@example.com.pem"), "is never overwritten"),
        ((), ("people", "add", "zoe", "--role", "bad role!"), "is not a role"),
        ((), ("policy", "set", "missing.yaml"), "no such policy file"),
        (
            (),
            (
                "waive",
                "plan.yaml",
                "--criterion",
                "auc",
                "--as",
                "dana@example.com",
                "--role",
                "model-risk",
                "-m",
                "x",
                "--expires",
                "7d",
                "--key",
                "keys/dana@example.com.pem",
            ),
            "no policy rule lets anyone waive it",
        ),
        (
            (("check", "plan.yaml"),),
            ("attestation", "export", "plan.yaml", "-o", "a.json"),
            "has no GO decision",
        ),
        (
            (("check", "plan.yaml"),),
            (
                "withdraw",
                "plan.yaml",
                "--role",
                "model-risk",
                "--as",
                "dana@example.com",
                "--key",
                "keys/dana@example.com.pem",
            ),
            "no standing rejection",
        ),
        (
            (),
            (
                "attestation",
                "verify",
                "plan.yaml",
                "--subject",
                "sha256:" + "0" * 64,
                "--key",
                "plan.yaml",
            ),
            "expected an Ed25519 public key",
        ),
    ],
)
def test_sign_off_commands_refuse_bad_input(
    project: Path, setup: tuple, args: tuple, message: str
) -> None:
    for step in setup:
        run(project, *step)
    proc = run(project, *args)
    assert_clean_error(proc, 2)
    assert message in proc.stderr


def test_invalid_policy_names_file_line_and_column(project: Path) -> None:
    (project / "policy.yaml").write_text(
        "apiVersion: clearance/v1\nkind: Policy\ntargets:\n  production:\n    criteria:\n"
        "      - {id: tests, kind: tests, min_tests: many}\n"
    )
    proc = run(project, "policy", "set", "policy.yaml")
    assert_clean_error(proc, 2)
    assert "policy.yaml:6:" in proc.stderr and "expected a whole number" in proc.stderr


def test_forged_attestation_exits_3(project: Path) -> None:
    """A well-formed attestation signed by another key is refused by the deploy check."""
    run(project, "keys", "generate", "-o", "other.pem")
    proc = run(
        project,
        "attestation",
        "verify",
        "plan.yaml",
        "--subject",
        "sha256:" + "0" * 64,
        "--key",
        "other.pem.pub",
    )
    assert_clean_error(proc, 3)


def test_kept_files_that_are_not_checkpoints_exit_2(project: Path) -> None:
    run(project, "check", "plan.yaml")
    run(project, "export", "plan.yaml", "-o", "pack.zip")
    (project / "junk.json").write_text('{"format": "other"}')
    for args in (
        ("log", "verify", "--since", "junk.json"),
        ("pack", "verify", "pack.zip", "--checkpoint", "junk.json"),
    ):
        proc = run(project, *args)
        assert_clean_error(proc, 2)
        assert "junk.json: " in proc.stderr and "checkpoint" in proc.stderr
