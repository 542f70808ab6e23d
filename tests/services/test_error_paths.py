"""Messages of the less travelled error paths: people, keys, waivers, policies, kept
checkpoints and signing key files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click.testing
import pytest

from clearance.core.checkpoint import Checkpoint
from clearance.core.durations import parse_expiry
from clearance.errors import IntegrityError, NotFoundError, PlanError, UsageError
from clearance.services.people import add_key, add_person, change_role, retire_key
from clearance.services.policy import policy_document, set_policy
from clearance.services.workspace import Workspace
from clearance.signing import SigningKey, b64
from tests.builders import (
    ADMIN,
    acting,
    load,
    open_workspace,
    register_signers,
    submit,
    waive,
    write_plan_folder,
)
from tests.builders import set_policy as set_policy_text

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
WAIVABLE = (
    "apiVersion: clearance/v1\nkind: Policy\ntargets:\n  production:\n"
    "    waivers: [{roles: [risk-officer], criteria: ['*']}]\n"
)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = open_workspace(tmp_path / ".clearance")
    register_signers(workspace, {"rita@example.com": ["risk-officer"], "bob@example.com": []})
    yield workspace
    workspace.close()


def admin(ws: Workspace, action: str, **args: object) -> dict:
    """A statement of `action` signed by the workspace's administrator."""
    return acting(ws, ADMIN).admin_statement(action, args)


def test_people_and_keys_refusals(ws: Workspace) -> None:
    rita = ws.keys["rita@example.com"]
    with pytest.raises(UsageError, match=r"rita@example\.com is already registered"):
        add_person(ws, admin(ws, "person.add", name="rita@example.com", roles=[]))
    with pytest.raises(UsageError, match="is not a person's name; use their e-mail address"):
        add_person(ws, admin(ws, "person.add", name="  ", roles=[]))
    with pytest.raises(NotFoundError, match="--same-as nobody: no such person"):
        add_person(ws, admin(ws, "person.add", name="x@example.com", roles=[], same_as="nobody"))
    with pytest.raises(UsageError, match="not a raw 32-byte Ed25519 key in base64"):
        add_person(ws, admin(ws, "person.add", name="y@example.com", roles=[], public_key="abc"))
    with pytest.raises(NotFoundError, match="no person zed; an administrator registers them"):
        change_role(ws, admin(ws, "role.grant", name="zed", role="model-risk"))
    with pytest.raises(NotFoundError, match="no person zed"):
        add_key(
            ws, admin(ws, "key.add", name="zed", public_key=b64(SigningKey.generate().public_raw))
        )
    with pytest.raises(UsageError, match=r"is already registered to rita@example\.com"):
        add_key(ws, admin(ws, "key.add", name="rita@example.com", public_key=b64(rita.public_raw)))
    with pytest.raises(NotFoundError, match="no registered key sha256:nope"):
        retire_key(ws, admin(ws, "key.retire", key_id="sha256:nope"))
    retire_key(ws, admin(ws, "key.retire", key_id=rita.key_id))
    with pytest.raises(UsageError, match="was already retired"):
        retire_key(ws, admin(ws, "key.retire", key_id=rita.key_id))


def test_the_last_administrator_cannot_be_revoked(ws: Workspace) -> None:
    with pytest.raises(UsageError, match="is the last administrator"):
        change_role(ws, admin(ws, "role.revoke", name=ADMIN, role="admin"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14d", datetime(2026, 12, 11, 12, 0, tzinfo=UTC)),
        ("2026-12-31", datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_waiver_expiry_forms(text: str, expected: datetime) -> None:
    assert parse_expiry(text, NOW) == expected


def test_waiver_expiry_that_is_not_a_date() -> None:
    """The core says what to give instead; the CLI prefixes it with `--expires:`."""
    with pytest.raises(ValueError, match="'soon'; give a duration such as 14d"):
        parse_expiry("soon", NOW)


def test_waiver_refusals(ws: Workspace, tmp_path: Path) -> None:
    set_policy_text(ws, WAIVABLE)
    local = load(ws, write_plan_folder(tmp_path / "p"))
    submit(ws, local, "bob@example.com", "First")
    rita = ("rita@example.com", "risk-officer")
    with pytest.raises(NotFoundError, match='has no criterion "nope"'):
        waive(ws, local, "nope", *rita, justification="why", expires="7d")
    with pytest.raises(UsageError, match="a waiver needs a justification"):
        waive(ws, local, "auc", *rita, justification=" ", expires="7d")
    with pytest.raises(UsageError, match="is already past"):
        waive(ws, local, "auc", *rita, justification="why", expires="2001-01-01")


def test_policy_text_and_statement_errors(ws: Workspace) -> None:
    """Invalid policy text names its position; a signed statement carrying an invalid policy
    or a digest of another one is refused."""
    with pytest.raises(PlanError, match=r"policy\.yaml"):
        policy_document("apiVersion: clearance/v1\nkind: Plan\n", "policy.yaml")
    with pytest.raises(UsageError, match="the signed policy is not a valid policy"):
        set_policy(ws, admin(ws, "policy.set", policy={"kind": "nonsense"}))
    document = policy_document(WAIVABLE, "policy.yaml")
    with pytest.raises(IntegrityError, match="digest does not match the policy it carries"):
        set_policy(ws, admin(ws, "policy.set", policy=document, digest="sha256:" + "0" * 64))


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("CLEARANCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLEARANCE_HOME", str(tmp_path / "home"))


def policy_set(ws: Workspace, tmp_path: Path, policy: Path) -> tuple[int, str]:
    """`clearance --identity ADMIN.pem policy set POLICY`: exit code and stderr. Reading the
    file is the client's work, so its errors come from the command."""
    from clearance.cli.main import main
    from clearance.cli.output import console

    key = tmp_path / "admin.pem"
    ws.keys[ADMIN].save(key)
    args = ["--workspace", str(ws.settings.workspace), "--identity", str(key)]
    console.cache_clear()
    with click.testing.CliRunner().isolation() as (_out, err, _):
        with pytest.raises(SystemExit) as exited:
            main([*args, "policy", "set", str(policy)])
        return int(exited.value.code or 0), err.getvalue().decode()


@pytest.mark.usefixtures("cli_env")
def test_policy_file_errors(ws: Workspace, tmp_path: Path) -> None:
    code, err = policy_set(ws, tmp_path, tmp_path / "missing.yaml")
    assert code == 2 and "no such policy file" in err, err
    (tmp_path / "latin1.yaml").write_bytes(b"kind: \xff\n")
    code, err = policy_set(ws, tmp_path, tmp_path / "latin1.yaml")
    assert code == 2 and "not UTF-8 text" in err, err


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"format": "other"}, "not a Clearance checkpoint"),
        ({"format": "clearance-log-checkpoint/v1", "size": 3}, "field missing or malformed"),
        (
            {
                "format": "clearance-log-checkpoint/v1",
                "size": -1,
                "root": "00",
                "at": "t",
                "key_id": "k",
                "signature": "s",
            },
            "size or root is malformed",
        ),
    ],
)
def test_kept_checkpoint_that_is_not_one(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Checkpoint.from_json(data)


def test_signing_key_files(tmp_path: Path) -> None:
    """A missing or unreadable key file is bad input (UsageError), not an integrity failure:
    nothing recorded failed to verify."""
    with pytest.raises(UsageError, match="no signing key at"):
        SigningKey.load(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(UsageError, match="not a readable private key"):
        SigningKey.load(tmp_path / "junk.pem")
    key = SigningKey.generate()
    key.save(tmp_path / "k.pem")
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    assert SigningKey.load(tmp_path / "k.pem").key_id == key.key_id
