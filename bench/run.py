"""Benchmarks: figures against the issue's goals, each measured against a baseline in the
same run where it is a ratio, and curves of how cost grows with size.

`make bench` prints the table of goals (met or missed, with a profile for each miss) and the
machine it ran on, writes bench/results.json and draws bench/plots/*.png. BENCH_FULL=1 adds
the heavy sizes; BENCH_ONLY=check,ingest runs only the named steps.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from bench.common import GIB, MIB, WORK, best, make_big_file, workspace  # noqa: E402
from bench.report import machine, plot, profile_command, reasons, table, verdicts  # noqa: E402

Figures = dict[str, float]
Curves = dict[str, dict]


def log_figures() -> tuple[Figures, Curves]:
    """The log's figures and curves from bench/log_scale.py (events 10^3 to 10^6); where it
    is absent, `log_verify_vs_bare_hashing` at 10^5 events as measured here."""
    try:
        from bench.log_scale import measure
    except ImportError:
        return log_verify(), {}
    found = measure()
    if isinstance(found, dict) and "figures" in found:
        return dict(found["figures"]), dict(found.get("curves", {}))
    figures, curves = found
    return dict(figures), {k: _curve(k, v) for k, v in dict(curves).items()}


def _curve(name: str, curve: object) -> dict:
    """A curve as plotted: {"x", "y", "points"}; bare point lists are accepted too."""
    if isinstance(curve, dict):
        return curve
    return {"x": "events", "y": name, "points": [list(p) for p in curve]}  # type: ignore[union-attr]


def log_verify(n: int = 100_000) -> dict[str, float]:
    """`verify_log` over a workspace whose log holds `n` events (baseline: hashing the same
    entries with nothing else, in the same run)."""
    import hashlib

    from clearance.core.checkpoint import Checkpoint, checkpoint_message
    from clearance.core.digest import canonical_json
    from clearance.core.merkle import Frontier
    from clearance.services.log import verify_log
    from clearance.services.workspace import Workspace
    from clearance.settings import Settings
    from clearance.signing import b64
    from clearance.store import repository as repo
    from clearance.store import tables as t
    from clearance.store.records import to_time

    root = WORK / "log"
    shutil.rmtree(root, ignore_errors=True)
    ws = Workspace(Settings(workspace=root / ".clearance"))
    ws.create()
    with ws.engine.connect() as conn:
        start = repo.latest_checkpoint(conn)
    assert start is not None
    first = start[0].size + 1
    rows, leaves = [], []
    at = to_time(ws.clock())
    for seq in range(first, first + n):
        payload = {"criterion_id": f"c{seq % 500}", "digest": "sha256:" + "ab" * 32}
        event = {
            "seq": seq,
            "at": at,
            "type": "evidence.added",
            "actor": "bench",
            "system_id": "bench",
            "subject": "sha256:" + "cd" * 32,
            "payload": payload,
        }
        entry = canonical_json(event)
        leaf = hashlib.sha256(b"\x00" + entry).digest()
        leaves.append(leaf)
        rows.append(
            {
                **event,
                "payload": json.dumps(payload, sort_keys=True),
                "entry": entry.decode(),
                "leaf_hash": leaf.hex(),
            }
        )
    with ws.transaction() as uow:
        conn = uow.conn
        conn.execute(t.events.insert(), rows)
        frontier = Frontier.from_json(start[1]).extended(leaves)
        key = ws.signing_key
        message = checkpoint_message(frontier.size, frontier.root().hex(), at)
        cp = Checkpoint(
            frontier.size, frontier.root().hex(), at, key.key_id, b64(key.sign(message))
        )
        repo.insert_checkpoint(conn, cp, frontier.to_json())
    entries = [r["entry"].encode() for r in rows]
    baseline = best(lambda: [hashlib.sha256(b"\x00" + e).digest() for e in entries], runs=3)
    report = None

    def run() -> None:
        nonlocal report
        report = verify_log(ws)

    took = best(run, runs=3)
    assert report is not None and not report.failures, report
    ws.close()
    return {
        "log_verify_events_per_s": round(report.events / took),
        "log_verify_vs_bare_hashing": round(baseline / took, 3),
    }


def profilers() -> dict[str, Callable[[], str]]:
    """For each figure, how to show where its time goes when it misses its goal."""
    from bench.generate import write_large_plan

    def check() -> str:
        root = workspace("profile-check", lambda r: write_large_plan(r, 500, 2000))
        os.sync()
        return profile_command(["check", "plan.yaml", "--format", "json"], root)

    def ingest() -> str:
        big = make_big_file(WORK / f"artifact-{GIB // MIB}M.bin", GIB)
        root = workspace("profile-ingest")
        os.sync()
        args = ["evidence", "add", str(big), "--plan", "plan.yaml", "--criterion", "doc"]
        return profile_command(args, root)

    def help_() -> str:
        return profile_command(["--help"], WORK)

    found: dict[str, Callable[[], str]] = {
        "check_500_seconds": check,
        "ingest_ratio_vs_openssl": ingest,
        "ingest_peak_rss_mib": ingest,
        "help_vs_python_ratio": help_,
    }
    try:
        from bench.log_scale import profile as log_profile  # type: ignore[attr-defined]
    except ImportError:
        return found
    for name in (
        "log_verify_vs_bare_hashing",
        "log_prove_ms_1m",
        "pack_export_seconds_1m",
        "log_verify_seconds_1m",
        "append_ratio_vs_sqlite",
        "append_slowdown_1m",
    ):
        found[name] = lambda n=name: log_profile(n)
    return found


def steps() -> list[tuple[str, Callable[[], object]]]:
    from bench.api_ratio import api_ratio
    from bench.figures import (
        check_curve,
        digest_ratio,
        environment_capture_ratio,
        help_ratio,
        ingest_curve,
        rehash_speedup,
    )

    every = [
        ("help", help_ratio),
        ("check", check_curve),
        ("ingest", ingest_curve),
        ("digest", digest_ratio),
        ("rehash", rehash_speedup),
        ("env", environment_capture_ratio),
        ("log", log_figures),
        ("api", api_ratio),
    ]
    only = {s for s in os.environ.get("BENCH_ONLY", "").split(",") if s}
    return [(name, step) for name, step in every if not only or name in only]


def main() -> None:
    WORK.mkdir(exist_ok=True)
    host = machine()
    figures: Figures = {}
    curves: Curves = {}
    failed: dict[str, str] = {}
    for name, step in steps():
        print(f"bench: {name} …", file=sys.stderr, flush=True)
        try:
            found = step()
        except (Exception, SystemExit) as exc:  # one broken step must not hide the others
            failed[name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
            continue
        if isinstance(found, tuple):
            figures.update(found[0])
            curves.update(found[1])
        else:
            figures.update(found)  # type: ignore[arg-type]
        # What is measured so far survives a run stopped later on.
        partial = {"machine": host, "figures": figures, "curves": curves, "partial": True}
        (HERE / "results.json").write_text(json.dumps(partial, indent=2) + "\n")
    rows = verdicts(figures)
    why = reasons(rows, profilers())
    load_after = [round(x, 2) for x in os.getloadavg()]
    print(table(rows, host, load_after))
    for name, profile in why.items():
        print(f"\n{name} missed its goal; where the time goes (cumulative):\n{profile}")
    for name, error in failed.items():
        print(f"\nstep {name} failed: {error}")
    plots = plot(curves, HERE / "plots") if curves else []
    results = {
        "machine": {**host, "load_average_after": load_after},
        "goals": rows,
        "figures": figures,
        "curves": curves,
        "profiles": why,
        "failed": failed,
        "plots": [str(p.relative_to(HERE)) for p in plots],
    }
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote bench/results.json and {len(plots)} plots in bench/plots/", file=sys.stderr)
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
