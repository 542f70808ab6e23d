"""`clearance release` and `clearance status`."""

from __future__ import annotations

from pathlib import Path

import click

from clearance.cli.output import client, console, key_option, plan_argument, short


@click.command()
@plan_argument
@key_option
@click.pass_context
def release(ctx: click.Context, plan: str, key_file: str | None) -> None:
    """Re-run the gate and record the deployment of a GO candidate to its target.

    A NO-GO candidate is refused (exit 1) with the reasons.

    \b
    Example:
      clearance release plan.yaml
    """
    me = client(ctx, key_file)
    local = me.plan(Path(plan))
    done = me.release(local)
    p = local.loaded.plan
    if done.already:
        console().print(
            f"Already released: {p.system.id} {p.release.version} runs in "
            f"{p.release.target} (release #{done.release_id})."
        )
        return
    console().print(
        f"Released {p.system.id} {p.release.version} to {p.release.target} "
        f"(release #{done.release_id}, candidate {short(done.candidate)})."
    )
    for c in done.components:
        console().print(f"  {c['name']} {c['version']} ({c['kind']}) sha256:{short(c['digest'])}")


@click.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show which version of each component runs in each environment, and pending candidates.

    \b
    Example:
      clearance status
    """
    from rich.table import Table

    state = client(ctx).status()
    out = console()
    inventory = Table(title="Inventory: what runs where")
    for col in (
        "System",
        "Environment",
        "Component",
        "Kind",
        "Version",
        "Digest",
        "Release",
        "Released (UTC)",
        "By",
    ):
        inventory.add_column(col)
    for d in state.inventory:
        inventory.add_row(
            d.system_id,
            d.target,
            d.component.name,
            d.component.kind,
            d.component.version,
            short(d.component.digest),
            d.release_version,
            d.released_at.strftime("%Y-%m-%d %H:%M"),
            d.released_by,
        )
    out.print(inventory if state.inventory else "Nothing released yet.")
    if state.pending:
        pending = Table(title="Decided, not released")
        for col in ("System", "Version", "Target", "Decision", "Candidate", "Evaluated (UTC)"):
            pending.add_column(col)
        for p in state.pending:
            style = "green" if p.outcome == "GO" else "red"
            pending.add_row(
                p.system_id,
                p.version,
                p.target,
                f"[{style}]{p.outcome}[/]",
                short(p.candidate),
                p.evaluated_at.strftime("%Y-%m-%d %H:%M"),
            )
        out.print(pending)
