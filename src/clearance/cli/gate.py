"""`clearance check`: the release gate, for people (table) and machines (json, junit, markdown)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from clearance.cli.output import (
    STATUS_STYLE,
    as_option,
    console,
    load,
    plan_argument,
    progress,
    short,
    workspace,
)

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
@as_option()
@click.pass_context
def check(ctx: click.Context, plan: str, fmt: str, as_: str | None) -> None:
    """Evaluate every criterion from evidence and record the decision.

    Submits the revision if it is new and ingests the evidence files the plan names.
    Exit 0 on GO, 1 on NO-GO.

    \b
    Example:
      clearance check plan.yaml --format json
    """
    from clearance.services.gate import check as run_check

    loaded = load(ctx, plan)
    ws = workspace(ctx)
    with progress() as bar:
        checked = run_check(ws, loaded, ws.actor(as_), bar)
    evaluation = checked.evaluation
    if fmt == "json":
        click.echo(json.dumps(evaluation.as_json(), indent=2))
    elif fmt == "junit":
        click.echo(render_junit(evaluation, loaded.plan.system.id))
    elif fmt == "markdown":
        click.echo(render_markdown(evaluation, loaded.plan.system.id, loaded.plan.release.version))
    else:
        show_table(evaluation, loaded.plan.system.id, loaded.plan.release.version)
    sys.exit(0 if evaluation.decision == "GO" else 1)


def show_table(evaluation: Evaluation, system: str, version: str) -> None:
    from rich.markup import escape
    from rich.table import Table

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
            escape(_brief(r.observed)),
            escape(_brief(r.expected)),
            escape(r.reason),
        )
    out = console()
    out.print(table)
    style = STATUS_STYLE[evaluation.decision]
    blocking = evaluation.blocking()
    out.print(
        f"Decision: [{style}]{evaluation.decision}[/]"
        + (f" — {len(blocking)} criteria block the release" if blocking else "")
    )


def _brief(value: Any, limit: int = 80) -> str:
    """A short human form of an observed or expected value: scalars as they are, mappings as
    `key: value` lines; --format json has the full values."""
    if value is None:
        return "—"
    if isinstance(value, dict):
        text = "\n".join(f"{k}: {_scalar(v)}" for k, v in value.items())
    elif isinstance(value, list):
        text = ", ".join(_scalar(v) for v in value)
    else:
        text = _scalar(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return f"{value:g}"
    return json.dumps(value, separators=(",", ":"))


def render_junit(evaluation: Evaluation, system: str) -> str:
    """One test case per criterion: failed/pending are failures, error is an error,
    advisory criteria that do not pass are skipped."""
    import xml.etree.ElementTree as ET

    suite = ET.Element("testsuite", name=f"clearance.{system}", tests=str(len(evaluation.results)))
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    for r in evaluation.results:
        case = ET.SubElement(suite, "testcase", classname=f"clearance.{r.kind}", name=r.id)
        message = f"{r.status.value}: {r.reason}"
        if r.status.value in ("passed", "waived"):
            continue
        if r.advisory:
            ET.SubElement(case, "skipped", message=f"advisory — {message}")
            counts["skipped"] += 1
        elif r.status.value == "error":
            ET.SubElement(case, "error", message=message, type="error").text = message
            counts["errors"] += 1
        else:
            ET.SubElement(case, "failure", message=message, type=r.status.value).text = message
            counts["failures"] += 1
    for key, value in counts.items():
        suite.set(key, str(value))
    root = ET.Element("testsuites")
    root.append(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def render_markdown(evaluation: Evaluation, system: str, version: str) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    icon = {"passed": "✅", "waived": "🟣", "pending": "⏳", "failed": "❌", "error": "⚠️"}
    lines = [
        f"## {system} {version}: **{evaluation.decision}**",
        "",
        f"Candidate `{evaluation.candidate}`",
        "",
        "| Criterion | Kind | Status | Observed | Expected | Reason |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in evaluation.results:
        name = r.id + (" (advisory)" if r.advisory else "")
        lines.append(
            f"| {cell(name)} | {r.kind} | {icon.get(r.status.value, '')} {r.status.value} | "
            f"{cell(_brief(r.observed))} | {cell(_brief(r.expected))} | {cell(r.reason)} |"
        )
    return "\n".join(lines)
