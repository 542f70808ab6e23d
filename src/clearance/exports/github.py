"""A gate evaluation as GitHub Actions workflow commands: one annotation per criterion that
needs attention, at the line of the plan that defines it.

Blocking criteria are `::error`; advisory criteria that did not pass, waived criteria and
warnings about the plan are `::warning`; the decision is a `::notice`. Values are escaped as
the Actions toolkit does (`@actions/core` command.ts): in the message `%`, CR and LF; in
properties also `:` and `,`, so a criterion id or a reason cannot end a property or forge a
second command.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from clearance.exports.values import blocking_note

if TYPE_CHECKING:
    from clearance.core.controls import Unmapped
    from clearance.core.decision import Evaluation
    from clearance.core.results import Result

__all__ = ["escape_data", "escape_property", "render_github"]


def escape_data(text: str) -> str:
    """A workflow command's message: `%`, CR and LF percent-encoded."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as a message, and `:` and `,` too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(
    level: str, message: str, *, title: str, file: str | None, at: tuple[int, int] | None
) -> str:
    props = [f"title={escape_property(title)}"]
    if file is not None:
        props.append(f"file={escape_property(file)}")
        if at is not None:
            props += [f"line={at[0]}", f"col={at[1]}"]
    return f"::{level} {','.join(props)}::{escape_data(message)}"


def render_github(
    evaluation: Evaluation,
    *,
    plan_file: str,
    positions: Mapping[str, tuple[int, int]],
    titles: Mapping[str, str],
    system: str,
    version: str,
    warnings: Sequence[Unmapped] = (),
) -> str:
    """The annotations, one per line: each blocking criterion (error), each advisory
    criterion that did not pass and each waived one (warning), each warning about the plan,
    then the decision (notice). A criterion the policy adds has no line in the plan file and
    is annotated on the file alone."""
    blocking = {r.id for r in evaluation.blocking()}
    lines: list[str] = []
    for r in evaluation.results:
        level = _level(r, blocking)
        if level is None:
            continue
        title = f"{r.id}: {r.status.value}" + (" (advisory)" if r.advisory else "")
        if r.id in titles:
            title += f" — {titles[r.id]}"
        where = positions.get(r.id)
        message = r.reason if where is not None else f"{r.reason} (required by the policy)"
        lines.append(_command(level, message, title=title, file=plan_file, at=where))
    for w in warnings:
        lines.append(
            _command("warning", w.message, title="control mapping", file=plan_file, at=None)
        )
    summary = f"{system} {version}: {evaluation.decision}"
    if blocking:
        summary += f" — {blocking_note(len(blocking))}"
    lines.append(
        _command(
            "notice", summary, title=f"Release gate: {evaluation.decision}", file=None, at=None
        )
    )
    return "\n".join(lines)


def _level(result: Result, blocking: set[str]) -> str | None:
    if result.id in blocking:
        return "error"
    if result.status.value == "waived" or (result.advisory and result.status.value != "passed"):
        return "warning"
    return None
