"""The click group: a lazily loaded command group and the mapping of errors to exit codes
(`clearance.cli.helptext.main` is the installed command, which answers --help itself).

Exit codes: 0 GO or success, 1 NO-GO, 2 bad input or usage, 3 integrity failure,
77 not permitted, 70 a bug.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from pathlib import Path

from clearance.cli.helptext import COMMANDS, DESCRIPTION, MAX_WIDTH, OPTION_HELP, width


class _Context(click.Context):
    def make_formatter(self) -> click.HelpFormatter:
        from click import formatting

        # click's own width, without importing shutil for it (bz2, lzma, fnmatch)
        found = self.terminal_width or width(self.max_content_width or 80, formatting.FORCED_WIDTH)
        return self.formatter_class(width=found, max_width=self.max_content_width)


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs, so --help stays fast."""

    context_class = _Context

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, attr = self.lazy[name][0].split(":")
            return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy[name][1]) for name in sorted(self.lazy)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    help=DESCRIPTION,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": MAX_WIDTH},
)
@click.option(
    "--workspace",
    type=click.Path(file_okay=False),
    envvar="CLEARANCE_WORKSPACE",
    help=OPTION_HELP["--workspace"],
)
@click.option(
    "--identity",
    type=click.Path(dir_okay=False),
    envvar="CLEARANCE_IDENTITY",
    help=OPTION_HELP["--identity"],
)
@click.option("--server", metavar="URL", help=OPTION_HELP["--server"])
@click.option("--receipt", type=click.Path(dir_okay=False), help=OPTION_HELP["--receipt"])
@click.version_option(package_name="clearance")
@click.pass_context
def cli(
    ctx: click.Context,
    workspace: str | None,
    identity: str | None,
    server: str | None,
    receipt: str | None,
) -> None:
    # the help page's text is helptext.DESCRIPTION: `clearance --help` prints it without click
    import dataclasses
    from pathlib import Path

    from clearance.settings import Settings

    settings = Settings.from_env(workspace=Path(workspace) if workspace else None)
    if identity:
        settings = dataclasses.replace(settings, identity=Path(identity).absolute())
    if server:
        settings = dataclasses.replace(settings, server=server)
    ctx.obj = settings
    if receipt is not None:
        # Refused now, not after the command has recorded its write and the receipt is lost.
        target = _receipt_target(Path(receipt))
        ctx.call_on_close(lambda: _write_receipt(ctx, target))


def _receipt_target(path: Path) -> Path:
    """The receipt file, once it is certain it can be written: its folder exists or can be
    created under the nearest existing folder, which is writable; UsageError otherwise."""
    from clearance.errors import UsageError

    path = path.absolute()  # click has refused a path that is a folder
    folder = path.parent
    while not os.path.lexists(folder):
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(
            f"--receipt {path}: {folder} is a file, not a folder, so the receipt's folder "
            "cannot be created there; give a path in a folder, e.g. receipts/receipt.json"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(
            f"--receipt {path}: cannot write in {folder} (permission denied); give a path "
            "in a folder you can write"
        )
    return path


def _write_receipt(ctx: click.Context, path: Path) -> None:
    """Write the receipt of the command's write, if it made one: the folder is created, and
    the file is replaced whole, so a reader never sees half a receipt."""
    import json

    ws = ctx.meta.get("clearance.workspace")
    if ws is None or ws.last_receipt is None:
        return
    text = json.dumps(ws.last_receipt.as_json(), indent=2) + "\n"
    try:
        _replace_file(path, text)
    except OSError as exc:
        from clearance.errors import UsageError

        raise UsageError(
            f"the command's write was recorded, but its receipt could not be written to "
            f"{path} ({exc.strerror or exc}); keep this receipt instead:\n{text.rstrip()}"
        ) from None


def _replace_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> None:
    """Run the command; turn Clearance errors into clear messages and exit codes."""
    try:
        cli.main(args=argv, prog_name="clearance", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        from clearance.errors import ClearanceError  # not imported by --help

        if isinstance(exc, ClearanceError):
            from clearance.cli.output import show_error

            show_error(exc)
            sys.exit(exc.exit_code)
        # a bug: say so plainly, keep the traceback for debugging
        if os.environ.get("CLEARANCE_DEBUG"):
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in Clearance; rerun with CLEARANCE_DEBUG=1 for the traceback.",
            err=True,
        )
        sys.exit(70)
    sys.exit(0)
