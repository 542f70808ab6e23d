"""Writers appending at once, each with its own Workspace, leave one consistent tree: every
stored node is the one recomputed from the leaves, none missing, none extra, and every
checkpoint a writer was handed is a root of that tree."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from clearance.core.merkle import leaf_hash, root
from clearance.services.log import verify_log
from clearance.services.workspace import Workspace
from clearance.store.uow import TransientStoreError
from tests.builders import open_workspace

pytestmark = pytest.mark.xdist_group("concurrency")

TIMEOUT = 300.0
WRITERS, WRITES = 2, 30


@pytest.mark.parametrize(
    "database_url",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_concurrent_appends_build_one_consistent_tree(
    tmp_path: Path, database_url: str | None
) -> None:
    base = open_workspace(tmp_path / ".clearance", database_url)
    barrier = threading.Barrier(WRITERS)

    def writer(who: int) -> list[tuple[int, str]]:
        ws = Workspace(base.settings)
        try:
            _ = ws.engine, ws.signing_key
            barrier.wait(TIMEOUT)
            seen = []
            for i in range(WRITES):
                for attempt in range(50):
                    try:
                        with ws.transaction() as uow:
                            for j in range(1 + (i + who) % 3):
                                uow.append("t", actor=f"w{who}", subject=f"{i}", payload={"j": j})
                        break
                    except TransientStoreError:  # SQLite's busy answer: retry the write
                        if attempt == 49:
                            raise
                receipt = ws.last_receipt
                assert receipt is not None
                seen.append((receipt.checkpoint.size, receipt.checkpoint.root))
            return seen
        finally:
            ws.close()

    with ThreadPoolExecutor(WRITERS) as pool:
        handed = [
            cp for f in [pool.submit(writer, w) for w in range(WRITERS)] for cp in f.result(TIMEOUT)
        ]
    report = verify_log(base)
    assert report.failures == []
    with base.engine.connect() as conn:
        entries = conn.execute(sa.text("SELECT entry FROM events ORDER BY seq")).scalars()
        leaves = [leaf_hash(e.encode()) for e in entries]
        stored = conn.execute(sa.text("SELECT count(*) FROM log_nodes")).scalar_one()
    n = len(leaves)
    assert report.events == n
    assert stored == sum(n >> level for level in range(1, 64))
    for size, top in handed:
        assert root(leaves[:size]).hex() == top
    base.close()
