"""`clearance check`: the release gate, for people (table) and machines (json, junit, markdown)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from clearance.cli.output import (
    STATUS_STYLE,
    client,
    console,
    key_option,
    plan_argument,
    progress,
    short,
)
from clearance.exports.junit import render_junit
from clearance.exports.markdown import render_markdown
from clearance.exports.nextactions import as_command
from clearance.exports.values import brief

if TYPE_CHECKING:
    from clearance.core.decision import Evaluation


@click.command()
@plan_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "junit", "markdown"]),
    default="table",
    help="table for people; json, junit or markdown for CI.",
)
@key_option
@click.pass_context
def check(ctx: click.Context, plan: str, fmt: str, key_file: str | None) -> None:
    """Evaluate every criterion from evidence and record the decision.

    Submits the revision if it is new and ingests the evidence files the plan names.
    Signed by your identity when you have one; anyone may check, and a check without an
    identity is recorded as unsigned. Exit 0 on GO, 1 on NO-GO.

    \b
    Example:
      clearance check plan.yaml --format json
    """
    me = client(ctx, key_file)
    local = me.plan(Path(plan))
    loaded = local.loaded
    with progress() as bar:
        evaluation = me.check(local, bar).evaluation
    if fmt == "json":
        click.echo(json.dumps(evaluation.as_json(), indent=2))
    elif fmt == "junit":
        click.echo(render_junit(evaluation, loaded.plan.system.id))
    elif fmt == "markdown":
        click.echo(
            render_markdown(
                evaluation, loaded.plan.system.id, loaded.plan.release.version, plan_file=plan
            )
        )
    else:
        show_table(evaluation, loaded.plan.system.id, loaded.plan.release.version, plan_file=plan)
    sys.exit(0 if evaluation.decision == "GO" else 1)


def show_table(
    evaluation: Evaluation, system: str, version: str, plan_file: str | None = None
) -> None:
    """One row per criterion; under each reason, dim `next:` lines with the commands that move
    it on, for `plan_file` (by default the PLAN argument of the running command)."""
    from rich.markup import escape
    from rich.table import Table

    if plan_file is None:
        running = click.get_current_context(silent=True)
        plan_file = str(running.params.get("plan") or "PLAN") if running else "PLAN"

    table = Table(
        title=f"{system} {version} — candidate {short(evaluation.candidate)}", show_lines=True
    )
    table.add_column("Criterion", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Observed", ratio=1, max_width=20)
    table.add_column("Expected", ratio=1, max_width=20)
    table.add_column("Reason", ratio=3, min_width=30)
    for r in evaluation.results:
        style = STATUS_STYLE.get(r.status.value, "")
        name = f"{escape(r.id)}\n[dim]{r.kind}{' · advisory' if r.advisory else ''}[/]"
        table.add_row(
            name,
            f"[{style}]{r.status.value}[/]",
            escape(brief(r.observed)),
            escape(brief(r.expected)),
            escape(r.reason)
            + "".join(f"\n[dim]next: {escape(as_command(a, plan_file))}[/]" for a in r.next),
        )
    out = console()
    out.print(table)
    style = STATUS_STYLE[evaluation.decision]
    blocking = evaluation.blocking()
    out.print(
        f"Decision: [{style}]{evaluation.decision}[/]"
        + (f" — {len(blocking)} criteria block the release" if blocking else "")
    )
