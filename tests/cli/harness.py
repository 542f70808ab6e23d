"""Run the `clearance` command in this process, shaped like a finished subprocess.

Starting the real command costs a Python start-up and every import per call; running
`clearance.cli.main.main` under Click's isolation costs neither and still goes through
the same argument parsing, error mapping and exit codes.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner


@dataclass(frozen=True)
class Completed:
    """What one run of the command printed and how it exited (as `subprocess.CompletedProcess`)."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def invoke(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Completed:
    """Run `clearance ARGS` in `cwd` with only `env` as its CLEARANCE_* settings."""
    from sqlalchemy import event
    from sqlalchemy.engine import Connection, Engine

    from clearance.cli import output
    from clearance.cli.main import main

    isolated: dict[str, str | None] = {k: None for k in os.environ if is_ambient(k)}
    isolated.update(env or {})
    engines: list[Engine] = []

    def opened(conn: Connection) -> None:
        if conn.engine not in engines:
            engines.append(conn.engine)

    runner = CliRunner()
    # The cached Rich consoles would keep writing to the previous call's streams.
    output.console.cache_clear()
    previous = Path.cwd()
    event.listen(Engine, "engine_connect", opened)
    try:
        with runner.isolation(env=isolated) as (out, err, _mixed):
            os.chdir(cwd)
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = _exit_code(exc.code)
            finally:
                os.chdir(previous)
                sys.stdout.flush()
                sys.stderr.flush()
            stdout = out.getvalue().decode()
            stderr = err.getvalue().decode()
    finally:
        event.remove(Engine, "engine_connect", opened)
        output.console.cache_clear()
        # A real process closes its connections when it exits; so does this one.
        for engine in engines:
            engine.dispose()
    return Completed(("clearance", *args), code, stdout, stderr)


def is_ambient(name: str) -> bool:
    """Whether an environment variable of the test run is kept from the command: its
    CLEARANCE_* settings, and the terminal size (xdist workers set COLUMNS=80), so output
    is that of a command piped to a file, whoever runs the tests."""
    return name.startswith("CLEARANCE_") or name in ("COLUMNS", "LINES")


def _exit_code(code: object) -> int:
    """The status a process exiting with `sys.exit(code)` would report."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
