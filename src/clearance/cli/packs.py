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
@click.option(
    "--checkpoint",
    "kept_file",
    type=click.Path(dir_okay=False, exists=True),
    help="A checkpoint or receipt you kept: the pack's log must contain it.",
)
def verify(pack_file: str, kept_file: str | None) -> None:
    """Check the pack offline: every file against the signed manifest, every event against
    the signed log, evidence and revisions against their digests, approvals against events.

    Exit 0 when everything holds, 3 naming each thing that does not.

    \b
    Example:
      clearance pack verify audit-pack.zip
    """
    from pathlib import Path

    from clearance.errors import IntegrityError
    from clearance.exports.pack import verify_pack

    kept = None
    if kept_file:
        import json

        from clearance.core.checkpoint import Checkpoint
        from clearance.errors import UsageError

        try:
            data = json.loads(Path(kept_file).read_text())
            kept = Checkpoint.from_json(data.get("checkpoint", data))
        except (ValueError, AttributeError) as exc:
            raise UsageError(f"{kept_file}: not a checkpoint or receipt ({exc})") from None
    failures = verify_pack(Path(pack_file), kept)
    if failures:
        raise IntegrityError(f"{pack_file} does not verify:", failures)
    console().print(
        f"{pack_file}: verified — every file matches the signed manifest, and every event "
        "is proven in the signed log" + (" that contains your checkpoint." if kept else ".")
    )
