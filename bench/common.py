"""What every benchmark shares: where it works, how it runs the command, how it times."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
WORK = HERE / ".work"
BIN = Path(sys.executable).parent
CLEARANCE = str(BIN / "clearance")
MIB = 1 << 20
GIB = 1 << 30
ENV = {k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")}
ENV["CLEARANCE_HOME"] = str(WORK / "identities")  # keys `init` makes stay with the runs
#: heavy sizes (10^4 evidence files, the 1 GiB check of ingestion) only when asked for
FULL = os.environ.get("BENCH_FULL") == "1"


def best(fn: Callable[[], object], runs: int = 3) -> float:
    """Best wall time of `runs` calls: the least disturbed by the other core's work."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def sh(
    *args: str, cwd: Path | None = None, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=cwd, env=env or ENV, check=check, capture_output=True, text=True
    )


def env_for(root: Path) -> dict[str, str]:
    """The environment of commands run on the workspace in `root` (its own identities)."""
    return {**ENV, "CLEARANCE_HOME": str(root / ".home")}


def timed(args: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one run of a command in workspace `cwd`, process
    start included."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=cwd, env=env_for(cwd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(args)} exited {code}: {err}")
    if proc.stderr:
        proc.stderr.close()
    return took, usage.ru_maxrss / 1024


def make_big_file(path: Path, size: int) -> Path:
    """A file of `size` random-looking bytes (1 MiB of urandom repeated), made once."""
    if path.exists() and path.stat().st_size == size:
        return path
    block = os.urandom(MIB)
    with path.open("wb") as fh:
        for _ in range(size // MIB):
            fh.write(block)
    return path


def write_small_plan(root: Path) -> None:
    (root / "plan.yaml").write_text(
        "apiVersion: clearance/v1\nkind: DeploymentPlan\n"
        "system: {id: bench, name: Bench, owner: owner@example.com}\n"
        "release: {version: '1.0', source: dev, target: prod}\n"
        "components: [{name: m, kind: model, version: '1', digest: 'sha256:"
        + "0"
        * 64
        + "'}]\nenvironments: {dev: {}, prod: {}}\n"
        "criteria: [{id: doc, kind: evidence}]\n"
    )


def workspace(name: str, plan: Callable[[Path], object] = write_small_plan) -> Path:
    """A new workspace under WORK/name with a plan written by `plan`, target declared."""
    root = WORK / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    plan(root)
    sh(CLEARANCE, "init", cwd=root, env=env_for(root))
    sh(CLEARANCE, "env", "declare", "prod", cwd=root, env=env_for(root))
    return root
