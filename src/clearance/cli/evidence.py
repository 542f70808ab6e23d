"""`clearance evidence add`."""

from __future__ import annotations

from pathlib import Path

import click

from clearance.cli.output import client, console, key_option, progress, short


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
@click.option(
    "--role",
    help="Attest the evidence in this role (signed by you; you must hold the role).",
)
@click.option("--source", help="Where it came from, e.g. the CI job URL.")
@key_option
@click.pass_context
def add(
    ctx: click.Context,
    file: str,
    plan_path: str,
    criterion: str,
    role: str | None,
    source: str | None,
    key_file: str | None,
) -> None:
    """Store FILE and attach it to a criterion of the plan's current candidate.

    With --role, you attest it: a statement signed with your key, which counts only while
    you hold the role.

    \b
    Example:
      clearance evidence add docs/uat-report.md --plan plan.yaml --criterion uat \\
          --role product-owner
    """
    me = client(ctx, key_file)
    local = me.plan(Path(plan_path))
    with progress() as bar:
        attached = me.add_evidence(local, criterion, Path(file), role, source, bar)
    state = "Attached" if attached.new else "Already attached:"
    by = f", attested as {role} by {me.me.name}" if role else ""
    console().print(
        f"{state} {attached.name} ({attached.size:,} bytes, "
        f"sha256:{short(attached.digest)}…) to criterion {criterion}{by}"
    )
