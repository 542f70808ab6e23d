"""Concurrent writers lose nothing and duplicate nothing: approvals, people and evidence
written at once from threads and from separate processes (PostgreSQL and SQLite) all land,
each exactly once, under one gapless log that verifies, and the gate counts every approval.

Every writer has its own Workspace (its own engine), waits at a barrier, then writes; each
write reports its receipt or the traceback it raised, so a lost race shows as a named error.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from clearance.core.results import Status
from clearance.services.integrity import verify_workspace
from clearance.services.log import verify_log
from clearance.services.workspace import Workspace
from clearance.store import people as people_repo
from clearance.store import repository as repo
from clearance.store.records import EventRecord
from tests.builders import (
    ADMIN,
    check,
    load,
    open_workspace,
    plan_document,
    register_signers,
    submit,
    write_plan_folder,
)
from tests.concurrency import writers
from tests.concurrency.writers import ROLE, Outcome

#: seconds any one writer, barrier or result may take before the test gives up
TIMEOUT = 120.0

on_postgres = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]
on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass
class Scene:
    """A workspace whose submitted candidate needs `len(signers)` approvals in ROLE."""

    ws: Workspace
    plan_path: Path
    signers: list[str]

    def local(self) -> Any:
        return load(self.ws, self.plan_path)


def quorum_plan(quorum: int, system: str = "credit-scoring") -> dict[str, Any]:
    """The builders' plan, its approval criterion asking for `quorum` distinct people."""
    document = plan_document()
    document["system"] = {**document["system"], "id": system}
    document["criteria"] = [c for c in document["criteria"] if c["kind"] != "approval"] + [
        {
            "id": "signoff",
            "kind": "approval",
            "roles": [{"role": ROLE, "min": quorum}],
            "distinct_people": True,
        }
    ]
    return document


def signer_names(count: int) -> list[str]:
    return [f"signer-{i:03d}@example.com" for i in range(count)]


def scene(root: Path, database_url: str | None, quorum: int) -> Scene:
    """`quorum` people registered in ROLE; the plan submitted by ADMIN and checked, so its
    evidence is attached before anyone signs."""
    ws = open_workspace(root / ".clearance", database_url)
    signers = signer_names(quorum)
    register_signers(ws, {name: [ROLE] for name in signers})
    plan_path = write_plan_folder(root / "project", document=quorum_plan(quorum))
    local = load(ws, plan_path)
    submit(ws, local, ADMIN)
    check(ws, local)
    return Scene(ws, plan_path, signers)


@pytest.fixture
def close_after() -> Iterator[list[Workspace]]:
    opened: list[Workspace] = []
    yield opened
    for ws in opened:
        ws.close()


def pem(key: Any) -> bytes:
    return key.private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def deal(items: list[Any], hands: int) -> list[list[Any]]:
    """`items` dealt round-robin into `hands` lists."""
    return [items[i::hands] for i in range(hands)]


# -- running writers ------------------------------------------------------------------------


def in_threads(
    base: Workspace, makers: list[Callable[[Workspace], writers.Write]]
) -> list[Outcome]:
    """Run each writer in its own thread with its own Workspace, all released at once."""
    barrier = threading.Barrier(len(makers))

    def run(make: Callable[[Workspace], writers.Write]) -> list[Outcome]:
        ws = Workspace(base.settings)
        ws.keys = dict(base.keys)
        try:
            try:
                write = make(ws)
                _ = ws.engine, ws.blobs, ws.signing_key  # open everything before the race
            except BaseException:
                barrier.abort()
                raise
            barrier.wait(TIMEOUT)
            return write()
        finally:
            ws.close()

    with ThreadPoolExecutor(len(makers)) as pool:
        futures = [pool.submit(run, make) for make in makers]
        return [outcome for f in futures for outcome in f.result(TIMEOUT)]


def in_processes(scene: Scene, processes: int) -> list[Outcome]:
    """Approve from `processes` fresh interpreters (spawn) sharing the signers, each with its
    own Workspace built from the settings and its signers' private keys."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=writers.sign_in_process,
            args=(
                scene.ws.settings,
                scene.plan_path,
                [(name, pem(scene.ws.keys[name])) for name in hand],
                barrier,
                results,
            ),
        )
        for hand in deal(scene.signers, processes)
    ]
    for proc in procs:
        proc.start()
    try:
        try:
            barrier.wait(TIMEOUT)
        except threading.BrokenBarrierError:
            pass  # a writer failed to start; the outcome it sent says why
        outcomes = [outcome for _ in procs for outcome in results.get(timeout=TIMEOUT)]
        for proc in procs:
            proc.join(TIMEOUT)
        assert [proc.exitcode for proc in procs] == [0] * processes, "a writer process failed"
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
    return outcomes


# -- what must hold afterwards --------------------------------------------------------------


def assert_no_errors(outcomes: list[Outcome]) -> None:
    failed = [o for o in outcomes if o.error is not None]
    detail = "\n".join(f"{o.kind} {o.who}:\n{o.error}" for o in failed[:3])
    assert not failed, f"{len(failed)} of {len(outcomes)} writes failed; first ones:\n{detail}"


def all_events(ws: Workspace) -> list[EventRecord]:
    with ws.engine.connect() as conn:
        return repo.events(conn, limit=1_000_000)


def assert_log_holds(ws: Workspace, outcomes: list[Outcome]) -> list[EventRecord]:
    """The log is gapless and verifies, and every receipt handed out is distinct and held
    by a stored checkpoint; returns the events."""
    events = all_events(ws)
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), "seq has gaps or repeats"
    receipts = Counter(o.seq for o in outcomes)
    assert [seq for seq, n in receipts.items() if n > 1] == [], "two writes got one receipt"
    with ws.engine.connect() as conn:
        stored = {(c.size, c.root, c.signature) for c in repo.checkpoints(conn)}
    for o in outcomes:
        assert o.seq is not None and o.checkpoint is not None
        cp = o.checkpoint
        assert o.seq <= cp["size"] <= len(events), f"receipt of {o.who}: {o.seq}, {cp}"
        assert (cp["size"], cp["root"], cp["signature"]) in stored, f"lost checkpoint {cp}"
    assert verify_log(ws).failures == []
    assert verify_workspace(ws)[1] == []
    return events


def assert_approved(scene: Scene, outcomes: list[Outcome], events: list[EventRecord]) -> None:
    """Every signer's approval is stored once, recorded by exactly one event (the one its
    receipt names), and the gate counts all of them."""
    ws, quorum = scene.ws, len(scene.signers)
    with ws.engine.connect() as conn:
        rows = repo.signed_approvals(conn, "credit-scoring", "2.4.0")
    assert len(rows) == quorum
    assert sorted(r.record.person for r in rows) == scene.signers
    approved = [e for e in events if e.type == "approval.approved"]
    assert len(approved) == quorum
    assert sorted(e.actor for e in approved) == scene.signers
    assert sorted(e.payload["approval_id"] for e in approved) == sorted(r.id for r in rows)
    by_seq = {e.seq: e for e in events}
    for o in outcomes:
        if o.kind == "approval":
            assert o.seq is not None
            event = by_seq[o.seq]
            assert (event.type, event.actor) == ("approval.approved", o.who)

    evaluation = check(ws, scene.local()).evaluation
    signoff = next(r for r in evaluation.results if r.id == "signoff")
    assert signoff.status == Status.PASSED, signoff.reason
    assert f"{ROLE}: {quorum} of {quorum}" in signoff.reason
    assert sorted(signoff.observed[ROLE]) == scene.signers
    assert verify_log(ws).failures == []


# -- PostgreSQL -----------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [10])
@on_postgres[0]
@on_postgres[1]
def test_postgres_100_approvals_from_threads_all_count(
    tmp_path: Path, database_url: str, threads: int, close_after: list[Workspace]
) -> None:
    """100 people approving at once from 10 threads: 100 rows, 100 events, one receipt
    each, a log that verifies and a quorum of 100 of 100."""
    s = scene(tmp_path, database_url, 100)
    close_after.append(s.ws)
    outcomes = in_threads(
        s.ws,
        [
            lambda ws, hand=hand: writers.approvals(ws, s.plan_path, hand)
            for hand in deal(s.signers, threads)
        ],
    )
    assert_no_errors(outcomes)
    assert len(outcomes) == 100
    assert_approved(s, outcomes, assert_log_holds(s.ws, outcomes))


@pytest.mark.parametrize("processes", [5])
@on_postgres[0]
@on_postgres[1]
def test_postgres_100_approvals_from_processes_all_count(
    tmp_path: Path, database_url: str, processes: int, close_after: list[Workspace]
) -> None:
    """100 people approving at once from 5 processes, each with its own engine and keys:
    nothing lost, nothing duplicated, quorum of 100 of 100."""
    s = scene(tmp_path, database_url, 100)
    close_after.append(s.ws)
    outcomes = in_processes(s, processes)
    assert_no_errors(outcomes)
    assert len(outcomes) == 100
    assert_approved(s, outcomes, assert_log_holds(s.ws, outcomes))


@on_postgres[0]
@on_postgres[1]
def test_postgres_people_evidence_and_approvals_at_once(
    tmp_path: Path, database_url: str, close_after: list[Workspace]
) -> None:
    """40 approvals, 40 people added by the administrator and 40 files attached to another
    system's candidate (not yet submitted), all at once from 12 threads: every write lands
    exactly once and the log verifies."""
    s = scene(tmp_path, database_url, 40)
    close_after.append(s.ws)
    other = write_plan_folder(tmp_path / "other", document=quorum_plan(1, "fraud-detection"))
    files = []
    for i in range(40):
        path = tmp_path / "other" / "docs" / f"uat-{i:02d}.md"
        path.write_text(f"# User acceptance testing, session {i}\nAll tasks passed.\n")
        files.append(path)
    newcomers = [f"newcomer-{i:02d}@example.com" for i in range(40)]

    makers: list[Callable[[Workspace], writers.Write]] = []
    for hand in deal(s.signers, 4):
        makers.append(lambda ws, hand=hand: writers.approvals(ws, s.plan_path, hand))
    for hand in deal(newcomers, 4):
        makers.append(lambda ws, hand=hand: writers.people(ws, hand))
    for hand in deal(files, 4):
        makers.append(lambda ws, hand=hand: writers.evidence(ws, other, "uat", hand))
    outcomes = in_threads(s.ws, makers)

    assert_no_errors(outcomes)
    assert Counter(o.kind for o in outcomes) == {"approval": 40, "person": 40, "evidence": 40}
    events = assert_log_holds(s.ws, outcomes)
    with s.ws.engine.connect() as conn:
        people = {p.name: p for p in people_repo.all_people(conn)}
        candidate = load(s.ws, other)
        digest = writers_candidate(s.ws, candidate)
        attached = repo.evidence_of(conn, digest)
    assert set(newcomers) <= set(people)
    assert len(people) == 1 + 40 + 40
    assert all(people[n].holds(ROLE) and len(people[n].keys) == 1 for n in newcomers)
    registered = [e.subject for e in events if e.type == "person.registered"]
    assert sorted(registered) == sorted([ADMIN, *s.signers, *newcomers])
    assert sorted((e.criterion_id, e.name) for e in attached) == [("uat", p.name) for p in files]
    added = [f for e in events if e.type == "evidence.added" and e.subject == digest
             for f in e.payload["files"]]  # fmt: skip
    assert sorted(f["name"] for f in added) == [p.name for p in files]
    submitted = [e for e in events if e.type == "system.registered"]
    assert sorted(e.subject for e in submitted) == ["credit-scoring", "fraud-detection"]
    assert_approved(s, [o for o in outcomes if o.kind == "approval"], events)


def writers_candidate(ws: Workspace, local: Any) -> str:
    from tests.builders import acting

    return acting(ws, None).candidate(local)


# -- SQLite ---------------------------------------------------------------------------------


@pytest.mark.parametrize("processes", [4])
@on_sqlite
def test_sqlite_60_approvals_from_processes_all_count(
    tmp_path: Path, database_url: None, processes: int, close_after: list[Workspace]
) -> None:
    """60 people approving at once from 4 processes on the workspace's SQLite file: every
    approval stored and logged once, the log verifies, quorum of 60 of 60."""
    s = scene(tmp_path, database_url, 60)
    close_after.append(s.ws)
    outcomes = in_processes(s, processes)
    assert_no_errors(outcomes)
    assert len(outcomes) == 60
    assert_approved(s, outcomes, assert_log_holds(s.ws, outcomes))


@pytest.mark.parametrize("threads", [8])
@on_sqlite
def test_sqlite_40_approvals_from_threads_all_count(
    tmp_path: Path, database_url: None, threads: int, close_after: list[Workspace]
) -> None:
    """40 people approving at once from 8 threads on SQLite: all stored and logged once."""
    s = scene(tmp_path, database_url, 40)
    close_after.append(s.ws)
    outcomes = in_threads(
        s.ws,
        [
            lambda ws, hand=hand: writers.approvals(ws, s.plan_path, hand)
            for hand in deal(s.signers, threads)
        ],
    )
    assert_no_errors(outcomes)
    assert len(outcomes) == 40
    assert_approved(s, outcomes, assert_log_holds(s.ws, outcomes))
