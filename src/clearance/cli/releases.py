"""`clearance release`, `clearance status` and `clearance history`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from clearance.cli.output import client, console, key_option, plan_argument, short, workspace

if TYPE_CHECKING:
    from clearance.services.releases import Deployed, HistoryEntry, Status
    from clearance.store.records import DecisionRecord


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
    for a in done.aliases:
        was = f"version {a['previous']}" if a["previous"] else "not set"
        console().print(
            f"  moved MLflow alias {a['alias']} of {a['model']} to version {a['version']} "
            f"(was {was})"
        )


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def status(ctx: click.Context, fmt: str) -> None:
    """Show which version of each component runs in each environment, and the candidates
    decided but not released yet (one per system and target: a newer candidate supersedes
    an older one).

    \b
    Examples:
      clearance status
      clearance status --format json
    """
    state = client(ctx).status()
    if fmt == "json":
        click.echo(json.dumps(status_json(state), indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    out = console()
    if not state.inventory:
        out.print("Nothing released yet.")
    # One heading and one narrow table per system and environment keeps every table inside
    # 80 columns; a heading wraps at word boundaries and long names fold, never cut.
    for (system, target), rows in _by_place(state.inventory).items():
        latest = max(rows, key=lambda d: d.released_at)
        out.print(
            f"[bold]{escape(system)}[/] in {escape(target)}: release "
            f"{escape(latest.release_version)}, {latest.released_at:%Y-%m-%d %H:%M} UTC by "
            f"{escape(latest.released_by)}",
            soft_wrap=False,
        )
        table = Table()
        table.add_column("Component", overflow="fold", ratio=3)
        table.add_column("Kind", no_wrap=True)
        table.add_column("Version", overflow="fold", ratio=1)
        table.add_column("Digest", no_wrap=True)
        table.add_column("Since", overflow="fold", ratio=1)
        for d in rows:
            table.add_row(
                escape(d.component.name),
                d.component.kind,
                escape(d.component.version),
                short(d.component.digest),
                escape(d.release_version),
            )
        out.print(table)
    waiting: dict[str, list[DecisionRecord]] = {}
    for p in state.pending:
        waiting.setdefault(p.system_id, []).append(p)
    for system, decided in waiting.items():
        out.print(f"[bold]{escape(system)}[/]: decided, not released", soft_wrap=False)
        pending = Table()
        pending.add_column("Version", overflow="fold", ratio=2)
        pending.add_column("Target", overflow="fold", ratio=1)
        pending.add_column("Decision", no_wrap=True)
        pending.add_column("Candidate", no_wrap=True)
        pending.add_column("Evaluated (UTC)", no_wrap=True)
        for p in decided:
            style = "green" if p.outcome == "GO" else "red"
            pending.add_row(
                escape(p.version),
                escape(p.target),
                f"[{style}]{p.outcome}[/]",
                short(p.candidate),
                p.evaluated_at.strftime("%Y-%m-%d %H:%M"),
            )
        out.print(pending)


def _by_place(inventory: list[Deployed]) -> dict[tuple[str, str], list[Deployed]]:
    found: dict[tuple[str, str], list[Deployed]] = {}
    for d in inventory:
        found.setdefault((d.system_id, d.target), []).append(d)
    return found


def status_json(state: Status) -> dict[str, Any]:
    """`status --format json`: the inventory and the candidates waiting, full digests."""
    return {
        "inventory": [
            {
                "system": d.system_id,
                "environment": d.target,
                "component": d.component.name,
                "kind": d.component.kind,
                "version": d.component.version,
                "digest": d.component.digest,
                "release_version": d.release_version,
                "released_at": d.released_at.isoformat(),
                "released_by": d.released_by,
            }
            for d in state.inventory
        ],
        "pending": [
            {
                "system": p.system_id,
                "version": p.version,
                "target": p.target,
                "decision": p.outcome,
                "candidate": p.candidate,
                "evaluated_at": p.evaluated_at.isoformat(),
            }
            for p in state.pending
        ],
    }


@click.command()
@click.argument("system")
@click.option("--target", metavar="ENV", help="Only the releases to this environment.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def history(ctx: click.Context, system: str, target: str | None, fmt: str) -> None:
    """List the releases and rollbacks of SYSTEM, per environment, oldest first.

    A rollback is a release that returns an environment to a candidate it ran before.

    \b
    Examples:
      clearance history credit-scoring
      clearance history credit-scoring --target production --format json
    """
    from clearance.services.releases import history as load_history

    entries = load_history(workspace(ctx), system, target)
    if fmt == "json":
        click.echo(json.dumps([_entry_json(e) for e in entries], indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    out = console()
    if not entries:
        where = f" to {target}" if target else ""
        out.print(f"{system} has no release{where} yet.")
        return
    places = sorted({e.release.target for e in entries})
    for place in places:
        table = Table(title=f"{escape(system)} in {escape(place)}", title_justify="left")
        table.add_column("#", no_wrap=True, justify="right")
        table.add_column("When (UTC)", overflow="fold", min_width=10)
        table.add_column("What", overflow="fold", ratio=2)
        table.add_column("Candidate", no_wrap=True)
        table.add_column("By", overflow="fold", ratio=1)
        for e in (e for e in entries if e.release.target == place):
            r = e.release
            if e.rollback:
                what = f"[yellow]rollback[/] to {escape(r.version)} (as release #{e.returns_to})"
            else:
                what = f"released {escape(r.version)}"
            if e.replaced is not None and e.replaced != r.version:
                what += f", replacing {escape(e.replaced)}"
            table.add_row(
                str(r.id),
                f"{r.released_at:%Y-%m-%d %H:%M}",
                what,
                short(r.candidate),
                escape(r.released_by),
            )
        out.print(table)


def _entry_json(e: HistoryEntry) -> dict[str, Any]:
    r = e.release
    return {
        "release_id": r.id,
        "environment": r.target,
        "version": r.version,
        "candidate": r.candidate,
        "kind": "rollback" if e.rollback else "release",
        "returns_to_release": e.returns_to,
        "replaced_version": e.replaced,
        "released_at": r.released_at.isoformat(),
        "released_by": r.released_by,
        "components": [c.as_json() for c in r.components],
    }
