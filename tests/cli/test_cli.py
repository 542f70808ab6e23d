"""The `clearance` command on a real workspace: exit codes and messages.

Most tests run the command in-process (tests/cli/harness.py); a few smoke tests start the
real executable. Tests that write records run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.builders import write_plan_folder
from tests.cli.harness import Completed, invoke, is_ambient

CLEARANCE = str(Path(sys.executable).with_name("clearance"))
#: runs `init`, so is the workspace's first administrator (and its default identity)
ADMIN = "ops@example.com"
Run = Callable[..., Completed]


def run_process(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real `clearance` executable, with no CLEARANCE_* setting but `env`."""
    full_env = {k: v for k, v in os.environ.items() if not is_ambient(k)}
    full_env.update(env or {})
    return subprocess.run(
        [CLEARANCE, *args], cwd=cwd, capture_output=True, text=True, env=full_env, timeout=120
    )


@pytest.fixture
def database_env(database_url: str | None) -> dict[str, str]:
    """The command's settings for this test's database (none for the workspace's SQLite)."""
    return {"CLEARANCE_DATABASE_URL": database_url} if database_url else {}


@pytest.fixture
def command_env(tmp_path: Path, database_env: dict[str, str]) -> dict[str, str]:
    """This test's database, identity keys kept under tmp_path, and `init` run by ops."""
    return {"CLEARANCE_HOME": str(tmp_path / "home"), "CLEARANCE_USER": ADMIN, **database_env}


@pytest.fixture
def run(command_env: dict[str, str]) -> Run:
    """`clearance ARGS` in-process, on this test's database."""

    def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Completed:
        return invoke(cwd, *args, env={**command_env, **(env or {})})

    return run


@pytest.fixture
def project(tmp_path: Path, run: Run) -> Path:
    """A workspace run by ADMIN with the production target declared and four registered
    signers, keys in keys/NAME.pem."""
    write_plan_folder(tmp_path)
    assert run(tmp_path, "init").returncode == 0
    assert run(tmp_path, "env", "declare", "production").returncode == 0
    for person, role in (
        ("dana@example.com", "model-risk"),
        ("erik@example.com", "eng-manager"),
        ("bob@example.com", "model-risk"),
        ("carol@example.com", "product-owner"),
    ):
        assert run(tmp_path, "keys", "generate", "-o", f"keys/{person}.pem").returncode == 0
        proc = run(
            tmp_path,
            *("people", "add", person, "--role", role),
            *("--public-key", f"keys/{person}.pem.pub"),
        )
        assert proc.returncode == 0, proc.stderr
    return tmp_path


def key(person: str) -> tuple[str, str]:
    return ("--key", f"keys/{person}.pem")


def assert_clean_error(proc: Completed | subprocess.CompletedProcess[str], code: int) -> None:
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout


def test_yaml_syntax_error_gives_position_and_exit_2(tmp_path: Path) -> None:
    """The real executable maps a plan error to exit 2 with the position, no traceback."""
    plan = tmp_path / "plan.yaml"
    plan.write_text("apiVersion: clearance/v1\nkind: DeploymentPlan\nsystem: {id: x, name: [\n")
    proc = run_process(tmp_path, "plan", "validate", "plan.yaml")
    assert_clean_error(proc, 2)
    assert "plan.yaml:4:1: YAML syntax error" in proc.stderr
    assert "nothing was recorded" in proc.stderr


def test_wrong_type_names_field_and_expectation(tmp_path: Path) -> None:
    write_plan_folder(tmp_path)
    text = (tmp_path / "plan.yaml").read_text().replace("threshold: 0.8", "threshold: high")
    (tmp_path / "plan.yaml").write_text(text)
    proc = invoke(tmp_path, "plan", "validate", "plan.yaml")
    assert_clean_error(proc, 2)
    line = next(i + 1 for i, t in enumerate(text.splitlines()) if "threshold: high" in t)
    assert f"plan.yaml:{line}:" in proc.stderr
    assert 'criteria[0].threshold: expected a number, got "high"' in proc.stderr


def test_valid_plan_reports_its_revision(tmp_path: Path) -> None:
    write_plan_folder(tmp_path)
    proc = invoke(tmp_path, "plan", "validate", "plan.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout and "sha256:" in proc.stdout


def test_missing_evidence_is_no_go_exit_1(project: Path, command_env: dict[str, str]) -> None:
    """The real executable exits 1 on NO-GO, with the JSON report on stdout."""
    (project / "reports/junit.xml").unlink()
    proc = run_process(project, "check", "plan.yaml", "--format", "json", env=command_env)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["decision"] == "NO-GO"
    assert report["candidate"].startswith("sha256:")
    tests = next(c for c in report["criteria"] if c["id"] == "tests")
    assert tests["status"] == "pending"
    assert set(tests) >= {"id", "kind", "status", "reason", "observed", "expected", "evidence"}


def test_full_story_through_the_command(project: Path, run: Run, tmp_path: Path) -> None:
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
        "--role",
        "product-owner",
        *key("carol@example.com"),
    )
    assert proc.returncode == 0, proc.stderr
    for role, person in (("model-risk", "dana@example.com"), ("eng-manager", "erik@example.com")):
        proc = run(
            project,
            "approve",
            "plan.yaml",
            "--role",
            role,
            "-m",
            "ok",
            *key(person),
        )
        assert proc.returncode == 0, proc.stderr
    proc = run(project, "check", "plan.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Decision: GO" in proc.stdout
    proc = run(project, "release", "plan.yaml")
    assert proc.returncode == 0 and "Released credit-scoring 2.4.0 to production" in proc.stdout
    proc = run(project, "status")
    assert "scorer" in proc.stdout and "production" in proc.stdout
    proc = run(project, "export", "plan.yaml", "-o", "pack.zip")
    assert proc.returncode == 0, proc.stderr
    assert run(project, "keys", "workspace", "-o", "workspace.pub").returncode == 0
    assert run(project, "pack", "verify", "pack.zip", "--key", "workspace.pub").returncode == 0
    assert run(project, "verify").returncode == 0
    proc = run(project, "plan", "history", "credit-scoring")
    assert proc.returncode == 0 and "credit-scoring" in proc.stdout


def test_pack_with_an_altered_byte_exits_3_naming_the_file(
    project: Path, run: Run, tmp_path: Path
) -> None:
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


def test_corrupted_blob_fails_workspace_verify(project: Path, run: Run) -> None:
    metrics = project / "eval/metrics.json"  # over the size held in the database
    metrics.write_text(metrics.read_text() + " " * (64 << 10))
    run(project, "check", "plan.yaml")
    blob = next(p for p in (project / ".clearance/blobs/sha256").rglob("*") if p.is_file())
    blob.chmod(0o644)
    blob.write_bytes(b"tampered")
    proc = run(project, "verify")
    assert_clean_error(proc, 3)
    assert blob.name in proc.stderr


def test_corrupted_database_blob_fails_workspace_verify(
    project: Path, run: Run, database_url: str | None
) -> None:
    """Small evidence is held in the database: rewritten there, `verify` exits 3 naming it."""
    from clearance.services.workspace import Workspace
    from clearance.settings import Settings
    from tests.services.test_small_blobs import held_in_database, tamper

    run(project, "check", "plan.yaml")
    ws = Workspace(Settings(workspace=project / ".clearance", database_url=database_url))
    digest = next(iter(held_in_database(ws)))
    tamper(ws, digest, b"tampered")
    ws.close()
    proc = run(project, "verify")
    assert_clean_error(proc, 3)
    assert digest in proc.stderr and "does not match its name" in proc.stderr


def test_release_of_no_go_exits_1_with_reasons(project: Path, run: Run) -> None:
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
                "model-risk",
                "--key",
                "keys/dana@example.com.pem",
            ),
            "has not been submitted",
        ),
        (("check", "missing.yaml"), "missing.yaml: no such plan file"),
        (("plan", "diff", "zz", "yy"), "is neither a plan file nor a revision digest"),
        (("plan", "history", "nosuch"), 'no system "nosuch"'),
        (("export", "plan.yaml", "-o", "p.zip"), "has not been checked yet"),
        (("init", "--template", "nope"), "nope"),
        (("check", "plan.yaml", "--format", "yaml"), "Invalid value for '--format'"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    project: Path, run: Run, args: tuple[str, ...], message: str
) -> None:
    proc = run(project, *args)
    assert_clean_error(proc, 2)
    assert message in proc.stderr


def test_author_cannot_approve_own_plan(project: Path, run: Run) -> None:
    """Separation of duties: the person who submitted the plan is refused, exit 77."""
    run(project, "plan", "submit", "plan.yaml", "-m", "First", *key("bob@example.com"))
    proc = run(
        project,
        "approve",
        "plan.yaml",
        "--role",
        "model-risk",
        *key("bob@example.com"),
    )
    assert_clean_error(proc, 77)
    assert "bob@example.com owns, wrote or submitted this plan and cannot approve it" in proc.stderr


def test_no_workspace_tells_how_to_create_one(tmp_path: Path) -> None:
    write_plan_folder(tmp_path)
    proc = invoke(tmp_path, "check", "plan.yaml")
    assert_clean_error(proc, 2)
    assert "run `clearance init`" in proc.stderr


def test_check_formats_for_ci(project: Path, run: Run) -> None:
    junit = run(project, "check", "plan.yaml", "--format", "junit")
    assert junit.returncode == 1 and "<testsuites>" in junit.stdout
    assert 'name="signoff"' in junit.stdout and "<failure" in junit.stdout
    markdown = run(project, "check", "plan.yaml", "--format", "markdown")
    assert "**NO-GO**" in markdown.stdout and "| signoff | approval |" in markdown.stdout


def test_schema_is_json_schema(tmp_path: Path) -> None:
    proc = invoke(tmp_path, "schema")
    schema = json.loads(proc.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    assert "criteria" in schema["properties"]


def test_plan_diff_is_semantic(project: Path, run: Run) -> None:
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


def test_in_process_runs_match_the_real_command(tmp_path: Path) -> None:
    """The in-process harness stands in faithfully: same exit code, stdout and stderr."""
    write_plan_folder(tmp_path)
    for args in (("plan", "validate", "plan.yaml"), ("check", "plan.yaml")):
        inside, real = invoke(tmp_path, *args), run_process(tmp_path, *args)
        assert (inside.returncode, inside.stdout, inside.stderr) == (
            real.returncode,
            real.stdout,
            real.stderr,
        ), args


def test_help_imports_no_heavy_library(tmp_path: Path) -> None:
    """`clearance --help` in a real process lists the commands without importing click, the
    store, Rich or pydantic, so it stays fast; the page is the one click writes."""
    proc = run_process(tmp_path, "--help", env={"PYTHONPROFILEIMPORTTIME": "1", "COLUMNS": "77"})
    assert proc.returncode == 0, proc.stderr
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "clearance.cli.helptext" in imported
    heavy = {"click", "sqlalchemy", "alembic", "rich", "pydantic", "yaml", "cryptography"}
    assert not imported & (heavy | {"clearance.errors", "pathlib", "shutil"})
    assert proc.stdout == click_help(75) + "\n"
    assert run_process(tmp_path, "-h", env={"COLUMNS": "77"}).stdout == proc.stdout
    bare = run_process(tmp_path, env={"COLUMNS": "77"})  # click's: the page, as usage, exit 2
    assert (bare.returncode, bare.stderr) == (2, proc.stdout)


def click_help(width: int) -> str:
    """The top-level help page as click writes it at `width` columns."""
    import click

    from clearance.cli.main import cli

    settings = {**cli.context_settings, "terminal_width": width}
    return click.Context(cli, info_name="clearance", **settings).get_help()


@pytest.mark.parametrize("width", range(50, 99))
def test_the_help_page_without_click_is_clicks_page(width: int) -> None:
    """`clearance --help` writes the page itself (helptext.render): at every width click can
    choose (50 to 98 columns) it is click's page to the character."""
    from clearance.cli.helptext import render

    assert render(width) == click_help(width)


@pytest.mark.parametrize("columns", ["40", "80", "100", "160", "", "abc"])
def test_help_is_as_wide_as_clicks_own(columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The help's width is worked out without shutil, to the same result as click."""
    import click

    from clearance.cli.main import _Context, cli

    monkeypatch.setenv("COLUMNS", columns)
    ours = _Context(cli, max_content_width=100).make_formatter()
    clicks = click.Context(cli, max_content_width=100).make_formatter()
    assert ours.width == clicks.width


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
        "env declare",
        "env list",
        "evidence add",
        "check",
        "approve",
        "reject",
        "release",
        "status",
        "history",
        "export",
        "pack verify",
        "verify",
        "log checkpoint",
        "log verify",
        "log prove",
        "log show",
        "log consistency",
        "demo",
        "withdraw",
        "waive",
        "waiver revoke",
        "finding list",
        "finding accept",
        "acknowledge",
        "db upgrade",
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
        "attestation revoke",
        "attestation revocations",
        "serve",
        "tokens create",
        "tokens list",
        "tokens revoke",
        "share create",
        "share list",
        "share show",
        "share revoke",
        "webhooks add",
        "webhooks remove",
        "webhooks list",
        "webhooks deliver",
    ]
    assert {c.split()[0] for c in leaves} == set(COMMANDS)
    for command in leaves:
        proc = invoke(tmp_path, *command.split(), "--help")
        assert proc.returncode == 0, command
        assert "Example:" in proc.stdout or "Examples:" in proc.stdout, command


def test_env_capture_writes_yaml_or_json(tmp_path: Path) -> None:
    import yaml

    for name in ("env/dev.yaml", "env/dev.json"):
        proc = invoke(tmp_path, "env", "capture", "dev", "-o", name)
        assert proc.returncode == 0, proc.stderr
        manifest = yaml.safe_load((tmp_path / name).read_text())
        assert manifest["name"] == "dev" and "python" in manifest["runtime"]


def test_export_to_a_folder_is_refused(project: Path, run: Run) -> None:
    run(project, "check", "plan.yaml")
    (project / "out").mkdir()
    proc = run(project, "export", "plan.yaml", "-o", "out")
    assert_clean_error(proc, 2)
    assert "File 'out' is a directory" in proc.stderr


def test_init_with_template_writes_a_valid_plan(tmp_path: Path) -> None:
    home = {"CLEARANCE_HOME": str(tmp_path / "home")}
    proc = invoke(tmp_path, "init", "--template", "llm-app", env=home)
    assert proc.returncode == 0, proc.stderr
    assert invoke(tmp_path, "plan", "validate", "plan.yaml").returncode == 0
    again = invoke(tmp_path, "init", "--template", "llm-app", env=home)
    assert_clean_error(again, 2)
    assert "already exist" in again.stderr and "--force" in again.stderr


def test_log_commands(project: Path, run: Run) -> None:
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
    origin, size, _, rest = receipt["checkpoint"]["note"].split("\n", 3)
    forged = f"{origin}\n{size}\n{'A' * 43}=\n{rest}"  # another root, the signatures kept
    (project / "forged.json").write_text(forged)
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
            (("check", "plan.yaml"),),
            ("approve", "plan.yaml", "--role", "ciso", "--key", "keys/dana@example.com.pem"),
            'no "ciso" sign-off',
        ),
        (
            (("check", "plan.yaml"),),
            (
                "waive",
                "plan.yaml",
                "--criterion",
                "auc",
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
            (
                "withdraw",
                "plan.yaml",
                "--role",
                "model-risk",
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
    project: Path, run: Run, setup: tuple, args: tuple, message: str
) -> None:
    for step in setup:
        run(project, *step)
    proc = run(project, *args)
    assert_clean_error(proc, 2)
    assert message in proc.stderr


def test_attestation_of_a_no_go_candidate_exits_1(project: Path, run: Run) -> None:
    """There is nothing to attest until the gate says GO: exit 1, saying what to run."""
    run(project, "check", "plan.yaml")
    proc = run(project, "attestation", "export", "plan.yaml", "-o", "a.json")
    assert_clean_error(proc, 1)
    assert "there is no attestation to export" in proc.stderr
    assert not (project / "a.json").exists()


def test_invalid_policy_names_file_line_and_column(project: Path, run: Run) -> None:
    (project / "policy.yaml").write_text(
        "apiVersion: clearance/v1\nkind: Policy\ntargets:\n  production:\n    criteria:\n"
        "      - {id: tests, kind: tests, min_tests: many}\n"
    )
    proc = run(project, "policy", "set", "policy.yaml")
    assert_clean_error(proc, 2)
    assert "policy.yaml:6:" in proc.stderr and "expected a whole number" in proc.stderr


def test_forged_attestation_exits_3(project: Path, run: Run) -> None:
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


def test_kept_files_that_are_not_checkpoints_exit_2(project: Path, run: Run) -> None:
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
