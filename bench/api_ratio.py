"""`GET /api/v1/status` served by Clearance against a bare Starlette endpoint answering the
same JSON, under the same load, measured in the same run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from bench.common import BIN, CLEARANCE, ENV, HERE, WORK, sh

WORKERS = 4  # server processes, for Clearance and for the bare baseline alike


def api_ratio(runs: int = 2) -> dict[str, float]:
    """`GET /api/v1/status` served by `clearance serve --workers 4` on PostgreSQL, against a
    bare Starlette endpoint answering the same JSON with 4 uvicorn workers (bench/bare.py),
    under the same load (bench/api_load.py: 32 keep-alive connections, 2 s warm-up, 10 s
    measured), the load generator sharing the 2 cores with the server alike. The two are
    measured in turn, `runs` times each, and the best run of each counts (the least
    disturbed by whatever else the machine does); the p99 is that run's."""
    import httpx

    from bench.api_team import DATABASE, drop_database, new_deployment, populate

    root = WORK / "api"
    shutil.rmtree(root, ignore_errors=True)
    team = new_deployment(root)
    env = {**ENV, **team.env}
    ours, theirs = [], []
    try:
        sh(CLEARANCE, "db", "upgrade", env=env)
        token = populate(team, WORK / "identities")
        port, bare_port = free_ports(2)
        url, bare_url = (f"http://127.0.0.1:{p}/api/v1/status" for p in (port, bare_port))
        serve = [CLEARANCE, "serve", "--workers", str(WORKERS), "--port", str(port)]
        bare = [str(BIN / "python"), str(HERE / "bare.py"), "--port", str(bare_port)]
        bare += ["--workers", str(WORKERS)]
        bare_env = {**ENV, "BENCH_BARE_BODY": str(root / "status.json")}
        with serving(serve, env, root / "serve.log", port) as group:
            answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
            answer.raise_for_status()
            (root / "status.json").write_bytes(answer.content)
            with serving(bare, bare_env, root / "bare.log", bare_port) as bare_group:
                for _ in range(runs):
                    ours.append(load(url, token, group, DATABASE))
                    theirs.append(load(bare_url, token, bare_group))
    finally:
        drop_database()
    for name, found in (("clearance", ours), ("starlette", theirs)):
        for one in found:
            print(f"{name}: {json.dumps(one)}", file=sys.stderr)
    best_ours = max(ours, key=lambda r: r["rps"])
    best_theirs = max(theirs, key=lambda r: r["rps"])
    if best_ours["body_bytes"] != best_theirs["body_bytes"]:
        raise SystemExit(f"answers differ in size: {best_ours}, {best_theirs}")
    return {
        "api_ratio_vs_starlette": round(best_ours["rps"] / best_theirs["rps"], 3),
        "api_p99_ms": best_ours["p99_ms"],
        "api_rps": best_ours["rps"],
        "starlette_rps": best_theirs["rps"],
        "starlette_p99_ms": best_theirs["p99_ms"],
    }


def free_ports(count: int) -> list[int]:
    """Ports free on the loopback now, distinct (all held open until each is known)."""
    held = [socket.socket() for _ in range(count)]
    try:
        for s in held:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


@contextmanager
def serving(args: list[str], env: dict[str, str], log: Path, port: int) -> Iterator[int]:
    """A server of `WORKERS` processes in its own process group (its id is yielded), ready
    on `port`; the whole group is stopped on leaving, whatever happened."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}/api/v1/health", proc, log)
        yield proc.pid
    finally:
        stop_group(proc)


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Until `url` answers 200 and every worker has logged its start (uvicorn's own line):
    a worker still importing would otherwise leave the measurement to the others."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args[0]} exited {proc.returncode}:\n{log.read_text()}")
        try:
            healthy = httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            healthy = False
        if healthy and log.read_text().count("Application startup complete") >= WORKERS:
            return
        time.sleep(0.1)
    raise SystemExit(f"{url} was not ready within {timeout} s:\n{log.read_text()}")


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, then SIGKILL to whatever is left of it."""
    with suppress(ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def load(url: str, token: str, server_group: int, database: str | None = None) -> dict:
    """Run bench/api_load.py against `url`; its results, with the CPU (in cores) used while
    it measured by the client, the server's processes, every PostgreSQL process, the whole
    machine, and the rest (`other`: whatever else runs meanwhile, and processes that began
    and ended inside the window, such as the backend of each PostgreSQL connection opened
    and closed); with `database`, the PostgreSQL sessions opened per second on it."""
    from bench.api_team import sessions_opened

    args = [str(BIN / "python"), str(HERE / "api_load.py"), url]
    env = {**ENV, "BENCH_API_TOKEN": token}  # not on a command line that `ps` shows
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        if (line := proc.stdout.readline()).strip() != "measuring":
            raise SystemExit(f"api_load.py: {line!r}")
        sessions = sessions_opened(database) if database else 0
        before, start = cpu_snapshot(), time.perf_counter()
        line = proc.stdout.readline()
        after, took = cpu_snapshot(), time.perf_counter() - start
        if database:
            sessions = sessions_opened(database) - sessions
        if proc.wait() != 0 or not line:
            raise SystemExit(f"api_load.py exited {proc.returncode}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    found: dict = json.loads(line)
    if set(found["statuses"]) != {"200"}:
        raise SystemExit(f"{url} answered {found['statuses']}")

    def cores(pick: Callable[[int, int, str], bool]) -> float:
        used = sum(
            cpu - before[1].get(pid, (0, 0, ""))[0]
            for pid, (cpu, group, name) in after[1].items()
            if pick(pid, group, name)
        )
        return round(used / took, 2)

    found["cpu_cores"] = {
        "client": cores(lambda pid, _g, _n: pid == proc.pid),
        "server": cores(lambda _p, group, _n: group == server_group),
        "postgres": cores(lambda _p, _g, name: name == "postgres"),
        "machine": round((after[0] - before[0]) / took, 2),
    }
    measured = sum(v for k, v in found["cpu_cores"].items() if k != "machine")
    found["cpu_cores"]["other"] = round(found["cpu_cores"]["machine"] - measured, 2)
    if database:
        found["pg_sessions_opened_per_s"] = round(sessions / took, 1)
    return found


def cpu_snapshot() -> tuple[float, dict[int, tuple[float, int, str]]]:
    """The machine's busy CPU seconds, and each process's (CPU seconds, group, name)."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ticks = [int(f) for f in fields]
    busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / tick  # all but idle and iowait
    processes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        rest = text[text.rindex(")") + 2 :].split()
        processes[int(entry.name)] = ((int(rest[11]) + int(rest[12])) / tick, int(rest[2]), name)
    return busy, processes
