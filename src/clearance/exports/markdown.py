"""A gate evaluation as a markdown table for pull-request comments and CI summaries.

Every value that comes from a plan or its evidence (version, criterion ids, file names,
reasons) is escaped: markdown renderers pass raw HTML through, and a pipe would break the table.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from clearance.exports.values import brief

if TYPE_CHECKING:
    from clearance.core.decision import Evaluation

__all__ = ["cell", "render_markdown"]

ICON = {"passed": "✅", "waived": "🟣", "pending": "⏳", "failed": "❌", "error": "⚠️"}


def cell(text: str) -> str:
    """Text safe inside a markdown table cell or heading, on one line.

    `<`, `>` and `&` become entities, so no tag or autolink can open; quotes stay as they are
    (they matter only inside a tag). Backslashes are doubled before pipes are escaped, so
    a `\\|` in the text cannot end the cell in renderers that count backslashes.
    """
    text = html.escape(text, quote=False).replace("\\", "\\\\").replace("|", "\\|")
    return " ".join(text.splitlines())


def render_markdown(evaluation: Evaluation, system: str, version: str) -> str:
    """A heading with the decision and one table row per criterion, in plan order."""
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
    return "\n".join(lines)
