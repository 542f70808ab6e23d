"""Concurrent writers lose nothing and duplicate nothing: approvals, people and evidence
written at once from threads and from separate processes (PostgreSQL and SQLite) all land,
each exactly once, under one gapless log that verifies, and the gate counts every approval.

Every writer has its own Workspace (its own engine), waits at a barrier, then writes; each
write reports its receipt or the traceback it raised, so a lost race shows as a named error.
"""

from __future__ import annotations

import contextlib
import itertools
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

from clearance.core.checkpoint import Checkpoint
from clearance.core.results import Status
from clearance.services.integrity import verify_workspace
from clearance.services.log import verify_log
from clearance.services.workspace import Workspace
from clearance.store import people as people_repo
from clearance.store import repository as repo
from clearance.store.records import EventRecord
from tests.builders import (
    ADMIN,
    acting,
    check,
    load,
    open_workspace,
    plan_document,
    register_signers,
    signoff_envelope,
    submit,
    write_plan_folder,
)
from tests.concurrency import writers
from tests.concurrency.writers import ROLE, Outcome

#: each test saturates both cores by itself: under `-n auto --dist loadgroup`, run them in turn
pytestmark = pytest.mark.xdist_group("concurrency")

#: a guard against hangs, not a budget: seconds a barrier or a writer may take (loaded CI)
TIMEOUT = 300.0

#: only the PostgreSQL param of the conftest's `database_url` (marked postgres)
on_postgres = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
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


def build_scene(root: Path, database_url: str | None, quorum: int) -> Scene:
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


SceneMaker = Callable[[int], Scene]
#: builds a writer on the thread's own Workspace (before the barrier)
WriterMaker = Callable[[Workspace], writers.Write]


@pytest.fixture
def make_scene(tmp_path: Path, database_url: str | None) -> Iterator[SceneMaker]:
    made: list[Scene] = []

    def make(quorum: int) -> Scene:
        made.append(build_scene(tmp_path, database_url, quorum))
        return made[-1]

    yield make
    for scene in made:
        scene.ws.close()


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


def in_threads(base: Workspace, makers: list[WriterMaker]) -> list[list[Outcome]]:
    """Run each writer in its own thread with its own Workspace, all released at once;
    the outcomes of each writer."""
    barrier = threading.Barrier(len(makers))

    def run(make: WriterMaker) -> list[Outcome]:
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
        return [f.result(TIMEOUT) for f in futures]


def in_processes(scene: Scene, processes: int, *, presigned: bool = False) -> list[list[Outcome]]:
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
                presigned,
            ),
        )
        for hand in deal(scene.signers, processes)
    ]
    for proc in procs:
        proc.start()
    try:
        # A writer that failed to start breaks the barrier; the outcome it sent says why.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(TIMEOUT)
        outcomes = [results.get(timeout=TIMEOUT) for _ in procs]
        for proc in procs:
            proc.join(TIMEOUT)
        assert [proc.exitcode for proc in procs] == [0] * processes, "a writer process failed"
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
    return outcomes


def approvers(scene: Scene, threads: int, *, presigned: bool = False) -> list[WriterMaker]:
    """`threads` writers sharing the scene's signers, each approving in turn."""
    return [
        lambda ws, hand=hand: writers.approvals(ws, scene.plan_path, hand, presigned=presigned)
        for hand in deal(scene.signers, threads)
    ]


# -- what must hold afterwards --------------------------------------------------------------


def landed(writers_outcomes: list[list[Outcome]]) -> list[Outcome]:
    """Every write of every writer, after checking that none failed and that the writers
    really wrote at the same time (the log indexes of two of them interleave)."""
    outcomes = [o for group in writers_outcomes for o in group]
    failed = [o for o in outcomes if o.error is not None]
    detail = "\n".join(f"{o.kind} {o.who}:\n{o.error}" for o in failed[:3])
    assert not failed, f"{len(failed)} of {len(outcomes)} writes failed; first ones:\n{detail}"
    spans = sorted(
        (min(seqs), max(seqs))
        for group in writers_outcomes
        if (seqs := [o.seq for o in group if o.seq is not None])
    )
    overlaps = [b for a, b in itertools.pairwise(spans) if b[0] < a[1]]
    assert overlaps, f"the writers wrote one after another, not at once: {spans}"
    return outcomes


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
        cp = Checkpoint.from_json(o.checkpoint)
        assert o.seq <= cp.size <= len(events), f"receipt of {o.who}: {o.seq}, {cp}"
        assert (cp.size, cp.root, cp.signature) in stored, f"lost checkpoint {cp}"
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


@on_postgres
def test_postgres_100_approvals_from_threads_all_count(make_scene: SceneMaker) -> None:
    """100 people's approvals written at once from 10 threads (statements signed before the
    race, so only the writes contend): 100 rows, 100 events, one receipt each, a log that
    verifies and a quorum of 100 of 100."""
    s = make_scene(100)
    outcomes = landed(in_threads(s.ws, approvers(s, 10, presigned=True)))
    assert len(outcomes) == 100
    assert_approved(s, outcomes, assert_log_holds(s.ws, outcomes))


@on_postgres
def test_postgres_100_approvals_from_processes_all_count(make_scene: SceneMaker) -> None:
    """100 people's approvals written at once from 5 processes, each with its own engine and
    keys (statements signed before the race): nothing lost, nothing duplicated, quorum of
    100 of 100."""
    s = make_scene(100)
    outcomes = landed(in_processes(s, 5, presigned=True))
    assert len(outcomes) == 100
    assert_approved(s, outcomes, assert_log_holds(s.ws, outcomes))


@on_postgres
def test_postgres_people_evidence_and_approvals_at_once(
    make_scene: SceneMaker, tmp_path: Path
) -> None:
    """40 approvals, 40 people added by the administrator and 40 files attached to another
    system's candidate (first submitted by whichever write wins), all at once from 12
    threads: every write lands exactly once and the log verifies."""
    s = make_scene(40)
    other = write_plan_folder(tmp_path / "other", document=quorum_plan(1, "fraud-detection"))
    files = []
    for i in range(40):
        path = other.parent / "docs" / f"uat-{i:02d}.md"
        path.write_text(f"# User acceptance testing, session {i}\nAll tasks passed.\n")
        files.append(path)
    newcomers = [f"newcomer-{i:02d}@example.com" for i in range(40)]

    makers = approvers(s, 4)
    for hand in deal(newcomers, 4):
        makers.append(lambda ws, hand=hand: writers.people(ws, hand))
    for hand in deal(files, 4):
        makers.append(lambda ws, hand=hand: writers.evidence(ws, other, "uat", hand))
    outcomes = landed(in_threads(s.ws, makers))

    assert Counter(o.kind for o in outcomes) == {"approval": 40, "person": 40, "evidence": 40}
    events = assert_log_holds(s.ws, outcomes)
    candidate = acting(s.ws, None).candidate(load(s.ws, other))
    with s.ws.engine.connect() as conn:
        people = {p.name: p for p in people_repo.all_people(conn)}
        attached = repo.evidence_of(conn, candidate)
    assert sorted(people) == sorted([ADMIN, *s.signers, *newcomers])
    assert all(people[n].holds(ROLE) and len(people[n].keys) == 1 for n in newcomers)
    registered = [e.subject for e in events if e.type == "person.registered"]
    assert sorted(registered) == sorted(people)
    assert sorted((e.criterion_id, e.name) for e in attached) == [("uat", p.name) for p in files]
    added = [
        f["name"]
        for e in events
        if e.type == "evidence.added" and e.subject == candidate
        for f in e.payload["files"]
    ]
    assert sorted(added) == [p.name for p in files]
    systems = [e.subject for e in events if e.type == "system.registered"]
    assert sorted(systems) == ["credit-scoring", "fraud-detection"]
    assert_approved(s, [o for o in outcomes if o.kind == "approval"], events)


# -- both databases ------------------------------------------------------------------------


def test_one_statement_sent_at_once_from_threads_is_recorded_once(
    make_scene: SceneMaker,
) -> None:
    """One signed approval sent 3 times by each of 4 threads at once (a client retrying a
    timed-out request): one approval row and one event; every other send gets that same
    record back (or a Clearance error), never a driver error."""
    s = make_scene(1)
    envelope = signoff_envelope(s.ws, s.local(), ROLE, s.signers[0])
    outcomes = [
        o
        for group in in_threads(s.ws, [lambda ws: writers.replay(ws, envelope, 3)] * 4)
        for o in group
    ]
    refused = [o for o in outcomes if o.error is not None]
    assert [o.error for o in refused if o.code is None] == [], "a raw exception escaped"
    with s.ws.engine.connect() as conn:
        rows = repo.signed_approvals(conn, "credit-scoring", "2.4.0")
    approved = [e for e in all_events(s.ws) if e.type == "approval.approved"]
    assert (len(rows), len(approved)) == (1, 1)
    assert verify_log(s.ws).failures == []


# -- SQLite ---------------------------------------------------------------------------------


@on_sqlite
def test_sqlite_60_approvals_from_processes_all_count(make_scene: SceneMaker) -> None:
    """60 people approving at once from 4 processes on the workspace's SQLite file, each
    signing what it reads while the others write: every approval stored and logged once,
    the log verifies, quorum of 60 of 60."""
    s = make_scene(60)
    outcomes = landed(in_processes(s, 4))
    assert len(outcomes) == 60
    assert_approved(s, outcomes, assert_log_holds(s.ws, outcomes))


@on_sqlite
def test_sqlite_40_approvals_from_threads_all_count(make_scene: SceneMaker) -> None:
    """40 people approving at once from 8 threads on SQLite: all stored and logged once."""
    s = make_scene(40)
    outcomes = landed(in_threads(s.ws, approvers(s, 8)))
    assert len(outcomes) == 40
    assert_approved(s, outcomes, assert_log_holds(s.ws, outcomes))
