"""Who acts, through the command line: `init` makes its runner the first administrator with
a key kept outside the workspace, every later command signs as the identity given, and the
attacks of the trust issue are refused with exit 77 (or 2 for bad input)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import click.testing
import pytest

from clearance.cli.main import main
from clearance.cli.output import console
from tests.builders import write_plan_folder


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None) -> Path:
    """A plan folder as the working folder; identities kept in tmp/home; no other
    CLEARANCE_ settings."""
    for name in list(os.environ):
        if name.startswith("CLEARANCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLEARANCE_USER", "Alice@Example.com")
    monkeypatch.setenv("CLEARANCE_HOME", str(tmp_path / "home"))
    if database_url:
        monkeypatch.setenv("CLEARANCE_DATABASE_URL", database_url)
    project = tmp_path / "project"
    write_plan_folder(project)
    monkeypatch.chdir(project)
    return project


def run(*args: str) -> tuple[int, str, str]:
    console.cache_clear()
    with click.testing.CliRunner().isolation() as (out, err, _):
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
        return int(exit_.value.code or 0), out.getvalue().decode(), err.getvalue().decode()


def ok(*args: str) -> str:
    code, out, err = run(*args)
    assert code == 0, (args, out, err)
    return out


def person(name: str, role: str) -> str:
    """Generate NAME's key pair in keys/ and register it (as the administrator)."""
    short = name.split("@")[0]
    ok("keys", "generate", "-o", f"keys/{short}.pem")
    ok("people", "add", name, "--role", role, "--public-key", f"keys/{short}.pem.pub")
    return f"keys/{short}.pem"


def test_plain_init_makes_the_runner_the_first_admin(here: Path, tmp_path: Path) -> None:
    out = ok("init")
    key = tmp_path / "home" / "keys" / "alice@example.com.pem"
    assert "First administrator: alice@example.com" in out and str(key) in out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not str(key).startswith(str(here / ".clearance"))
    config = json.loads((here / ".clearance" / "config.json").read_text())
    assert config["identity"] == str(key)
    assert "admin" in ok("people", "list")
    ok("env", "declare", "production")  # signed as alice without any flag
    assert "production" in ok("env", "list")


def test_init_with_a_named_admin_and_their_public_key(here: Path) -> None:
    ok("keys", "generate", "-o", "ciso.pem")
    out = ok("init", "--admin", "ciso@example.com", "--admin-key", "ciso.pem.pub")
    assert "First administrator: ciso@example.com" in out
    code, _, err = run("env", "declare", "production")
    assert code == 77, err  # nobody's identity here: the runner is not the admin
    ok("--identity", "ciso.pem", "env", "declare", "production")


def test_a_second_init_cannot_make_another_admin(here: Path) -> None:
    ok("init")
    ok("keys", "generate", "-o", "eve.pem")
    code, _, err = run("init", "--admin", "eve@example.com", "--admin-key", "eve.pem.pub")
    assert code == 77 and "already has its administrators" in err


def test_a_non_admin_is_refused_with_77_naming_the_permission(here: Path) -> None:
    ok("init")
    dana = person("dana@example.com", "model-risk")
    ok("keys", "generate", "-o", "keys/own.pem")
    for args in (
        ("keys", "add", "erik@example.com", "keys/own.pem.pub"),
        ("people", "add", "x@example.com", "--role", "eng-manager"),
        ("people", "grant", "dana@example.com", "--role", "eng-manager"),
        ("env", "declare", "prod"),
    ):
        code, _, err = run("--identity", dana, *args)
        assert code == 77, (args, err)
        assert "needs the admin role" in err and "Traceback" not in err


def test_policy_set_by_a_non_admin_is_refused(here: Path) -> None:
    ok("init")
    dana = person("dana@example.com", "model-risk")
    Path("policy.yaml").write_text("apiVersion: clearance/v1\nkind: Policy\ntargets: {}\n")
    code, _, err = run("--identity", dana, "policy", "set", "policy.yaml")
    assert code == 77 and "may not set the policy" in err


def test_evidence_attested_in_a_role_not_held_is_refused(here: Path) -> None:
    ok("init")
    ok("env", "declare", "production")
    dana = person("dana@example.com", "model-risk")
    args = ("evidence", "add", "docs/uat.md", "--plan", "plan.yaml", "--criterion", "uat")
    code, _, err = run("--identity", dana, *args, "--role", "product-owner")
    assert code == 77 and "does not hold role product-owner" in err
    ok("keys", "generate", "-o", "keys/nobody.pem")
    code, _, err = run("--identity", "keys/nobody.pem", *args, "--role", "product-owner")
    assert code == 77 and "not registered" in err


def test_sign_off_commands_only_sign(here: Path) -> None:
    """approve before anything was submitted is refused; it does not submit the plan."""
    ok("init")
    ok("env", "declare", "production")
    dana = person("dana@example.com", "model-risk")
    code, _, err = run("--identity", dana, "approve", "plan.yaml", "--role", "model-risk")
    assert code == 2 and "has not been submitted" in err
    assert "plan.revision_submitted" not in ok("log", "show")


def test_full_signed_flow_records_who_signed(here: Path) -> None:
    ok("init")
    ok("env", "declare", "production")
    dana = person("dana@example.com", "model-risk")
    erik = person("erik@example.com", "eng-manager")
    carol = person("carol@example.com", "product-owner")
    code, _, _ = run("check", "plan.yaml")
    assert code == 1
    ok("--identity", carol, "evidence", "add", "docs/uat.md", "--plan", "plan.yaml",
       "--criterion", "uat", "--role", "product-owner")  # fmt: skip
    run("check", "plan.yaml")
    ok("--identity", dana, "approve", "plan.yaml", "--role", "model-risk")
    ok("approve", "plan.yaml", "--role", "eng-manager", "--key", erik)
    code, out, err = run("check", "plan.yaml", "--format", "json")
    assert code == 0, (out, err)
    ok("release", "plan.yaml")
    events = [json.loads(line) for line in ok("log", "show").splitlines() if line.strip()]
    actors = {e["type"]: e["actor"] for e in events}
    assert actors["approval.approved"] in ("dana@example.com", "erik@example.com")
    assert actors["release.recorded"] == "alice@example.com"
    assert actors["decision.recorded"] == "alice@example.com"  # the default identity signs
    ok("verify")


def test_as_no_longer_exists(here: Path) -> None:
    ok("init")
    code, _, err = run("check", "plan.yaml", "--as", "dana@example.com")
    assert code == 2 and "--as" in err


def test_an_old_database_is_not_migrated_on_open(here: Path) -> None:
    """Only `init` and `db upgrade` change the schema; other commands say what to run."""
    import sqlalchemy as sa

    ok("init")
    if os.environ.get("CLEARANCE_DATABASE_URL"):
        pytest.skip("the SQLite file is what this test edits")
    engine = sa.create_engine(f"sqlite:///{here / '.clearance' / 'clearance.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0002'")
    engine.dispose()
    code, _, err = run("people", "list")
    assert code == 2 and "clearance db upgrade" in err


def test_keys_retire_takes_the_short_id_people_list_shows(here: Path) -> None:
    ok("init")
    ok("env", "declare", "production")
    dana = person("dana@example.com", "model-risk")
    listed = ok("people", "list")
    from clearance.signing import SigningKey

    short = SigningKey.load(Path(dana)).key_id[7:19]
    assert short in listed
    assert "Retired sha256:" + short in ok("--identity", dana, "keys", "retire", short)
    assert "retired" in ok("people", "list")
    run("check", "plan.yaml")
    code, _, err = run("--identity", dana, "approve", "plan.yaml", "--role", "model-risk")
    assert code == 77 and "retired" in err


def test_a_renamed_target_is_a_plan_error_at_its_position(here: Path) -> None:
    ok("init")
    ok("env", "declare", "production")
    text = Path("plan.yaml").read_text().replace("production", "prod")
    Path("plan.yaml").write_text(text)
    line = next(i + 1 for i, s in enumerate(text.splitlines()) if "target: prod" in s)
    code, _, err = run("plan", "validate", "plan.yaml")
    assert code == 2 and f"plan.yaml:{line}:" in err and "not a declared target" in err


def test_the_owner_cannot_waive_a_criterion_of_her_plan(here: Path) -> None:
    """alice owns the plan (system.owner); holding risk-officer does not let her waive."""
    ok("init")
    ok("env", "declare", "production")
    Path("policy.yaml").write_text(
        "apiVersion: clearance/v1\nkind: Policy\ntargets:\n  production:\n    waivers:\n"
        "      - {roles: [risk-officer], criteria: ['kind:metric']}\n"
    )
    ok("policy", "set", "policy.yaml")
    ok("people", "grant", "alice@example.com", "--role", "risk-officer")
    run("check", "plan.yaml")
    code, _, err = run(
        "waive", "plan.yaml", "--criterion", "auc", "--role", "risk-officer", "--expires", "7d",
        "-m", "mine",
    )  # fmt: skip
    assert code == 77 and "separation of duties" in err


@pytest.mark.parametrize("expires", ["9999-12-31", "999999w", "soon"])
def test_unusable_expiry_is_bad_input(here: Path, expires: str) -> None:
    ok("init")
    ok("env", "declare", "production")
    run("check", "plan.yaml")
    code, _, err = run(
        "waive", "plan.yaml", "--criterion", "auc", "--role", "risk-officer", "--expires", expires,
        "-m", "x",
    )  # fmt: skip
    assert code == 2 and "--expires" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "evidence", [".clearance/keys/workspace.pem", "../../etc/passwd", "/etc/passwd"]
)
def test_a_plan_naming_files_outside_its_folder_is_refused(here: Path, evidence: str) -> None:
    """The workspace's private key, or any file of the machine, never becomes evidence."""
    ok("init")
    ok("env", "declare", "production")
    text = Path("plan.yaml").read_text().replace("eval/metrics.json", evidence)
    Path("plan.yaml").write_text(text)
    line = next(i + 1 for i, s in enumerate(text.splitlines()) if evidence in s)
    code, _, err = run("check", "plan.yaml")
    assert code == 2 and f"plan.yaml:{line}:" in err and "Traceback" not in err
    assert "evidence.added" not in ok("log", "show")


def test_a_waiver_does_not_outlive_its_authors_role(here: Path) -> None:
    ok("init")
    ok("env", "declare", "production")
    Path("policy.yaml").write_text(
        "apiVersion: clearance/v1\nkind: Policy\ntargets:\n  production:\n    waivers:\n"
        "      - {roles: [risk-officer], criteria: ['kind:metric']}\n"
    )
    ok("policy", "set", "policy.yaml")
    rita = person("rita@example.com", "risk-officer")
    Path("eval/metrics.json").write_text('{"holdout": {"auc": 0.61, "n": 400}}')
    run("check", "plan.yaml")
    ok("--identity", rita, "waive", "plan.yaml", "--criterion", "auc", "--role", "risk-officer",
       "--expires", "7d", "-m", "known dip")  # fmt: skip
    waived = json.loads(run("check", "plan.yaml", "--format", "json")[1])
    assert next(c for c in waived["criteria"] if c["id"] == "auc")["status"] == "waived"
    ok("people", "revoke", "rita@example.com", "--role", "risk-officer")
    after = json.loads(run("check", "plan.yaml", "--format", "json")[1])
    auc = next(c for c in after["criteria"] if c["id"] == "auc")
    assert auc["status"] == "failed" and "no longer holds role risk-officer" in auc["reason"]
