"""`clearance check`: the release gate, for people (table) and machines (json, junit, sarif,
markdown)."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
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
from clearance.core.controls import unmapped_criteria
from clearance.exports.checkjson import check_json
from clearance.exports.junit import render_junit
from clearance.exports.markdown import render_markdown
from clearance.exports.matrix import packaged_catalogue
from clearance.exports.nextactions import as_command
from clearance.exports.sarif import render_sarif
from clearance.exports.values import brief

if TYPE_CHECKING:
    from clearance.client.base import LocalPlan
    from clearance.core.controls import Unmapped
    from clearance.core.decision import Evaluation


@click.command()
@plan_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "junit", "sarif", "markdown"]),
    default="table",
    help="table for people; json (schema: `clearance schema --output json`), junit, sarif "
    "(SARIF 2.1.0) or markdown for CI.",
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
    started, clock = datetime.now(UTC), time.monotonic()
    with progress() as bar:
        evaluation = me.check(local, bar).evaluation
    seconds = time.monotonic() - clock
    render(fmt, evaluation, local, plan, started=started, seconds=seconds)
    sys.exit(0 if evaluation.decision == "GO" else 1)


def render(
    fmt: str,
    evaluation: Evaluation,
    local: LocalPlan,
    plan_file: str,
    *,
    started: datetime,
    seconds: float,
) -> None:
    """Print the evaluation of the plan `local` (given as `plan_file`) in format `fmt`, with a
    warning for each passing criterion that covers no control requirement."""
    loaded = local.loaded
    system, version = loaded.plan.system.id, loaded.plan.release.version
    warnings = unmapped_criteria(
        packaged_catalogue(),
        [r.as_json() for r in evaluation.results],
        {c.id: c.controls for c in loaded.plan.criteria},
    )
    if fmt == "json":
        body = check_json(
            evaluation, system=system, version=version, revision=loaded.revision, warnings=warnings
        )
        click.echo(json.dumps(body, indent=2))
    elif fmt == "junit":
        click.echo(
            render_junit(
                evaluation,
                system,
                timestamp=started,
                seconds=seconds,
                hostname=socket.gethostname(),
                version=version,
                revision=loaded.revision,
                warnings=warnings,
            )
        )
    elif fmt == "sarif":
        from clearance import __version__

        click.echo(
            render_sarif(
                evaluation,
                plan_file=plan_file,
                tool_version=__version__,
                positions=_criterion_positions(local, plan_file),
                titles={c.id: c.title for c in loaded.plan.criteria if c.title},
                system=system,
                version=version,
                revision=loaded.revision,
                warnings=warnings,
            )
        )
    elif fmt == "markdown":
        click.echo(render_markdown(evaluation, system, version, plan_file, warnings))
    else:
        show_table(evaluation, system, version, plan_file=plan_file, warnings=warnings)


def _criterion_positions(local: LocalPlan, plan_file: str) -> dict[str, tuple[int, int]]:
    """Where the plan file writes each of its criteria's ids; criteria the policy adds are not
    in it."""
    from clearance.core.policy import yaml_positions

    written = local.loaded.written or local.loaded.plan
    position = yaml_positions(local.path.read_text(encoding="utf-8"), plan_file)
    found = {}
    for i, criterion in enumerate(written.criteria):
        at = position(("criteria", i, "id"))
        if at is not None:
            found[criterion.id] = at
    return found


def show_table(
    evaluation: Evaluation,
    system: str,
    version: str,
    plan_file: str | None = None,
    warnings: Sequence[Unmapped] = (),
) -> None:
    """One row per criterion; under each reason, dim `next:` lines with the commands that move
    it on, for `plan_file` (by default the PLAN argument of the running command); then the
    decision and the warnings about the plan."""
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
    for w in warnings:
        out.print(f"[yellow]warning:[/] {escape(w.message)}")
