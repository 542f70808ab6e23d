"""Crash safety: SIGKILL the writer at a random moment during up to 1,000 writes, then
check that the workspace is intact, every receipt it handed out holds, and it still works.

Each run draws a seed (printed in every assertion message); rerun with
CLEARANCE_CRASH_SEED=SEED to repeat its kill delay and file contents. The kill is timed,
so the same seed lands near, not exactly at, the same instruction.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from clearance.core.checkpoint import Checkpoint
from clearance.services.integrity import verify_workspace
from clearance.services.log import verify_log
from clearance.services.workspace import Workspace
from clearance.settings import Settings
from clearance.store import repository as repo
from clearance.store import tables as t
from tests.builders import open_workspace, register_signers, write_plan_folder
from tests.crash.writer import ACTOR

WRITES = 1000
RUNS = 20
SOAK_RUNS = 100
#: the kill comes this long (uniformly drawn) after the writer is ready
MAX_DELAY = 1.5
SOAK_MAX_DELAY = 3.5
WRITES_AFTER = 4
TIMEOUT = 120.0
WRITER = Path(__file__).with_name("writer.py")
CLI = Path(sys.executable).with_name("clearance")


@dataclass
class WriterRun:
    """What one writer process printed and how it ended."""

    receipts: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    returncode: int | None = None
    stderr: str = ""


def draw_seed() -> int:
    given = os.environ.get("CLEARANCE_CRASH_SEED")
    return int(given) if given else random.SystemRandom().randrange(2**32)


def prepare(root: Path) -> Settings:
    """A new workspace with the writer's person registered, their private key in
    `writer_key(settings)`, and a plan folder under `root`."""
    ws = open_workspace(root / "ws")
    keys = register_signers(ws, {ACTOR: []})
    keys[ACTOR].save(writer_key(ws.settings))
    ws.close()
    write_plan_folder(root / "plan")
    return ws.settings


def writer_key(settings: Settings) -> Path:
    return settings.workspace.parent / "writer.pem"


def run_writer(
    settings: Settings, plan: Path, tag: str, seed: int, writes: int, kill_after: float | None
) -> WriterRun:
    """Run the writer; SIGKILL it `kill_after` seconds after it is ready (None: let it end)."""
    run = WriterRun()
    stderr_path = plan / f"{tag}.stderr"
    args = [str(settings.workspace), str(plan), str(writes), tag, str(seed)]
    args.append(str(writer_key(settings)))
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), *args], stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for text in proc.stdout:
            if not text.endswith("\n"):
                break  # cut off by the kill: not a receipt the writer finished printing
            line = json.loads(text)
            if "seq" in line:
                run.receipts.append(line)
            run.done = run.done or "done" in line
            if line.get("ready"):
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if kill_after is not None:
        ready.wait(TIMEOUT)
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
    run.returncode = proc.wait(TIMEOUT)
    reader.join(TIMEOUT)
    run.stderr = stderr_path.read_text()
    return run


def sha256_name(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def integrity_check(settings: Settings) -> list[str]:
    db = sqlite3.connect(settings.sqlite_path)
    try:
        return [row[0] for row in db.execute("PRAGMA integrity_check")]
    finally:
        db.close()


def cli_log_verify(
    settings: Settings, since: dict[str, Any] | None
) -> subprocess.CompletedProcess[str]:
    args = [str(CLI), "--workspace", str(settings.workspace), "log", "verify"]
    if since is not None:
        kept = settings.workspace.parent / "kept-checkpoint.json"
        kept.write_text(json.dumps(since))
        args += ["--since", str(kept)]
    return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT)


def check_after_crash(settings: Settings, run: WriterRun, why: str) -> None:
    """Everything the harness requires of a workspace whose writer was just killed."""
    assert run.returncode in (-signal.SIGKILL, 0), f"{why}: writer failed:\n{run.stderr}"
    assert integrity_check(settings) == ["ok"], f"{why}: SQLite integrity_check"

    last = run.receipts[-1]["checkpoint"] if run.receipts else None
    cli = cli_log_verify(settings, last)
    assert cli.returncode == 0, f"{why}: clearance log verify: {cli.stdout}{cli.stderr}"

    ws = Workspace(settings)
    try:
        report = verify_log(ws, Checkpoint.from_json(last) if last else None)
        assert report.failures == [], f"{why}: verify_log"
        with ws.engine.connect() as conn:
            stored = {(c.size, c.root, c.signature) for c in repo.checkpoints(conn)}
            referenced = set(conn.execute(sa.select(t.evidence.c.digest)).scalars())
        for receipt in run.receipts:
            cp = Checkpoint.from_json(receipt["checkpoint"])
            assert receipt["seq"] <= cp.size <= report.events, f"{why}: receipt {receipt}"
            assert (cp.size, cp.root, cp.signature) in stored, f"{why}: lost checkpoint {cp}"
            if receipt["digest"]:
                referenced.add(receipt["digest"])
        for digest in referenced:  # in the blob store, or held in the database
            assert ws.blobs.exists(digest), f"{why}: blob {digest} is referenced but missing"
        for path in (settings.blob_root / "sha256").glob("*/*"):
            digest = "sha256:" + path.parent.name + path.name
            assert sha256_name(path) == digest, f"{why}: blob {path} is half-written"
        _, failures = verify_workspace(ws)
        assert failures == [], f"{why}: verify_workspace"
    finally:
        ws.close()


def check_usable(settings: Settings, plan: Path, seed: int, why: str) -> None:
    """A new writer completes a few writes after the crash, and the log still verifies."""
    ws = Workspace(settings)
    try:
        before = verify_log(ws).events
        after = run_writer(settings, plan, "after", seed, WRITES_AFTER, kill_after=None)
        assert after.returncode == 0 and after.done, f"{why}: write after crash:\n{after.stderr}"
        assert len(after.receipts) == WRITES_AFTER, f"{why}: receipts after crash"
        assert all(r["seq"] > before for r in after.receipts), f"{why}: receipts after crash"
        assert verify_log(ws).failures == [], f"{why}: verify_log after the new writes"
    finally:
        ws.close()


def crash_run(root: Path, max_delay: float) -> int:
    """Kill a writer at a random moment and check the workspace; returns writes reached."""
    seed = draw_seed()
    why = f"seed {seed} (rerun with CLEARANCE_CRASH_SEED={seed})"
    settings = prepare(root)
    plan = root / "plan"
    delay = random.Random(seed).uniform(0.0, max_delay)
    run = run_writer(settings, plan, "crash", seed, WRITES, kill_after=delay)
    why += f", killed {delay:.3f}s after ready, after {len(run.receipts)} receipts"
    check_after_crash(settings, run, why)
    check_usable(settings, plan, seed, why)
    return len(run.receipts)


@pytest.mark.parametrize("run", range(RUNS))
def test_killed_writer_loses_nothing_committed(tmp_path: Path, run: int) -> None:
    """After SIGKILL mid-write the workspace verifies, keeps every receipt, and works."""
    reached = crash_run(tmp_path, MAX_DELAY)
    print(f"crash run {run}: {reached} writes")


@pytest.mark.soak
@pytest.mark.skipif(os.environ.get("CLEARANCE_SOAK") != "1", reason="set CLEARANCE_SOAK=1")
@pytest.mark.parametrize("run", range(SOAK_RUNS))
def test_soak_killed_writer_loses_nothing_committed(tmp_path: Path, run: int) -> None:
    """Soak: 100 crash runs, killed anywhere up to the end of the 1,000 writes, all hold."""
    reached = crash_run(tmp_path, SOAK_MAX_DELAY)
    print(f"soak run {run}: {reached} writes")
