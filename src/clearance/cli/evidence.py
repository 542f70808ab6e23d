"""`clearance evidence add`."""

from __future__ import annotations

import click

from clearance.cli.output import as_option, console, load, progress, short, workspace


@click.group()
def evidence() -> None:
    """Evidence: files stored by content digest and attached to a criterion."""


@evidence.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--plan",
    "plan_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The plan whose current candidate the evidence is for.",
)
@click.option("--criterion", required=True, help="Id of the criterion it supports.")
@as_option()
@click.option("--role", help="Role in which you attest this evidence (e.g. product-owner).")
@click.option("--source", help="Where it came from, e.g. the CI job URL.")
@click.pass_context
def add(
    ctx: click.Context,
    file: str,
    plan_path: str,
    criterion: str,
    as_: str | None,
    role: str | None,
    source: str | None,
) -> None:
    """Store FILE and attach it to a criterion of the plan's current candidate.

    \b
    Example:
      clearance evidence add docs/uat-report.md --plan plan.yaml --criterion uat \\
          --as carol@example.com --role product-owner
    """
    from pathlib import Path

    from clearance.services.evidence import add_evidence

    loaded = load(ctx, plan_path)
    ws = workspace(ctx)
    with progress() as bar:
        attached = add_evidence(ws, loaded, criterion, Path(file), ws.actor(as_), role, source, bar)
    state = "Attached" if attached.new else "Already attached:"
    console().print(
        f"{state} {attached.name} ({attached.size:,} bytes, "
        f"sha256:{short(attached.digest)}…) to criterion {criterion}"
    )
