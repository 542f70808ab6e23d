"""A gate evaluation as a markdown table for pull-request comments and CI summaries, followed
by the commands that move each criterion on.

Every value that comes from a plan or its evidence (version, criterion ids, file names,
reasons) is escaped: markdown renderers pass raw HTML through, and a pipe would break the table.
Commands are code spans, which renderers show literally, fenced so that no backtick in them
can close the span.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from clearance.exports.nextactions import as_command
from clearance.exports.values import brief

if TYPE_CHECKING:
    from clearance.core.controls import Unmapped
    from clearance.core.decision import Evaluation

__all__ = ["cell", "code", "render_markdown"]

ICON = {"passed": "✅", "waived": "🟣", "pending": "⏳", "failed": "❌", "error": "⚠️"}


def cell(text: str) -> str:
    """Text safe inside a markdown table cell or heading, on one line.

    `<`, `>` and `&` become entities, so no tag or autolink can open; quotes stay as they are
    (they matter only inside a tag). Backslashes are doubled before pipes are escaped, so
    a `\\|` in the text cannot end the cell in renderers that count backslashes.
    """
    text = html.escape(text, quote=False).replace("\\", "\\\\").replace("|", "\\|")
    return " ".join(text.splitlines())


def code(text: str) -> str:
    """`text` as an inline code span on one line, which renderers show literally: delimited by
    one backtick more than its longest run of backticks, and padded with a space where
    CommonMark would otherwise merge a backtick into the delimiter or strip a space. Empty
    text, which no code span can hold, becomes one space."""
    text = " ".join(text.splitlines()) or " "
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    ends = text[:1] + text[-1:]
    pad = " " if "`" in ends or (ends == "  " and text.strip(" ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def render_markdown(
    evaluation: Evaluation,
    system: str,
    version: str,
    plan_file: str = "plan.yaml",
    warnings: Sequence[Unmapped] = (),
) -> str:
    """A heading with the decision, one table row per criterion in plan order, the warnings
    about the plan, then the next steps: for each criterion with next actions, the commands
    (on the plan in `plan_file`)."""
    lines = [
        f"## {cell(system)} {cell(version)}: **{evaluation.decision}**",
        "",
        f"Candidate `{cell(evaluation.candidate)}`",
        "",
        "| Criterion | Kind | Status | Observed | Expected | Reason |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in evaluation.results:
        name = r.id + (" (advisory)" if r.advisory else "")
        status = r.status.value
        lines.append(
            f"| {cell(name)} | {cell(r.kind)} | {ICON.get(status, '')} {cell(status)} | "
            f"{cell(brief(r.observed))} | {cell(brief(r.expected))} | {cell(r.reason)} |"
        )
    if warnings:
        lines += ["", "### Warnings", ""]
        lines += [f"- ⚠️ {cell(w.message)}" for w in warnings]
    steps = [r for r in evaluation.results if r.next]
    if steps:
        lines += ["", "### Next steps", ""]
    for r in steps:
        name = r.id + (" (advisory)" if r.advisory else "")
        lines.append(f"- **{cell(name)}** ({cell(r.status.value)})")
        lines += [f"  - {code(as_command(action, plan_file))}" for action in r.next]
    return "\n".join(lines)
