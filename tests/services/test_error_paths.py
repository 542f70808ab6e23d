"""Messages of the less travelled error paths: people, keys, waivers, kept checkpoints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clearance.core.checkpoint import Checkpoint
from clearance.errors import IntegrityError, NotFoundError, UsageError
from clearance.services.approvals import parse_expiry, waive
from clearance.services.people import add_key, add_person, grant_role, retire_key
from clearance.services.plans import load_plan, submit_plan
from clearance.services.policy import set_policy
from clearance.services.workspace import Workspace
from clearance.settings import Settings
from clearance.signing import SigningKey
from tests.builders import register_signers, write_plan_folder

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace(Settings(workspace=tmp_path / ".clearance"))
    workspace.create()
    workspace.keys = register_signers(  # type: ignore[attr-defined]
        workspace, {"rita@example.com": ["risk-officer"]}
    )
    yield workspace
    workspace.close()


def test_people_and_keys_refusals(ws: Workspace) -> None:
    rita = ws.keys["rita@example.com"]
    with pytest.raises(UsageError, match=r"rita@example\.com is already registered"):
        add_person(ws, "rita@example.com", [], "admin")
    with pytest.raises(UsageError, match="a person needs a name"):
        add_person(ws, "  ", [], "admin")
    with pytest.raises(NotFoundError, match="--same-as nobody: no such person"):
        add_person(ws, "x@example.com", [], "admin", same_as="nobody")
    with pytest.raises(NotFoundError, match="no person zed; register them"):
        grant_role(ws, "zed", "model-risk", "admin")
    with pytest.raises(NotFoundError, match="no person zed"):
        add_key(ws, "zed", SigningKey.generate().public_raw, "admin")
    with pytest.raises(UsageError, match="is already registered"):
        add_key(ws, "rita@example.com", rita.public_raw, "admin")
    with pytest.raises(NotFoundError, match="no registered key sha256:nope"):
        retire_key(ws, "sha256:nope", "admin")
    retire_key(ws, rita.key_id, "admin")
    with pytest.raises(UsageError, match="was already retired"):
        retire_key(ws, rita.key_id, "admin")


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
    with pytest.raises(UsageError, match='--expires "soon": give a duration such as 14d'):
        parse_expiry("soon", NOW)


def test_waiver_refusals(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(
        "apiVersion: clearance/v1\nkind: Policy\ntargets:\n  production:\n"
        "    waivers: [{roles: [risk-officer], criteria: ['*']}]\n"
    )
    set_policy(ws, tmp_path / "policy.yaml", "admin")
    loaded = load_plan(write_plan_folder(tmp_path / "p"), ws.settings)
    submit_plan(ws, loaded, "bob@example.com", "First")
    key = ws.keys["rita@example.com"]
    with pytest.raises(NotFoundError, match='has no criterion "nope"'):
        waive(ws, loaded, "nope", "rita@example.com", "risk-officer", "why", "7d", key)
    with pytest.raises(UsageError, match="a waiver needs a justification"):
        waive(ws, loaded, "auc", "rita@example.com", "risk-officer", " ", "7d", key)
    with pytest.raises(UsageError, match="is already past"):
        waive(ws, loaded, "auc", "rita@example.com", "risk-officer", "why", "2001-01-01", key)


def test_policy_file_errors(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such policy file"):
        set_policy(ws, tmp_path / "missing.yaml", "admin")
    (tmp_path / "latin1.yaml").write_bytes(b"kind: \xff\n")
    with pytest.raises(UsageError, match="not UTF-8 text"):
        set_policy(ws, tmp_path / "latin1.yaml", "admin")


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
    with pytest.raises(UsageError, match="no signing key at"):
        SigningKey.load(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(IntegrityError, match="not a readable private key"):
        SigningKey.load(tmp_path / "junk.pem")
    key = SigningKey.generate()
    key.save(tmp_path / "k.pem")
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    assert SigningKey.load(tmp_path / "k.pem").key_id == key.key_id
