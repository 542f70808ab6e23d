"""Small evidence lives in the database, written with its record; larger evidence in the blob
store. Readers (evaluation, download, pack, verify) cannot tell the two apart."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from clearance.blobs.tiered import SMALL_BLOB_BYTES
from clearance.errors import EvidenceError
from clearance.services.integrity import verify_workspace
from clearance.services.workspace import Workspace
from clearance.store import tables as t
from clearance.store.db import transaction
from tests.builders import acting, add_file, check, export, load, open_workspace, write_plan_folder

SMALL = b"# Small\n" + b"s" * 100
LARGE = b"L" * (SMALL_BLOB_BYTES + 1000)


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None) -> Iterator[Workspace]:
    workspace = open_workspace(tmp_path / ".clearance", database_url)
    yield workspace
    workspace.close()


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    return write_plan_folder(tmp_path / "project")


def held_in_database(ws: Workspace) -> dict[str, bytes]:
    with ws.engine.connect() as conn:
        rows = conn.execute(sa.select(t.small_blobs.c.digest, t.small_blobs.c.data))
        return {d: bytes(data) for d, data in rows}


def blob_files(ws: Workspace) -> set[str]:
    root = ws.settings.blob_root / "sha256"
    return {"sha256:" + p.parent.name + p.name for p in root.rglob("*") if p.is_file()}


def tamper(ws: Workspace, digest: str, data: bytes | None) -> None:
    """What someone with write access to the database does: gets round the insert-only
    triggers, then rewrites (or, with None, deletes) a held blob."""
    with transaction(ws.engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE small_blobs DISABLE TRIGGER USER")
        else:
            for action in ("update", "delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS small_blobs_no_{action}")
        query = t.small_blobs.delete() if data is None else t.small_blobs.update()
        query = query.where(t.small_blobs.c.digest == digest)
        conn.execute(query if data is None else query.values(data=data))


def test_small_evidence_is_held_in_the_database_large_in_the_blob_store(
    ws: Workspace, plan_path: Path
) -> None:
    """A check stores every small file in the database in its own transaction, no file in
    the blob store; a large one goes to the blob store. Both read back byte for byte."""
    local = load(ws, plan_path)
    checked = check(ws, local)
    held = held_in_database(ws)
    metrics = (plan_path.parent / "eval/metrics.json").read_bytes()
    auc = next(r for r in checked.evaluation.results if r.id == "auc")
    assert held[auc.evidence[0]] == metrics
    assert auc.status.value == "passed"  # evaluated from the bytes the transaction held
    assert blob_files(ws) == set()

    big = plan_path.parent / "docs/big.md"
    big.write_bytes(LARGE)
    added = add_file(ws, local, "uat", big)
    assert added.digest in blob_files(ws) and added.digest not in held_in_database(ws)
    for digest, data in ((auc.evidence[0], metrics), (added.digest, LARGE)):
        with ws.blobs.open(digest) as fh:
            assert fh.read() == data
        assert ws.blobs.exists(digest) and ws.blobs.verify_one(digest)
    assert verify_workspace(ws)[1] == []


def test_evidence_download_reads_database_held_blobs(ws: Workspace, plan_path: Path) -> None:
    """Downloading evidence through the query service serves a database-held blob."""
    from clearance.services.queries import evidence, evidence_content

    local = load(ws, plan_path)
    checked = check(ws, local)
    me = acting(ws, None).principal("evidence.list")
    rows = evidence(ws, me, checked.submitted.candidate.digest)
    row = next(r for r in rows if r.name == "eval/metrics.json")
    with evidence_content(ws, me, row.id) as fh:
        assert fh.read() == (plan_path.parent / "eval/metrics.json").read_bytes()


@pytest.mark.parametrize(
    ("size", "in_database"),
    [(SMALL_BLOB_BYTES - 1, True), (SMALL_BLOB_BYTES, False), (SMALL_BLOB_BYTES + 1, False)],
)
def test_threshold_boundary(ws: Workspace, tmp_path: Path, size: int, in_database: bool) -> None:
    """Under the threshold in the database; exactly at it and above in the blob store."""
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * size)
    blob = ws.blobs.put_file(path)
    assert (blob.digest in held_in_database(ws)) is in_database
    assert (blob.digest in blob_files(ws)) is not in_database
    assert (ws.blobs.put_bytes(b"y" * size).digest in held_in_database(ws)) is in_database


def test_held_blobs_are_insert_only(ws: Workspace) -> None:
    """The database itself refuses to change or delete a held blob."""
    digest = ws.blobs.put_bytes(SMALL).digest
    for statement in (
        t.small_blobs.update().values(data=b"other"),
        t.small_blobs.delete(),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="insert-only"), transaction(ws.engine) as c:
            c.execute(statement.where(t.small_blobs.c.digest == digest))
    assert held_in_database(ws)[digest] == SMALL


def test_tampered_database_blob_is_caught(ws: Workspace, plan_path: Path) -> None:
    """A held blob rewritten behind the workspace's back fails verify, naming it, and the
    evaluator reports its criterion as an error instead of reading the forged bytes."""
    local = load(ws, plan_path)
    auc = next(r for r in check(ws, local).evaluation.results if r.id == "auc")
    forged = json.dumps({"holdout": {"auc": 0.99, "n": 400}}).encode()
    tamper(ws, auc.evidence[0], forged)
    _, failures = verify_workspace(ws)
    assert any(auc.evidence[0] in f and "does not match" in f for f in failures), failures
    assert not ws.blobs.verify_one(auc.evidence[0])


def test_deleted_database_blob_is_reported_missing(ws: Workspace, plan_path: Path) -> None:
    local = load(ws, plan_path)
    auc = next(r for r in check(ws, local).evaluation.results if r.id == "auc")
    tamper(ws, auc.evidence[0], None)
    _, failures = verify_workspace(ws)
    assert f"evidence blob {auc.evidence[0]}: referenced but missing from the store" in failures


def test_staged_bytes_must_match_their_name(ws: Workspace, plan_path: Path) -> None:
    """Bytes handed to a transaction under another blob's digest are refused, nothing kept."""
    from clearance.blobs import StoredBlob
    from clearance.services.evidence import add_evidence

    local = load(ws, plan_path)
    me = acting(ws, None)
    real = ws.blobs.stage_files([plan_path.parent / "docs/uat.md"])[0]
    lie = StoredBlob(real.digest, len(b"forged"), b"forged")
    with pytest.raises(EvidenceError, match="do not match its name"):
        add_evidence(
            ws, me.principal("evidence.add"), local.loaded, me.digests(local), "uat", "uat.md", lie
        )
    assert real.digest not in held_in_database(ws)


def test_pack_holds_database_evidence_under_its_name(
    ws: Workspace, plan_path: Path, tmp_path: Path
) -> None:
    """The audit pack carries a database-held file, listed under the name the plan gave it."""
    local = load(ws, plan_path)
    check(ws, local)
    pack = tmp_path / "pack.zip"
    export(ws, local, pack)
    with zipfile.ZipFile(pack) as zf:
        index = json.loads(zf.read("evidence/index.json"))
        entry = next(e for e in index if e["name"] == "eval/metrics.json")
        assert entry["digest"] in held_in_database(ws)
        assert zf.read(entry["file"]) == (plan_path.parent / "eval/metrics.json").read_bytes()
