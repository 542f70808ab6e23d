"""Entry point: a lazily loaded command group and the mapping of errors to exit codes.

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

COMMANDS = {
    "init": (
        "clearance.cli.workspace:init",
        "Create a workspace here (and a plan from a template).",
    ),
    "schema": ("clearance.cli.plans:schema", "Print the JSON Schema of deployment plans."),
    "plan": ("clearance.cli.plans:plan", "Validate, submit, list and diff plan revisions."),
    "env": (
        "clearance.cli.environments:env",
        "Capture manifests; declare and list target environments.",
    ),
    "evidence": ("clearance.cli.evidence:evidence", "Attach evidence files to criteria."),
    "check": ("clearance.cli.gate:check", "Run the release gate: GO (exit 0) or NO-GO (exit 1)."),
    "approve": ("clearance.cli.approvals:approve", "Sign off the plan's candidate in a role."),
    "reject": ("clearance.cli.approvals:reject", "Reject the plan's candidate in a role."),
    "withdraw": ("clearance.cli.approvals:withdraw", "Withdraw your rejection of a candidate."),
    "waive": ("clearance.cli.approvals:waive", "Waive a criterion, with justification and expiry."),
    "people": ("clearance.cli.people:people", "Register people and their roles."),
    "keys": ("clearance.cli.people:keys", "Signing keys: generate, register, retire."),
    "policy": ("clearance.cli.policy:policy", "The organisation's minimum release criteria."),
    "attestation": ("clearance.cli.policy:attestation", "Export and verify release attestations."),
    "release": ("clearance.cli.releases:release", "Record the deployment of a GO candidate."),
    "status": ("clearance.cli.releases:status", "What runs where, and what waits for release."),
    "history": (
        "clearance.cli.releases:history",
        "A system's releases and rollbacks, per environment.",
    ),
    "export": ("clearance.cli.packs:export", "Write the audit pack of a release."),
    "pack": ("clearance.cli.packs:pack", "Verify audit packs offline."),
    "verify": ("clearance.cli.workspace:verify", "Re-hash the workspace's records and blobs."),
    "db": ("clearance.cli.workspace:db", "The workspace database: schema upgrades."),
    "waiver": ("clearance.cli.approvals:waiver", "Revoke waivers."),
    "finding": (
        "clearance.cli.findings:finding",
        "Scanner findings of a criterion: list them, accept one.",
    ),
    "acknowledge": (
        "clearance.cli.findings:acknowledge",
        "Acknowledge an interested party's impact and consideration.",
    ),
    "log": ("clearance.cli.log:log", "The audit log: checkpoints, verification, proofs."),
    "demo": ("clearance.cli.demo:demo", "Run the end-to-end demo in a new folder."),
    "serve": ("clearance.cli.server:serve", "Serve the REST API (a workspace or a team)."),
    "tokens": ("clearance.cli.server:tokens", "API tokens: create, list, revoke."),
    "share": ("clearance.cli.share:share", "Reviewer links: create, list, revoke, show."),
    "webhooks": (
        "clearance.cli.webhooks:webhooks",
        "Outbound webhooks: subscribe, list deliveries and dead letters, deliver.",
    ),
}


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs, so --help stays fast."""

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
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--workspace",
    type=click.Path(file_okay=False),
    envvar="CLEARANCE_WORKSPACE",
    help="Workspace folder (default: ./.clearance).",
)
@click.option(
    "--identity",
    type=click.Path(dir_okay=False),
    envvar="CLEARANCE_IDENTITY",
    help="Your private key: who acts (default: the identity `init` made here).",
)
@click.option(
    "--server",
    metavar="URL",
    help="Act on a Clearance server instead of a local workspace (CLEARANCE_SERVER); the "
    "token is read from CLEARANCE_TOKEN.",
)
@click.option(
    "--receipt",
    type=click.Path(dir_okay=False),
    help="Write the receipt of this command's write (event index + signed checkpoint) to FILE.",
)
@click.version_option(package_name="clearance")
@click.pass_context
def cli(
    ctx: click.Context,
    workspace: str | None,
    identity: str | None,
    server: str | None,
    receipt: str | None,
) -> None:
    """Clearance: deployment plans as code, a release gate that decides from evidence,
    sign-offs bound to what they approve, and audit packs anyone can verify.

    \b
    Exit codes: 0 GO or success, 1 NO-GO, 2 bad input, 3 integrity failure,
    69 server unreachable, 77 not permitted (or no valid API token).
    Start with:  clearance init --template tabular-classifier
    """
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
    from clearance.errors import ClearanceError

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
    except ClearanceError as exc:
        from clearance.cli.output import show_error

        show_error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say so plainly, keep the traceback for debugging
        if os.environ.get("CLEARANCE_DEBUG"):
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in Clearance; rerun with CLEARANCE_DEBUG=1 for the traceback.",
            err=True,
        )
        sys.exit(70)
    sys.exit(0)
