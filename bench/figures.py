"""The figures of the gate and of ingestion, each with the curve of how it grows with size.

A curve is {"x": label, "y": label, "points": [[size, cost], ...]}; every cost is measured
through the real command, process start included, unless its name says otherwise.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from bench.common import (
    BIN,
    CLEARANCE,
    FULL,
    GIB,
    MIB,
    WORK,
    best,
    env_for,
    make_big_file,
    sh,
    timed,
    workspace,
)

#: evidence files per criterion in the generated plans (500 criteria for 2,000 files)
FILES_PER_CRITERION = 4


CHECK = [CLEARANCE, "check", "plan.yaml", "--format", "json"]


def check_curve() -> tuple[dict[str, float], dict[str, dict]]:
    """`clearance check` of generated plans with 10 to 10^3 evidence files (10^4 with
    BENCH_FULL=1), cold (every file ingested) and warm (nothing changed); `check_500` is
    the plan of 500 criteria and 2,000 files."""
    from bench.generate import write_large_plan

    sizes = [10, 100, 1000, 2000] + ([10_000] if FULL else [])
    cold_points, warm_points, figures = [], [], {}
    for files in sizes:
        criteria = max(2, files // FILES_PER_CRITERION)
        root = workspace(f"check{files}", lambda r, c=criteria, f=files: write_large_plan(r, c, f))
        os.sync()  # the generator's writeback is not the gate's cost
        cold, _ = timed(CHECK, root, ok=(0, 1))
        time.sleep(2.1)  # past the digest cache's racy window, as evidence made earlier is
        warm = min(timed(CHECK, root, ok=(0, 1))[0] for _ in range(3))
        cold_points.append([files, round(cold, 3)])
        warm_points.append([files, round(warm, 3)])
        if files == 2000:
            figures = {
                "check_500_seconds": round(cold, 3),
                "check_500_seconds_warm": round(warm, 3),
            }
        shutil.rmtree(root, ignore_errors=True)
    label = {"x": "evidence files (criteria = files / 4)", "y": "seconds, process start included"}
    curves = {
        "check_cold_seconds": {**label, "points": cold_points, "plot": "check_seconds"},
        "check_warm_seconds": {**label, "points": warm_points, "plot": "check_seconds"},
    }
    return figures, curves


def ingest_sizes() -> list[int]:
    """64 MiB to 1 GiB; 4 GiB with BENCH_4GIB=1 when the disk has three times that free."""
    sizes = [64 * MIB, 256 * MIB, GIB]
    if os.environ.get("BENCH_4GIB") == "1" and shutil.disk_usage(WORK).free > 12 * GIB:
        sizes.append(4 * GIB)
    return sizes


def ingest_curve() -> tuple[dict[str, float], dict[str, dict]]:
    """`clearance evidence add` of one artifact (process start included) against `openssl dgst
    -sha256` of the same file, at each size; the peak RSS of every ingestion."""
    ours_points, ratio_points, rss_points, figures = [], [], [], {}
    rss_peak = 0.0
    for size in ingest_sizes():
        big = make_big_file(WORK / f"artifact-{size // MIB}M.bin", size)
        openssl = best(lambda b=big: sh("openssl", "dgst", "-sha256", str(b)), runs=3)
        times, rss = [], []
        for i in range(2 if size > GIB else 3):
            root = workspace(f"ingest{i}")
            os.sync()  # no run pays for another's writeback
            add = [CLEARANCE, "evidence", "add", str(big), "--plan", "plan.yaml"]
            took, peak = timed([*add, "--criterion", "doc"], root)
            times.append(took)
            rss.append(peak)
            shutil.rmtree(root, ignore_errors=True)
        ours = min(times)
        rss_peak = max(rss_peak, *rss)
        mib = size // MIB
        ours_points.append([mib, round(ours, 3)])
        ratio_points.append([mib, round(openssl / ours, 3)])
        rss_points.append([mib, round(max(rss), 1)])
        if size == GIB:  # the goal's size
            figures = {
                "ingest_ratio_vs_openssl": round(openssl / ours, 3),
                "ingest_gib_per_s": round(size / GIB / ours, 3),
                "openssl_gib_per_s": round(size / GIB / openssl, 3),
                **durable_copy(big, ours),
            }
        if size > GIB:
            big.unlink()  # 4 GiB is not kept between runs
    figures["ingest_peak_rss_mib"] = round(rss_peak, 1)
    x = "artifact size (MiB)"
    curves = {
        "ingest_seconds": {"x": x, "y": "seconds, process start included", "points": ours_points},
        "ingest_ratio_vs_openssl": {
            "x": x,
            "y": "openssl time / ingest time",
            "points": ratio_points,
            "flat": True,
        },
        "ingest_peak_rss_mib": {"x": x, "y": "peak RSS (MiB)", "points": rss_points, "flat": True},
    }
    return figures, curves


def durable_copy(big: Path, ingest: float) -> dict[str, float]:
    """The ceiling the disk sets: `cp` of the largest artifact followed by `sync` of the copy
    (what ingestion must at least do, besides hashing), against ingestion of it."""
    dest = WORK / "copy.bin"

    def copy() -> None:
        dest.unlink(missing_ok=True)
        os.sync()
        sh("cp", str(big), str(dest))
        sh("sync", str(dest))

    took = best(copy, runs=2)
    dest.unlink(missing_ok=True)
    size = big.stat().st_size / GIB
    return {
        "cp_sync_gib_per_s": round(size / took, 3),
        "ingest_ratio_vs_cp_sync": round(took / ingest, 3),
    }


def digest_ratio() -> dict[str, float]:
    """Hashing a 1 GiB file in this process against `openssl dgst -sha256` of it."""
    from clearance.blobs import file_digest

    big = make_big_file(WORK / f"artifact-{GIB // MIB}M.bin", GIB)
    file_digest(big)  # warm the page cache for both
    ours = best(lambda: file_digest(big))
    openssl = best(lambda: sh("openssl", "dgst", "-sha256", str(big)))
    return {
        "digest_ratio_vs_openssl": round(openssl / ours, 3),
        "digest_gib_per_s": round(1 / ours, 3),
    }


def rehash_speedup() -> dict[str, float]:
    """Second ingestion of an unchanged 1 GiB file against the first, in the service."""
    from clearance.client.local import LocalClient
    from clearance.services.evidence import add_evidence
    from clearance.services.workspace import Workspace
    from clearance.settings import Settings

    big = make_big_file(WORK / f"artifact-{GIB // MIB}M.bin", GIB)
    root = workspace("rehash")
    settings = Settings.from_env(env_for(root), workspace=root / ".clearance")
    ws = Workspace(settings)
    me = LocalClient(ws)
    local = me.plan(root / "plan.yaml")

    def add() -> None:
        blob = me.store_file(big, "doc", None)
        add_evidence(ws, me.principal("evidence.add"), local.loaded, {}, "doc", big.name, blob)

    first = best(add, runs=1)
    second = best(add, runs=5)
    ws.close()
    shutil.rmtree(root, ignore_errors=True)
    return {"rehash_speedup": round(first / second, 1), "rehash_second_s": round(second, 4)}


def help_ratio() -> dict[str, float]:
    python = best(lambda: sh(str(BIN / "python"), "-c", "pass"), runs=10)
    helps = best(lambda: sh(CLEARANCE, "--help"), runs=10)
    return {
        "help_vs_python_ratio": round(helps / python, 2),
        "help_seconds": round(helps, 4),
        "python_seconds": round(python, 4),
    }


def environment_capture_ratio() -> dict[str, float]:
    """`capture_environment` against listing installed distributions with importlib.metadata
    (every METADATA file parsed), in the same run; above 1 is faster."""
    from importlib import metadata

    from clearance.integrations.environment import capture_environment

    def baseline() -> dict[str, str]:
        return {d.metadata["Name"]: d.version for d in metadata.distributions()}

    baseline()  # warm the file system cache for both
    capture_environment("warm-up")
    bare = best(baseline, runs=10)
    ours = best(lambda: capture_environment("bench"), runs=10)
    return {"env_capture_vs_metadata_listing": round(bare / ours, 3)}
