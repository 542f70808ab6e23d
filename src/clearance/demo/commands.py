"""Running the demo's commands in the demo folder: each is printed as `$ ...`, followed by
its output, and its exit code is checked against the one the story expects."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

TIMEOUT_SECONDS = 300
MEANINGS = {
    0: "GO or success",
    1: "NO-GO",
    2: "bad input or usage",
    3: "integrity failure",
    77: "not permitted",
}


class DemoFailed(Exception):
    """A step did not go as the story expects; `exit_code` is what the demo returns."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def demo_environment(workspace: Path, user: str, home: Path | None = None) -> dict[str, str]:
    """The environment of every command: this process's, minus any CLEARANCE_* setting that
    would point the demo at another workspace or server, plus the demo's own workspace, its
    first administrator's name, and where that person's identity key is kept (`home`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")}
    env["CLEARANCE_WORKSPACE"] = str(workspace)
    env["CLEARANCE_USER"] = user
    if home is not None:
        env["CLEARANCE_HOME"] = str(home)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("COLUMNS", "120")
    return env


class Shell:
    """Runs commands with the demo folder as the working directory."""

    def __init__(
        self,
        root: Path,
        out: Callable[[str], None],
        clearance: Sequence[str],
        env: dict[str, str],
    ) -> None:
        self.root = root
        self.out = out
        self.prefix = list(clearance)
        self.env = env

    def clearance(self, *args: str, expect: int = 0) -> str:
        """Run `clearance ARGS`; return its output."""
        return self.run([*self.prefix, *args], "clearance " + shlex.join(args), expect)

    def run(self, argv: list[str], shown: str, expect: int = 0) -> str:
        """Run `argv`, shown to the reader as `$ shown`; return its output."""
        self.out(f"$ {shown}")
        try:
            done = subprocess.run(
                argv,
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except OSError as exc:
            raise DemoFailed(f"could not start `{shown}`: {exc}", exit_code=2) from None
        except subprocess.TimeoutExpired:
            raise DemoFailed(f"`{shown}` did not finish within {TIMEOUT_SECONDS} s") from None
        output = done.stdout.rstrip()
        for line in output.splitlines():
            self.out(line)
        if done.returncode != expect:
            raise DemoFailed(
                f"`{shown}` exited with {_code(done.returncode)}; the demo expected "
                f"{_code(expect)}. Its output is above.",
                exit_code=done.returncode if done.returncode > 0 else 1,
            )
        return output


def _code(code: int) -> str:
    meaning = MEANINGS.get(code)
    return f"{code} ({meaning})" if meaning else str(code)
