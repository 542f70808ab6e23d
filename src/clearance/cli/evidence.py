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
    you hold the role. A criterion that reads only the files its plan names (a metric's
    metrics file, a manifest, a register) refuses any other file (exit 2): it would be
    ignored.

    \b
    Example:
      clearance evidence add docs/uat-report.md --plan plan.yaml --criterion uat \\
          --role product-owner
    """
    from clearance.core.planfiles import unread_attachment
    from clearance.errors import UsageError
    from clearance.services.evidence import criterion_of

    me = client(ctx, key_file)
    local = me.plan(Path(plan_path))
    chosen = criterion_of(local.loaded, criterion)
    plan = local.loaded.plan
    # Refused here too, before a large file is hashed and uploaded for nothing.
    unread = unread_attachment(chosen, plan, Path(file).name)
    if unread is not None:
        raise UsageError(unread)
    with progress() as bar:
        attached = me.add_evidence(local, criterion, Path(file), role, source, bar)
    state = "Attached" if attached.new else "Already attached:"
    by = f", attested as {role} by {me.me.name}" if role else ""
    console().print(
        f"{state} {attached.name} ({attached.size:,} bytes, "
        f"sha256:{short(attached.digest)}…) to criterion {criterion}{by}"
    )
    named = [f.path for f in chosen.named_files(plan)]
    if named and not chosen.reads_other_attachments:
        console().print(
            f"note: criterion {criterion} reads {', '.join(named)}, named in the plan; "
            "`clearance check` attaches that file from the plan's folder each time, and its "
            "copy there is what counts"
        )
