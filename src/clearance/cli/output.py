"""Output for people (Rich, imported on first use) and shared command options."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console

    from clearance.client.base import Client, LocalPlan
    from clearance.client.local import LocalClient
    from clearance.errors import ClearanceError
    from clearance.services.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])
STATUS_STYLE = {
    "passed": "green",
    "failed": "bold red",
    "pending": "yellow",
    "waived": "magenta",
    "error": "bold red",
    "GO": "bold green",
    "NO-GO": "bold red",
}
LARGE_FILE = 64 * 1024 * 1024


@functools.cache
def console(stderr: bool = False) -> Console:
    import os
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output (CI logs, files) gets a generous width instead of wrapping tables at 80.
    width = None if stream.isatty() else int(os.environ.get("COLUMNS", "160"))
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def show_error(exc: ClearanceError) -> None:
    from clearance.errors import PlanError

    if isinstance(exc, PlanError):
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        count = len(exc.problems)
        click.echo(
            f"{count} problem{'s' if count != 1 else ''} in the {exc.document}; "
            "nothing was recorded.",
            err=True,
        )
        return
    click.echo(f"error: {exc.message}", err=True)
    for failure in getattr(exc, "failures", []):
        click.echo(f"  - {failure}", err=True)


def workspace(ctx: click.Context) -> Workspace:
    """The command's workspace handle (one per command, kept for its receipt)."""
    from clearance.services.workspace import Workspace

    root = ctx.find_root()
    if root.obj.server:
        from clearance.errors import UsageError

        raise UsageError(
            f"`clearance {ctx.command_path.partition(' ')[2] or ctx.info_name}` works on a local "
            f"workspace, not against a server (CLEARANCE_SERVER={root.obj.server}); unset "
            "CLEARANCE_SERVER, or use the server's API"
        )
    if "clearance.workspace" not in root.meta:
        root.meta["clearance.workspace"] = Workspace(root.obj)
    ws: Workspace = root.meta["clearance.workspace"]
    return ws


def identity_path(ctx: click.Context, key_file: str | None = None) -> Path | None:
    """Whose key signs: the command's --key, else --identity / CLEARANCE_IDENTITY, else the
    default identity `init` remembered for this workspace."""
    if key_file:
        return Path(key_file)
    settings = ctx.find_root().obj
    if settings.identity is not None:
        return Path(settings.identity)
    remembered = workspace(ctx).config.get("identity")
    return Path(remembered) if remembered else None


def client(ctx: click.Context, key_file: str | None = None) -> Client:
    """The command's client: this workspace, or the server CLEARANCE_SERVER names, signing
    with the acting person's key."""
    from clearance.client.base import load_identity

    root = ctx.find_root()
    if "clearance.client" not in root.meta:
        settings = root.obj
        if settings.server:
            from clearance.client.remote import RemoteClient, connect

            key = load_identity(
                Path(key_file or settings.identity) if (key_file or settings.identity) else None
            )
            http = connect(settings, transport=root.meta.get("clearance.transport"))
            ctx.call_on_close(http.close)
            root.meta["clearance.client"] = RemoteClient(settings, http, key)
        else:
            from clearance.client.local import LocalClient

            root.meta["clearance.client"] = LocalClient(
                workspace(ctx), load_identity(identity_path(ctx, key_file))
            )
    found: Client = root.meta["clearance.client"]
    return found


def local_client(ctx: click.Context, key_file: str | None = None) -> LocalClient:
    """The client of a command that works on a local workspace only (people, keys, policy,
    tokens…): refused with a clear message when CLEARANCE_SERVER is set."""
    from clearance.client.local import LocalClient

    workspace(ctx)  # refuses a server
    found = client(ctx, key_file)
    assert isinstance(found, LocalClient)
    return found


def load(ctx: click.Context, path: str, key_file: str | None = None) -> LocalPlan:
    """The plan file, read and validated by the command's client."""
    return client(ctx, key_file).plan(Path(path))


def key_option(f: F) -> F:
    """Per-command --key: an alias of the global --identity."""
    return click.option(
        "--key",
        "key_file",
        type=click.Path(dir_okay=False, exists=True),
        help="Your private signing key (same as the global --identity).",
    )(f)


def plan_argument(f: F) -> F:
    return click.argument("plan", type=click.Path(dir_okay=False))(f)


@contextmanager
def progress() -> Iterator[Callable[[Path, int, int], None] | None]:
    """A progress bar for files large enough to take a while; silent otherwise."""
    bars: dict[Path, Any] = {}
    state: dict[str, Any] = {}

    def update(path: Path, done: int, total: int) -> None:
        if total < LARGE_FILE:
            return
        if "progress" not in state:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TransferSpeedColumn,
            )

            state["progress"] = Progress(
                TextColumn("hashing {task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=console(stderr=True),
                transient=True,
            )
            state["progress"].start()
        bar = state["progress"]
        if path not in bars:
            bars[path] = bar.add_task(path.name, total=total)
        bar.update(bars[path], completed=done)

    try:
        yield update
    finally:
        if "progress" in state:
            state["progress"].stop()


def short(digest: str, n: int = 12) -> str:
    return digest.removeprefix("sha256:")[:n]
