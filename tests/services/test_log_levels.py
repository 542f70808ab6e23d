"""The log's stored tree levels: written with each event, the same nodes as recomputed from
the leaves, proofs from them equal to the whole-tree ones; a node altered, deleted or
inserted behind the service's back, or a leaf altered, is named by `log verify` (exit 3);
incremental verification reads only what came after a kept checkpoint."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from clearance.core.digest import canonical_json
from clearance.core.merkle import consistency_proof, inclusion_proof, leaf_hash, root
from clearance.errors import IntegrityError
from clearance.services.log import consistency, latest, prove, verify_log
from clearance.services.workspace import Workspace
from tests.builders import open_workspace
from tests.cli.harness import invoke

WRITES = 12  # transactions of 1 to 3 events each: 24 events


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None) -> Iterator[Workspace]:
    workspace = open_workspace(tmp_path / ".clearance", database_url)
    for i in range(WRITES):
        write(workspace, i, 1 + i % 3)
    yield workspace
    workspace.close()


def write(ws: Workspace, i: int, events: int = 1) -> None:
    with ws.transaction() as uow:
        for j in range(events):
            uow.append("test.event", actor="bench@example.com", subject=f"s{i}", payload={"j": j})


def tamper(ws: Workspace, table: str, statement: str, **params: object) -> None:
    """Change rows behind Clearance's back, as someone with database access could."""
    with ws.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for action in ("update", "delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
        else:
            conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        conn.execute(sa.text(statement), params)


def leaves(ws: Workspace) -> list[bytes]:
    with ws.engine.connect() as conn:
        entries = conn.execute(sa.text("SELECT entry FROM events ORDER BY seq")).scalars()
        return [leaf_hash(e.encode()) for e in entries]


def stored_nodes(ws: Workspace) -> dict[tuple[int, int], bytes]:
    with ws.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT level, position, hash FROM log_nodes"))
        return {(lv, p): bytes(h) for lv, p, h in rows}


def test_stored_nodes_are_every_complete_subtree_of_the_leaves(ws: Workspace) -> None:
    found, hashes = stored_nodes(ws), leaves(ws)
    n = len(hashes)
    assert len(found) == sum(n >> level for level in range(1, 64))
    for (level, position), h in found.items():
        assert h == root(hashes[position << level : (position + 1) << level])
    assert latest(ws).root == root(hashes).hex()


def test_proofs_from_stored_nodes_equal_the_whole_tree_proofs(ws: Workspace) -> None:
    hashes = leaves(ws)
    n = len(hashes)
    for seq in (1, 2, n // 2, n - 1, n):
        assert [bytes.fromhex(h) for h in prove(ws, seq).path] == inclusion_proof(hashes, seq - 1)
    for old in (1, 3, n // 2, n):
        proof = consistency(ws, old)
        assert proof["old_root"] == root(hashes[:old]).hex()
        assert [bytes.fromhex(h) for h in proof["proof"]] == consistency_proof(hashes, old)


def test_pymerkle_gives_the_signed_root_of_the_stored_log(ws: Workspace) -> None:
    pymerkle = pytest.importorskip("pymerkle")
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    with ws.engine.connect() as conn:
        for entry in conn.execute(sa.text("SELECT entry FROM events ORDER BY seq")).scalars():
            tree.append_entry(entry.encode())
    assert tree.get_state().hex() == latest(ws).root


def test_an_altered_node_row_is_named_and_never_served_or_signed(ws: Workspace) -> None:
    """The frontier's top node altered: verify names it, prove and the next write refuse."""
    n = latest(ws).size
    level = n.bit_length() - 1
    tamper(
        ws,
        "log_nodes",
        "UPDATE log_nodes SET hash = :h WHERE level = :l AND position = 0",
        h=bytes(32),
        l=level,
    )
    assert verify_log(ws).failures == [
        f"tree node {level}/0: the stored hash differs from the one recomputed from events "
        f"1 to {1 << level} (changed behind Clearance's back)"
    ]
    with pytest.raises(IntegrityError, match="does not match its latest signed checkpoint"):
        prove(ws, 1)
    with pytest.raises(IntegrityError, match="does not match its latest signed checkpoint"):
        write(ws, 99)
    assert latest(ws).size == n, "nothing was recorded"


def test_an_altered_inner_node_gives_no_proof_that_would_not_verify(ws: Workspace) -> None:
    tamper(
        ws,
        "log_nodes",
        "UPDATE log_nodes SET hash = :h WHERE level = 1 AND position = 0",
        h=bytes(32),
    )
    with pytest.raises(IntegrityError, match="the path to event 3"):
        prove(ws, 3)
    assert verify_log(ws).failures[0].startswith("tree node 1/0: the stored hash differs")


def test_a_deleted_node_row_is_named(ws: Workspace) -> None:
    tamper(ws, "log_nodes", "DELETE FROM log_nodes WHERE level = 2 AND position = 1")
    assert verify_log(ws).failures == [
        "tree node 2/1: missing (the node over events 5 to 8 was deleted behind Clearance's back)"
    ]


@pytest.mark.parametrize("level, position", [(1, 10_000), (40, 0), (0, 3), (2, -1)])
def test_an_inserted_node_row_is_named(ws: Workspace, level: int, position: int) -> None:
    tamper(
        ws,
        "log_nodes",
        "INSERT INTO log_nodes (level, position, hash) VALUES (:l, :p, :h)",
        l=level,
        p=position,
        h=bytes(32),
    )
    n = latest(ws).size
    assert verify_log(ws).failures == [
        f"tree node {level}/{position}: not a node of the log's {n} events "
        "(inserted behind Clearance's back)"
    ]


def test_an_altered_leaf_breaks_the_checkpoint_that_signed_it(ws: Workspace) -> None:
    """An event rewritten with a matching leaf hash and columns: the signed root says so."""
    with ws.engine.connect() as conn:
        entry = conn.execute(sa.text("SELECT entry FROM events WHERE seq = 5")).scalar_one()
    import json

    changed = canonical_json({**json.loads(entry), "actor": "mallory"}).decode()
    tamper(
        ws,
        "events",
        "UPDATE events SET entry = :e, actor = 'mallory', leaf_hash = :h WHERE seq = 5",
        e=changed,
        h=leaf_hash(changed.encode()).hex(),
    )
    found = verify_log(ws).failures
    assert len(found) == 1 and "has a different root; the log up to it changed" in found[0]


def test_cli_verify_exits_3_naming_the_node(ws: Workspace, tmp_path: Path) -> None:
    tamper(
        ws,
        "log_nodes",
        "UPDATE log_nodes SET hash = :h WHERE level = 1 AND position = 2",
        h=bytes(32),
    )
    env = {"CLEARANCE_WORKSPACE": str(ws.settings.workspace), "CLEARANCE_USER": "a@example.com"}
    if ws.settings.database_url:
        env["CLEARANCE_DATABASE_URL"] = ws.settings.database_url
    done = invoke(tmp_path, "log", "verify", env=env)
    assert done.returncode == 3, done.stderr
    assert "tree node 1/2" in done.stderr + done.stdout


def test_incremental_verification_reads_only_the_events_after_the_kept_checkpoint(
    ws: Workspace,
) -> None:
    kept = latest(ws)
    for i in range(5):
        write(ws, 100 + i, 2)
    # an old event's indexed column altered: a full pass sees it, an incremental one does not
    # read it (it was checked when the checkpoint was kept)
    tamper(ws, "events", "UPDATE events SET type = 'x' WHERE seq = 2")
    assert verify_log(ws, kept).failures[0].startswith("event 2: column type was changed")
    report = verify_log(ws, kept, incremental=True)
    assert report.failures == []
    assert report.events == kept.size + 10
    assert report.checkpoints == 6  # the kept one, then one per write


def test_incremental_verification_still_checks_the_new_events(ws: Workspace) -> None:
    kept = latest(ws)
    write(ws, 100, 3)
    tamper(ws, "events", "UPDATE events SET actor = 'x' WHERE seq = :s", s=kept.size + 2)
    assert verify_log(ws, kept, incremental=True).failures == [
        f"event {kept.size + 2}: column actor was changed (the log says 'bench@example.com')"
    ]


def test_incremental_verification_catches_a_rewritten_history(ws: Workspace) -> None:
    """The kept checkpoint's frontier nodes must fold into its signed root."""
    kept = latest(ws)
    write(ws, 100)
    top = kept.size.bit_length() - 1
    tamper(
        ws,
        "log_nodes",
        "UPDATE log_nodes SET hash = :h WHERE level = :l AND position = 0",
        h=bytes(32),
        l=top,
    )
    assert verify_log(ws, kept, incremental=True).failures == [
        f"event {kept.size}: the kept checkpoint has a different root; the log up to it changed"
    ]


def test_incremental_verification_catches_a_cut_tail(ws: Workspace) -> None:
    kept = latest(ws)
    tamper(ws, "events", "DELETE FROM events WHERE seq = :s", s=kept.size)
    assert verify_log(ws, kept, incremental=True).failures == [
        f"checkpoint {kept.size}: the log has only {kept.size - 1} events "
        "(events were removed from its end)"
    ]


def test_the_migration_backfills_the_levels_of_an_existing_log(ws: Workspace) -> None:
    before = stored_nodes(ws)
    tamper(ws, "log_nodes", "DELETE FROM log_nodes")
    assert verify_log(ws).failures[0].startswith("tree node 1/0: missing")
    migration: Any = importlib.import_module("clearance.store.migrations.versions.0007_tree")
    with ws.engine.begin() as conn:
        assert migration.backfill(conn) == len(before)
    assert stored_nodes(ws) == before
    assert verify_log(ws).failures == []


def test_cli_incremental_verify_needs_a_kept_checkpoint_and_reads_from_it(
    ws: Workspace, tmp_path: Path
) -> None:
    env = {"CLEARANCE_WORKSPACE": str(ws.settings.workspace), "CLEARANCE_USER": "a@example.com"}
    if ws.settings.database_url:
        env["CLEARANCE_DATABASE_URL"] = ws.settings.database_url
    refused = invoke(tmp_path, "log", "verify", "--incremental", env=env)
    assert refused.returncode == 2 and "--since" in refused.stderr
    kept = tmp_path / "kept.note"
    assert invoke(tmp_path, "log", "checkpoint", "-o", str(kept), env=env).returncode == 0
    write(ws, 100, 2)
    done = invoke(tmp_path, "log", "verify", "--since", str(kept), "--incremental", env=env)
    assert done.returncode == 0, done.stderr
    assert f"Log verified: {latest(ws).size} events" in done.stdout
