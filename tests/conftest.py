"""Shared fixtures: real SQLite workspaces, and a PostgreSQL schema per test.

PostgreSQL is the server at CLEARANCE_TEST_DATABASE_URL when that is set. Otherwise the first
test that needs one starts a throwaway server from the installed binaries; xdist workers
share it through a lock file, and the run's main process stops and deletes it at the end.
When neither is possible the PostgreSQL runs skip, and the summary says why in one line
(with CLEARANCE_REQUIRE_POSTGRES=1 they fail instead).
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

PG_URL_VAR = "CLEARANCE_TEST_DATABASE_URL"
REQUIRE_PG = os.environ.get("CLEARANCE_REQUIRE_POSTGRES") == "1"
#: the main process's throwaway-server folder, handed to xdist workers
RUNDIR_VAR = "CLEARANCE_TEST_PG_RUNDIR"
SKIPPED = "PostgreSQL tests SKIPPED"
HOW_TO = f"set {PG_URL_VAR}=postgresql+psycopg://USER@HOST:PORT/DB to run them"
SERVER_KEY = pytest.StashKey["ThrowawayServer"]()
#: set in the process that made the throwaway server's folder, and so must delete it
OWNER_KEY = pytest.StashKey[bool]()


class PostgresUnavailable(Exception):
    """No PostgreSQL server can be had for this run; the message says why."""


class ThrowawayServer:
    """A PostgreSQL server in a temporary folder, started on first use, at most once per run.

    The folder holds a lock file, `state.json` (the URL, or why the start failed), the data
    directory, the unix socket and the server log. Initdb refuses to run as root, so as
    root the server runs as the `postgres` user, which then owns the folder.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state.json"

    def url(self) -> str:
        with (self.root / "lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.state.exists():
                state = json.loads(self.state.read_text())
            else:
                try:
                    state = self._start()
                except PostgresUnavailable as exc:
                    state = {"error": str(exc)}
                self.state.write_text(json.dumps(state))
        if "error" in state:
            raise PostgresUnavailable(state["error"])
        return str(state["url"])

    def stop(self) -> None:
        """Stop the server if it was started, and delete the folder."""
        state = json.loads(self.state.read_text()) if self.state.exists() else {}
        if "url" in state:
            pg_ctl = Path(state["bindir"]) / "pg_ctl"
            self._run(pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _start(self) -> dict[str, str]:
        bindir = postgres_bindir()
        if bindir is None:
            raise PostgresUnavailable(
                "no PostgreSQL server binaries (looked in /usr/lib/postgresql/*/bin and PATH)"
            )
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root and there is no `postgres` user to run initdb as"
                ) from None
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root and `runuser` is not installed")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        initdb = self._run(
            bindir / "initdb",
            *("-D", str(self.data), "-U", "postgres", "-A", "trust"),
            *("-E", "UTF8", "--locale=C", "--no-sync"),
        )
        if initdb.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {_last_line(initdb.stderr)}")
        for _ in range(3):  # another process may take the free port before the server does
            port = _free_port()
            # Durability is worthless for a server deleted at the end of the run.
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {shlex.quote(str(self.root))} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            start = self._run(
                bindir / "pg_ctl",
                *("-D", str(self.data), "-l", str(self.root / "server.log")),
                *("-w", "-t", "60", "-o", options, "start"),
            )
            if start.returncode == 0:
                url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
                return {"url": url, "bindir": str(bindir)}
        log = self.root / "server.log"
        detail = _last_line(log.read_text()) if log.exists() else _last_line(start.stderr)
        raise PostgresUnavailable(f"the throwaway server did not start: {detail}")

    def _run(self, program: Path, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, timeout=120, check=False
        )


def postgres_bindir() -> Path | None:
    """The folder of the newest installed PostgreSQL server binaries, if any."""

    def version(bindir: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", bindir.parent.name)) or (0,)

    candidates = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    if candidates:
        return max(candidates, key=version)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(PG_URL_VAR):
        return
    if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get(RUNDIR_VAR):
        config.stash[SERVER_KEY] = ThrowawayServer(Path(os.environ[RUNDIR_VAR]))
        return
    # The socket path must stay short, and reachable by the postgres user when run as root.
    base = "/tmp" if os.geteuid() == 0 and Path("/tmp").is_dir() else None
    root = Path(tempfile.mkdtemp(prefix="clearance-pg-", dir=base))
    os.environ[RUNDIR_VAR] = str(root)
    config.stash[SERVER_KEY] = ThrowawayServer(root)
    config.stash[OWNER_KEY] = True


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(OWNER_KEY, False):
        config.stash[SERVER_KEY].stop()
        os.environ.pop(RUNDIR_VAR, None)


def pytest_report_header(config: pytest.Config) -> str:
    if os.environ.get(PG_URL_VAR):
        return f"PostgreSQL: {PG_URL_VAR} ({_safe(os.environ[PG_URL_VAR])})"
    bindir = postgres_bindir()
    if bindir is None:
        return f"{SKIPPED}: no PostgreSQL server binaries found; {HOW_TO}"
    return f"PostgreSQL: a throwaway server from {bindir}, started on first use"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say in the terminal, not only in skip reasons, that the PostgreSQL runs were skipped."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            reason = str(longrepr[2]).removeprefix("Skipped: ")
            if reason.startswith(SKIPPED):
                reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in reasons.items():
        terminalreporter.write_line(f"{reason} ({count} tests)", yellow=True, bold=True)


def _safe(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def _unavailable(why: str) -> NoReturn:
    why = " ".join(why.split())  # one line in the summary, even for a driver's two-line error
    if REQUIRE_PG:
        pytest.fail(f"CLEARANCE_REQUIRE_POSTGRES=1 but {why}", pytrace=False)
    pytest.skip(f"{SKIPPED}: {why}; {HOW_TO}")


@pytest.fixture(scope="session")
def postgres_url(pytestconfig: pytest.Config) -> str:
    """The URL of the run's PostgreSQL server (given, or a throwaway one started now)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[test]')")
    if os.environ.get(PG_URL_VAR):
        return os.environ[PG_URL_VAR]
    try:
        return pytestconfig.stash[SERVER_KEY].url()
    except PostgresUnavailable as exc:
        _unavailable(f"{PG_URL_VAR} is not set and {exc}")


@pytest.fixture(scope="session")
def postgres_admin(postgres_url: str) -> Iterator[Engine]:
    """One engine per process for creating and dropping the tests' schemas."""
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        _unavailable(f"PostgreSQL at {_safe(postgres_url)} is unreachable: {exc.orig}")
    yield engine
    engine.dispose()


def _pg_schema_url(admin: Engine, base_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the workspace's own SQLite file, or a PostgreSQL URL with its own schema."""
    if request.param == "sqlite":
        yield None
    else:
        admin = request.getfixturevalue("postgres_admin")
        yield from _pg_schema_url(admin, request.getfixturevalue("postgres_url"))


_PRODUCT_HASHER: list[Callable[[], Any]] = []


def product_hasher() -> Any:
    """The password hasher the product uses (not the tests' cheap one)."""
    from clearance.services import signin

    return (_PRODUCT_HASHER or [signin._hasher])[0]()


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """argon2's cheapest parameters in-process: the product's (RFC 9106, 64 MiB, t=3) cost
    about 150 ms a hash here, spent by every fixture that sets a password and every sign-in.
    `test_signin` checks that the product hashes with its own; servers run as processes
    keep them too."""
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    from clearance.services import signin

    product = signin._hasher
    _PRODUCT_HASHER.append(product)
    signin._hasher = lambda: PasswordHasher.from_parameters(CHEAPEST)
    signin._dummy.cache_clear()
    yield
    signin._hasher = product
    signin._dummy.cache_clear()
