"""The audit log at 10^3 to 10^6 events: append rate (through the services, one durable
transaction with its signed checkpoint per event) against bare SQLite, inclusion proofs,
full verification, and one release's pack export, with curves of each against the size.

Logs of 10^6 events cannot be built one service transaction at a time in a benchmark's
time, so `bulk_load` writes valid events, their tree levels and a signed checkpoint per
50,000 events in big transactions (through the same `seal` as every write). Only the
measured appends go through the services one at a time. Built logs are kept under
bench/.cache/ (gitignored) and copied to bench/.work/ before each measurement, so a rerun
starts in seconds and the cache is never changed by one.

    .venv/bin/python -m bench.log_scale            # all sizes, prints JSON
    BENCH_LOG_SIZES=1000,10000 .venv/bin/python -m bench.log_scale
"""

from __future__ import annotations

import cProfile
import hashlib
import io
import json
import os
import pstats
import random
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from bench.common import CLEARANCE, WORK, env_for, sh, timed, write_small_plan  # noqa: E402

CACHE = HERE / ".cache"
SIZES = (10**3, 10**4, 10**5, 10**6)
BULK = 50_000  # events per bulk transaction (and per signed checkpoint)
APPENDS = 150  # measured single-event writes per size
PROVES = 200  # measured inclusion proofs per size
Curve = dict[str, Any]


# -- building logs ----------------------------------------------------------------------------


def _open(root: Path) -> Any:
    from clearance.services.workspace import Workspace
    from clearance.settings import Settings

    return Workspace(Settings(workspace=root / ".clearance", home=root / ".home"))


def _fresh(root: Path) -> None:
    """A workspace with one submitted, checked release, so there is a pack to export."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    write_small_plan(root)
    env = env_for(root)
    for args in (["init"], ["env", "declare", "prod"], ["plan", "submit", "plan.yaml", "-m", "1"]):
        sh(CLEARANCE, *args, cwd=root, env=env)
    sh(CLEARANCE, "check", "plan.yaml", cwd=root, env=env, check=False)  # NO-GO is exit 1


def bulk_load(ws: Any, count: int, batch: int = BULK) -> None:
    """Append `count` valid events: canonical entries, leaf hashes, every tree node they
    complete and a signed checkpoint per `batch` events, each batch one transaction."""
    import sqlalchemy as sa

    from clearance.core.digest import canonical_json
    from clearance.core.levels import StreamingTree, perfect_subtrees
    from clearance.store import tables as t
    from clearance.store import tree
    from clearance.store.records import to_time

    while count > 0:
        take = min(batch, count)
        with ws.transaction() as uow:
            conn = uow.conn
            size = conn.execute(sa.select(sa.func.max(t.events.c.seq))).scalar() or 0
            frontier = perfect_subtrees(0, size)
            found = tree.nodes(conn, frontier)
            levels = StreamingTree(size, [found[n] for n in frontier])
            at = to_time(ws.clock())
            rows, leaves = [], []
            for seq in range(size + 1, size + take + 1):
                payload = {"criterion_id": f"c{seq % 500}", "digest": "sha256:" + "ab" * 32}
                event = {
                    "seq": seq,
                    "at": at,
                    "type": "evidence.added",
                    "actor": "bench@example.com",
                    "system_id": "bulk",
                    "subject": f"sha256:{seq % 997:064x}",
                    "payload": payload,
                }
                entry = canonical_json(event)
                leaf = hashlib.sha256(b"\x00" + entry).digest()
                leaves.append(leaf)
                rows.append(
                    {
                        **event,
                        "payload": json.dumps(payload, sort_keys=True, separators=(",", ":")),
                        "entry": entry.decode(),
                        "leaf_hash": leaf.hex(),
                    }
                )
            conn.execute(t.events.insert(), rows)
            levels.extend(leaves)
            tree.insert_nodes(conn, levels.nodes())
            uow.appended.append(size + take)  # the transaction ends with its signed checkpoint
            uow.last_at = at
        count -= take


def _events(ws: Any) -> int:
    from clearance.store import repository as repo

    with ws.engine.connect() as conn:
        return repo.event_count(conn)


def cached_log(n: int) -> Path:
    """The folder of a workspace whose log holds `n` events (and a release), built once from
    the largest smaller cached log, then kept in bench/.cache/."""
    root = CACHE / f"log-{n}"
    if (root / "READY").exists():
        return root
    smaller = [int(p.name[4:]) for p in CACHE.glob("log-*") if (p / "READY").exists()]
    base = max((s for s in smaller if s < n), default=None)
    shutil.rmtree(root, ignore_errors=True)
    if base is None:
        _fresh(root)
    else:
        shutil.copytree(CACHE / f"log-{base}", root)
        (root / "READY").unlink()
    ws = _open(root)
    try:
        have = _events(ws)
        if have < n:
            bulk_load(ws, n - have)
    finally:
        ws.close()
    (root / "READY").write_text(str(n))
    return root


def working_copy(n: int) -> Path:
    """A copy of the cached log of `n` events that a measurement may append to."""
    source, root = cached_log(n), WORK / f"log-{n}"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(source, root)
    return root


# -- measuring --------------------------------------------------------------------------------


def append_rate(ws: Any, count: int = APPENDS) -> float:
    """Durable single-event writes per second through the services, each its own
    transaction ending with its signed checkpoint (best of 3 runs)."""
    rates = []
    for run in range(3):
        start = time.perf_counter()
        for i in range(count):
            with ws.transaction() as uow:
                uow.append(
                    "bench.append",
                    actor="bench@example.com",
                    subject=f"append-{run}-{i}",
                    payload={"i": i},
                )
        rates.append(count / (time.perf_counter() - start))
    return max(rates)


def bare_sqlite_rate(folder: Path, count: int = APPENDS) -> float:
    """Single-row inserts per second into bare SQLite, synchronous=FULL, one transaction
    each, in the same journal mode as the workspace's (WAL) (best of 3 runs)."""
    path = folder / "bare.db"
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    body = "x" * 300  # about one event's entry
    rates = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(count):
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t (body) VALUES (?)", (body,))
            db.execute("COMMIT")
        rates.append(count / (time.perf_counter() - start))
    db.close()
    return max(rates)


def prove_ms(ws: Any, n: int, count: int = PROVES) -> float:
    """Mean milliseconds of one inclusion proof against the latest checkpoint."""
    from clearance.services.log import prove

    picks = [random.Random(i).randint(1, n) for i in range(count)]
    prove(ws, picks[0])  # the pool's first connection is not the proof's cost
    start = time.perf_counter()
    for seq in picks:
        prove(ws, seq)
    return 1000 * (time.perf_counter() - start) / count


def verify_seconds(ws: Any) -> tuple[float, float]:
    """(wall, CPU) seconds of `verify_log` over the whole log: the CPU time tells what the
    wall time would be on an idle machine when other work shares the cores."""
    from clearance.services.log import verify_log

    start, cpu = time.perf_counter(), time.process_time()
    report = verify_log(ws)
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    if report.failures:
        raise SystemExit(f"the benchmark's log does not verify: {report.failures[:3]}")
    return took, cpu


def bare_hashing_seconds(ws: Any) -> float:
    """CPU seconds of hashing every entry of the log with nothing else (entries already in
    memory); compared with the verifier's CPU seconds, as both run in this one process."""
    import sqlalchemy as sa

    with ws.engine.connect() as conn:
        entries = [e.encode() for e in conn.execute(sa.text("SELECT entry FROM events")).scalars()]
    sha = hashlib.sha256
    start = time.process_time()
    for e in entries:
        sha(b"\x00" + e).digest()
    return time.process_time() - start


def export_seconds(root: Path) -> float:
    """`clearance export` of the release's pack, process start included."""
    took, _ = timed([CLEARANCE, "export", "plan.yaml", "-o", str(root / "pack.zip")], root)
    return took


def measure(sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    """Figures (at the largest size, 10^6 by default) and a curve per measure by size."""
    sizes = tuple(sorted(sizes))
    WORK.mkdir(parents=True, exist_ok=True)
    points: dict[str, list[list[float]]] = {
        k: []
        for k in (
            "append",
            "bare",
            "ratio",
            "prove",
            "verify",
            "verify_cpu",
            "export",
            "verify_rate",
        )
    }
    hashing: dict[int, float] = {}
    for n in sizes:
        print(f"bench: log of {n} events …", file=sys.stderr, flush=True)
        root = working_copy(n)
        ws = _open(root)
        try:
            size = _events(ws)
            points["bare"].append([n, bare_sqlite_rate(WORK)])
            points["append"].append([n, append_rate(ws)])
            points["ratio"].append([n, points["append"][-1][1] / points["bare"][-1][1]])
            points["prove"].append([n, prove_ms(ws, size)])
            verify_seconds(ws)  # warm: the first pass also pays for imports and page cache
            took, cpu = verify_seconds(ws)
            points["verify"].append([n, took])
            points["verify_cpu"].append([n, cpu])
            points["verify_rate"].append([n, _events(ws) / took])
            if n <= 10**5:
                hashing[n] = bare_hashing_seconds(ws) / cpu
        finally:
            ws.close()
        points["export"].append([n, export_seconds(root)])
        shutil.rmtree(root, ignore_errors=True)
    top = sizes[-1]
    at = {k: dict((int(x), y) for x, y in v) for k, v in points.items()}
    suffix = "_1m" if top == 10**6 else f"_{top}"
    figures = {
        "append_ratio_vs_sqlite": round(at["ratio"][top], 3),
        "append_writes_per_s" + suffix: round(at["append"][top], 1),
        "bare_sqlite_writes_per_s": round(at["bare"][top], 1),
        "append_slowdown" + suffix: round(at["append"][sizes[0]] / at["append"][top], 3),
        "log_prove_ms" + suffix: round(at["prove"][top], 3),
        "log_verify_seconds" + suffix: round(at["verify"][top], 3),
        "log_verify_events_per_s" + suffix: round(at["verify_rate"][top]),
        "log_verify_cpu_seconds" + suffix: round(at["verify_cpu"][top], 3),
        "pack_export_seconds" + suffix: round(at["export"][top], 3),
        "pack_export_seconds_smallest_log": round(at["export"][sizes[0]], 3),
    }
    if hashing:
        biggest = max(hashing)
        figures["log_verify_vs_bare_hashing"] = round(hashing[biggest], 3)
        figures["log_verify_vs_bare_hashing_events"] = biggest
    curves = {
        "log_append_writes_per_s": _curve(points["append"], "durable appends per second"),
        "log_append_ratio_vs_sqlite": _curve(points["ratio"], "appends / bare SQLite inserts"),
        "log_prove_ms": _curve(points["prove"], "ms per inclusion proof"),
        "log_verify_seconds": _curve(points["verify"], "seconds to verify the whole log"),
        "log_verify_events_per_s": _curve(points["verify_rate"], "events verified per second"),
        "pack_export_seconds": _curve(points["export"], "seconds to export one release's pack"),
    }
    return {"figures": figures, "curves": curves}


def _curve(points: list[list[float]], label: str) -> Curve:
    return {"x": "events in the log", "y": label, "points": [[int(x), y] for x, y in points]}


# -- where the time goes ----------------------------------------------------------------------


def profile(name: str, n: int = 10**6, top: int = 15) -> str:
    """A cumulative profile of what figure `name` measures, on the log of `n` events."""
    root = working_copy(n)
    ws = _open(root)
    try:
        size = _events(ws)
        work: dict[str, Callable[[], object]] = {
            "append_ratio_vs_sqlite": lambda: append_rate(ws, 50),
            "append_slowdown_1m": lambda: append_rate(ws, 50),
            "log_prove_ms_1m": lambda: prove_ms(ws, size, 50),
            "log_verify_seconds_1m": lambda: verify_seconds(ws),
            "log_verify_vs_bare_hashing": lambda: verify_seconds(ws),
        }
        if name not in work:
            from bench.report import profile_command

            return profile_command(["export", "plan.yaml", "-o", str(root / "p.zip")], root, top)
        profiler = cProfile.Profile()
        profiler.runcall(work[name])
    finally:
        ws.close()
        shutil.rmtree(root, ignore_errors=True)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


if __name__ == "__main__":
    chosen = os.environ.get("BENCH_LOG_SIZES")
    found = measure(tuple(int(s) for s in chosen.split(",")) if chosen else SIZES)
    print(json.dumps(found, indent=2))
