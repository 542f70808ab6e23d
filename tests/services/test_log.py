"""The audit log: receipts, checkpoints, proofs, and each kind of tampering detected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from clearance.core.checkpoint import Checkpoint
from clearance.core.merkle import leaf_hash, root, verify_inclusion
from clearance.services.integrity import verify_workspace
from clearance.services.log import latest, prove, verify_log
from clearance.services.workspace import Workspace
from clearance.signing import SigningKey, b64
from clearance.store.repository import event_leaf_hash
from tests.builders import (
    check,
    load,
    open_workspace,
    register_signers,
    signoff,
    submit,
    write_plan_folder,
)


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None) -> Iterator[Workspace]:
    workspace = open_workspace(tmp_path / ".clearance", database_url)
    register_signers(workspace)
    local = load(workspace, write_plan_folder(tmp_path / "p"))
    submit(workspace, local, "alice@example.com", "First")
    check(workspace, local)
    signoff(workspace, local, "model-risk", "dana@example.com", "approve", "ok")
    yield workspace
    workspace.close()


def tamper(ws: Workspace, table: str, statement: str, **params: object) -> None:
    """Change a row behind Clearance's back, as someone with database access could."""
    with ws.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for action in ("update", "delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
        else:
            conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        conn.execute(sa.text(statement), params)


def failures(ws: Workspace, since: Checkpoint | None = None) -> list[str]:
    return verify_log(ws, since).failures


def test_every_write_returns_a_receipt_covered_by_a_signed_checkpoint(ws: Workspace) -> None:
    receipt = ws.last_receipt
    assert receipt is not None
    assert receipt.checkpoint.size >= receipt.seq
    assert latest(ws) == receipt.checkpoint
    assert failures(ws) == []


def test_checkpoint_root_is_the_rfc6962_root_of_the_events(ws: Workspace) -> None:
    with ws.engine.connect() as conn:
        entries = conn.execute(sa.text("SELECT entry FROM events ORDER BY seq")).scalars().all()
    assert root([leaf_hash(e.encode()) for e in entries]).hex() == latest(ws).root


def test_inclusion_proof_verifies_against_the_checkpoint(ws: Workspace) -> None:
    """The proof holds for the event's canonical leaf at its index, and for nothing else."""
    proof = prove(ws, 3)
    canonical = bytes.fromhex(event_leaf_hash(_entry(ws, 3).encode()))
    other = bytes.fromhex(event_leaf_hash(_entry(ws, 2).encode()))
    path = [bytes.fromhex(h) for h in proof.path]
    size, top = proof.checkpoint.size, bytes.fromhex(proof.checkpoint.root)
    assert proof.event == json.loads(_entry(ws, 3))
    assert verify_inclusion(canonical, 2, size, path, top)
    assert not verify_inclusion(other, 2, size, path, top)
    assert not verify_inclusion(canonical, 3, size, path, top)


def _entry(ws: Workspace, seq: int) -> str:
    with ws.engine.connect() as conn:
        return conn.execute(sa.text("SELECT entry FROM events WHERE seq = :s"), {"s": seq}).scalar()


def test_edited_event_payload_is_named(ws: Workspace) -> None:
    tamper(ws, "events", "UPDATE events SET payload = '{}' WHERE seq = 2")
    assert failures(ws) == ["event 2: column payload was changed"]


def test_edited_event_content_breaks_the_checkpoint_root(ws: Workspace) -> None:
    """Rewriting an event with a consistent leaf hash still fails at the next checkpoint."""
    entry = json.loads(_entry(ws, 2))
    entry["actor"] = "mallory"
    from clearance.core.digest import canonical_json

    text = canonical_json(entry).decode()
    tamper(
        ws,
        "events",
        "UPDATE events SET entry = :e, actor = 'mallory', leaf_hash = :h WHERE seq = 2",
        e=text,
        h=event_leaf_hash(text.encode()),
    )
    found = failures(ws)
    assert len(found) == 1 and "has a different root" in found[0]


ODD = 'quote " backslash \\ tab \t newline \n bell \x07 del \x7f é 雪 🙂 </script>'


def test_odd_text_in_every_column_verifies(ws: Workspace) -> None:
    """Actors, subjects and payloads with quotes, control characters and non-ASCII text are
    rebuilt from the columns exactly as the entry holds them."""
    with ws.transaction() as uow:
        uow.append("odd.text", actor=ODD, subject=ODD, payload={"note": ODD, "n": [1, 2.5]})
        uow.append("odd.none", actor="a", subject="s", payload={}, system_id=None)
    report = verify_log(ws)
    assert report.failures == [] and report.events == latest(ws).size


@pytest.mark.parametrize(
    ("column", "value", "named"),
    [
        ("actor", "mallory@example.com", "column actor was changed"),
        ("subject", "sha256:" + "0" * 64, "column subject was changed"),
        ("type", "approval.recorded", "column type was changed"),
        ("system_id", "other-system", "column system_id was changed"),
        ("payload", '{"records":[]}', "column payload was changed"),
    ],
)
def test_each_index_column_changed_alone_is_named(
    ws: Workspace, column: str, value: str, named: str
) -> None:
    """Each column is an index over the entry: changed alone, it is named."""
    tamper(ws, "events", f"UPDATE events SET {column} = :v WHERE seq = 3", v=value)
    assert failures(ws) == [
        f"event 3: {named}"
        + (f" (the log says {_said(ws, column)!r})" if column != "payload" else "")
    ]


def _said(ws: Workspace, column: str) -> object:
    return json.loads(_entry(ws, 3)).get(column)


def test_deleted_event_is_named(ws: Workspace) -> None:
    tamper(ws, "events", "DELETE FROM events WHERE seq = 3")
    assert failures(ws) == ["event 3: missing (the log jumps to 4)"]


def test_cut_tail_is_caught_against_a_kept_checkpoint(ws: Workspace) -> None:
    kept = latest(ws)
    size = kept.size
    tamper(ws, "events", "DELETE FROM events WHERE seq = :s", s=size)
    tamper(ws, "checkpoints", "DELETE FROM checkpoints WHERE size = :s", s=size)
    found = failures(ws, kept)
    assert found == [
        f"checkpoint {size}: the log has only {size - 1} events (events were removed from its end)"
    ]


def test_history_re_signed_with_another_key_is_caught(ws: Workspace) -> None:
    """A checkpoint signed by a key the workspace never registered does not verify."""
    other = SigningKey.generate()
    cp = latest(ws)
    forged = Checkpoint(cp.size, cp.root, cp.at, other.key_id, b64(other.sign(cp.message())))
    tamper(
        ws,
        "checkpoints",
        "UPDATE checkpoints SET key_id = :k, signature = :s WHERE size = :n",
        k=forged.key_id,
        s=forged.signature,
        n=cp.size,
    )
    assert failures(ws) == [f"checkpoint {cp.size}: signed by unknown key {other.key_id}"]


def test_backdated_event_is_named(ws: Workspace) -> None:
    tamper(ws, "events", "UPDATE events SET at = '2001-01-01T00:00:00.000000Z' WHERE seq = 4")
    assert failures(ws)[0].startswith("event 4: column at was changed")


def test_row_edited_in_the_database_is_caught_by_workspace_verify(ws: Workspace) -> None:
    tamper(ws, "approvals", "UPDATE approvals SET person = 'mallory@example.com'")
    checked, found = verify_workspace(ws)
    assert checked > 0
    assert any(f.startswith("approvals row 1: not as the log recorded it") for f in found)
    assert any(f.startswith("approvals: a row the log recorded") for f in found)


def test_untouched_workspace_verifies(ws: Workspace) -> None:
    assert verify_workspace(ws)[1] == []
