"""Benchmarks: each figure is a ratio against a baseline measured in the same run.

Writes bench/results.json and prints it. Run with `make bench`.
"""

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

HERE = Path(__file__).parent
WORK = HERE / ".work"
BIN = Path(sys.executable).parent
CLEARANCE = str(BIN / "clearance")
GIB = 1024**3
WORKERS = 4  # server processes, for Clearance and for the bare baseline alike
ENV = {k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")}
ENV["CLEARANCE_HOME"] = str(WORK / "identities")  # keys `init` makes stay with the runs


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


def make_big_file(path: Path, size: int = GIB) -> Path:
    if path.exists() and path.stat().st_size == size:
        return path
    block = os.urandom(1024 * 1024)
    with path.open("wb") as fh:
        for _ in range(size // len(block)):
            fh.write(block)
    return path


def digest_ratio(big: Path) -> dict[str, float]:
    from clearance.blobs import file_digest

    file_digest(big)  # warm the page cache for both
    ours = best(lambda: file_digest(big))
    openssl = best(lambda: sh("openssl", "dgst", "-sha256", str(big)))
    return {
        "digest_ratio_vs_openssl": round(openssl / ours, 3),
        "digest_gib_per_s": round(1 / ours, 3),
        "openssl_gib_per_s": round(1 / openssl, 3),
    }


def _workspace(name: str) -> Path:
    root = WORK / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    write_small_plan(root)
    sh(CLEARANCE, "init", cwd=root)
    sh(CLEARANCE, "env", "declare", "prod", cwd=root)
    return root


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


def ingest_ratio(big: Path) -> dict[str, float]:
    """`clearance evidence add` of the big file (process start included) against `cp`.

    Ingestion fsyncs the blob before naming it (crash safety); plain `cp` leaves the copy in
    the page cache. Both are reported: against `cp`, and against `cp` followed by `sync` of
    the copy. Each run starts after a `sync`, so none pays for another's writeback.
    """
    dest = WORK / "copy.bin"

    def cp(durable: bool) -> float:
        dest.unlink(missing_ok=True)
        os.sync()
        start = time.perf_counter()
        sh("cp", str(big), str(dest))
        if durable:
            sh("sync", str(dest))
        return time.perf_counter() - start

    cp_time = min(cp(False) for _ in range(3))
    cp_sync_time = min(cp(True) for _ in range(3))
    dest.unlink(missing_ok=True)
    times, rss = [], []
    for i in range(3):
        shutil.rmtree(WORK / f"ingest{i - 1}", ignore_errors=True)
        root = _workspace(f"ingest{i}")
        os.sync()
        start = time.perf_counter()
        proc = subprocess.Popen(
            [CLEARANCE, "evidence", "add", str(big), "--plan", "plan.yaml", "--criterion", "doc"],
            cwd=root,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"evidence add failed: {proc.stderr.read() if proc.stderr else ''}")
        rss.append(usage.ru_maxrss / 1024)
    return {
        "ingest_ratio_vs_cp": round(cp_time / min(times), 3),
        "ingest_ratio_vs_cp_sync": round(cp_sync_time / min(times), 3),
        "ingest_gib_per_s": round(1 / min(times), 3),
        "cp_gib_per_s": round(1 / cp_time, 3),
        "cp_sync_gib_per_s": round(1 / cp_sync_time, 3),
        "ingest_peak_rss_mib": round(max(rss), 1),
    }


def rehash_speedup(big: Path) -> dict[str, float]:
    """Second ingestion of the unchanged file against the first: in the service (the work
    itself) and through the command (process start included)."""
    from clearance.client.local import LocalClient
    from clearance.services.evidence import add_evidence
    from clearance.services.workspace import Workspace
    from clearance.settings import Settings

    root = _workspace("rehash")
    settings = Settings.from_env(ENV, workspace=root / ".clearance")
    ws = Workspace(settings)
    me = LocalClient(ws)
    local = me.plan(root / "plan.yaml")

    def add() -> None:
        blob = me.store_file(big, "doc", None)
        add_evidence(ws, me.principal("evidence.add"), local.loaded, {}, "doc", big.name, blob)

    first = best(add, runs=1)
    second = best(add, runs=5)
    ws.close()
    cli_root = _workspace("rehash-cli")
    args = (CLEARANCE, "evidence", "add", str(big), "--plan", "plan.yaml", "--criterion", "doc")
    cli_first = best(lambda: sh(*args, cwd=cli_root), runs=1)
    cli_second = best(lambda: sh(*args, cwd=cli_root), runs=3)
    return {
        "rehash_speedup": round(first / second, 1),
        "rehash_first_s": round(first, 4),
        "rehash_second_s": round(second, 4),
        "rehash_speedup_cli": round(cli_first / cli_second, 1),
    }


def check_500() -> dict[str, float]:
    """`clearance check` of a generated plan with 500 criteria and 2,000 evidence files."""
    from bench.generate import write_large_plan

    root = WORK / "check500"
    shutil.rmtree(root, ignore_errors=True)
    write_large_plan(root, criteria=500, files=2000)
    sh(CLEARANCE, "init", cwd=root)
    sh(CLEARANCE, "env", "declare", "prod", cwd=root)
    os.sync()  # the generator's writeback is not the gate's cost

    def run() -> None:
        proc = sh(CLEARANCE, "check", "plan.yaml", "--format", "json", cwd=root, check=False)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"check failed: {proc.stderr}")

    cold = best(run, runs=1)  # ingests all 2,000 files
    time.sleep(2.1)  # past the digest cache's racy window, as evidence made earlier is
    warm = best(run, runs=3)  # files unchanged: nothing re-read
    return {"check_500_seconds": round(cold, 3), "check_500_seconds_warm": round(warm, 3)}


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


def environment_capture_ratio() -> dict[str, float]:
    """`capture_environment` against the plain way to list installed distributions with
    importlib.metadata (every METADATA file parsed), in the same run; above 1 is faster."""
    from importlib import metadata

    from clearance.integrations.environment import capture_environment

    def baseline() -> dict[str, str]:
        return {d.metadata["Name"]: d.version for d in metadata.distributions()}

    baseline()  # warm the file system cache for both
    capture_environment("warm-up")
    bare = best(baseline, runs=10)
    ours = best(lambda: capture_environment("bench"), runs=10)
    return {
        "env_capture_vs_metadata_listing": round(bare / ours, 3),
        "env_capture_seconds": round(ours, 4),
        "metadata_listing_seconds": round(bare, 4),
    }


def help_ratio() -> dict[str, float]:
    python = best(lambda: sh(str(BIN / "python"), "-c", "pass"), runs=10)
    helps = best(lambda: sh(CLEARANCE, "--help"), runs=10)
    return {
        "help_vs_python_ratio": round(helps / python, 2),
        "help_seconds": round(helps, 4),
        "python_seconds": round(python, 4),
    }


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


def main() -> None:
    sys.path.insert(0, str(HERE.parent))
    WORK.mkdir(exist_ok=True)
    big = make_big_file(WORK / "big.bin")
    results: dict[str, float] = {}
    for step in (digest_ratio, ingest_ratio, rehash_speedup):
        results.update(step(big))
        print(json.dumps(results, indent=2), file=sys.stderr)
    results.update(check_500())
    results.update(log_verify())
    results.update(environment_capture_ratio())
    results.update(help_ratio())
    results.update(api_ratio())
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
