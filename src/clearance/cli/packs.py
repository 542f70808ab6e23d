"""`clearance export` and `clearance pack verify`."""

from __future__ import annotations

import click

from clearance.cli.output import as_option, console, load, plan_argument, workspace


@click.command()
@plan_argument
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Zip file to write."
)
@as_option()
@click.pass_context
def export(ctx: click.Context, plan: str, output: str, as_: str | None) -> None:
    """Write the audit pack of the plan's current candidate.

    \b
    Example:
      clearance export plan.yaml -o audit-pack.zip
    """
    from pathlib import Path

    from clearance.exports.pack import export_pack

    loaded = load(ctx, plan)
    ws = workspace(ctx)
    done = export_pack(ws, loaded, Path(output), ws.actor(as_))
    console().print(f"Wrote {done.path} ({done.files} files) for candidate {done.candidate}")


@click.group()
def pack() -> None:
    """Audit packs: verify offline, with nothing but the pack."""


@pack.command()
@click.argument("pack_file", metavar="PACK", type=click.Path(dir_okay=False))
def verify(pack_file: str) -> None:
    """Re-hash every file of the pack against its manifest and its content addresses.

    Exit 0 when everything matches, 3 naming each file that does not.

    \b
    Example:
      clearance pack verify audit-pack.zip
    """
    from pathlib import Path

    from clearance.errors import IntegrityError
    from clearance.exports.pack import verify_pack

    failures = verify_pack(Path(pack_file))
    if failures:
        raise IntegrityError(f"{pack_file} does not verify:", failures)
    console().print(f"{pack_file}: verified — every file matches the manifest.")
