"""A pull-request comment about a gate evaluation: the decision, what changed since the
revision released in the target (a semantic plan diff), which criteria block and why, the
commands that move them on, and every criterion folded away below.

GitHub refuses a comment over 65,536 characters, so the comment is cut at whole lines to
fit, with a note saying how much was left out and where the full report is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clearance.exports.markdown import ICON, cell, code
from clearance.exports.nextactions import as_command
from clearance.exports.values import blocking_note, brief

if TYPE_CHECKING:
    from clearance.core.controls import Unmapped
    from clearance.core.decision import Evaluation
    from clearance.core.diff import Change

__all__ = ["GITHUB_COMMENT_LIMIT", "Baseline", "render_pr_comment"]

#: the most characters GitHub accepts in an issue or pull-request comment
GITHUB_COMMENT_LIMIT = 65_536
#: changes listed before the rest are only counted
MAX_CHANGES = 200


@dataclass(frozen=True)
class Baseline:
    """The revision released in the target, and how the plan under review differs from it."""

    version: str
    revision: str
    release_id: int
    changes: Sequence[Change]


def render_pr_comment(
    evaluation: Evaluation,
    *,
    system: str,
    version: str,
    target: str,
    revision: str,
    baseline: Baseline | None,
    plan_file: str = "plan.yaml",
    warnings: Sequence[Unmapped] = (),
    limit: int = GITHUB_COMMENT_LIMIT,
) -> str:
    """The comment, at most `limit` characters. `baseline` None means nothing has been
    released to `target` yet."""
    blocking = evaluation.blocking()
    verdict = evaluation.decision + (f" — {blocking_note(len(blocking))}" if blocking else "")
    head = [
        f"## Release gate: {cell(system)} {cell(version)} → {cell(target)}: **{verdict}**",
        "",
        f"Candidate {code(evaluation.candidate)} · revision {code(revision)}",
        "",
    ]
    body = _changes(baseline, target, revision) + _blocking(evaluation, plan_file)
    if warnings:
        body += ["### Warnings", "", *(f"- ⚠️ {cell(w.message)}" for w in warnings), ""]
    body += _all(evaluation)
    return _fit(head, body, limit)


def _changes(baseline: Baseline | None, target: str, revision: str) -> list[str]:
    if baseline is None:
        return [
            "### What changed",
            "",
            f"First release to {cell(target)}: nothing has been released there yet.",
            "",
        ]
    title = (
        f"### What changed since the released revision ({cell(baseline.version)}, "
        f"release #{baseline.release_id}, revision {code(baseline.revision[:19])})"
    )
    if baseline.revision == revision:
        return [title, "", "Nothing: this is the plan revision released there.", ""]
    if not baseline.changes:
        return [title, "", "The plan is the same; only component artifacts may differ.", ""]
    marks = {"added": "➕", "removed": "➖", "changed": "✏️"}
    lines = [title, ""]
    lines += [f"- {marks[c.change]} {cell(str(c))}" for c in baseline.changes[:MAX_CHANGES]]
    if len(baseline.changes) > MAX_CHANGES:
        lines.append(f"- … and {len(baseline.changes) - MAX_CHANGES} more changes")
    return [*lines, ""]


def _blocking(evaluation: Evaluation, plan_file: str) -> list[str]:
    blocking = evaluation.blocking()
    if not blocking:
        return ["### Blocking", "", "Nothing blocks the release.", ""]
    lines = ["### Blocking", "", "| Criterion | Status | Why |", "| --- | --- | --- |"]
    for r in blocking:
        status = r.status.value
        lines.append(f"| {cell(r.id)} | {ICON.get(status, '')} {status} | {cell(r.reason)} |")
    steps = [r for r in blocking if r.next]
    if steps:
        lines += ["", "Next steps:", ""]
    for r in steps:
        lines.append(f"- **{cell(r.id)}**")
        lines += [f"  - {code(as_command(a, plan_file))}" for a in r.next]
    return [*lines, ""]


def _all(evaluation: Evaluation) -> list[str]:
    lines = [
        f"<details><summary>All criteria ({len(evaluation.results)})</summary>",
        "",
        "| Criterion | Status | Observed | Expected |",
        "| --- | --- | --- | --- |",
    ]
    for r in evaluation.results:
        name = r.id + (" (advisory)" if r.advisory else "")
        status = r.status.value
        lines.append(
            f"| {cell(name)} | {ICON.get(status, '')} {status} | "
            f"{cell(brief(r.observed))} | {cell(brief(r.expected))} |"
        )
    return [*lines, "", "</details>"]


def _fit(head: list[str], body: list[str], limit: int) -> str:
    """Head and body joined, cut at a whole line with a note when over `limit`; an open
    <details> is closed so the rest of the page renders."""
    text = "\n".join(head + body)
    if len(text) <= limit:
        return text
    kept = list(head)
    size = len("\n".join(kept))
    reserve = 400  # the note and a closing tag
    left = 0
    for i, line in enumerate(body):
        if size + 1 + len(line) > limit - reserve:
            left = len(body) - i
            break
        kept.append(line)
        size += 1 + len(line)
    if "<details>" in "".join(kept) and "</details>" not in kept[-1]:
        opened = sum(line.startswith("<details>") for line in kept)
        closed = sum(line == "</details>" for line in kept)
        kept += ["", "</details>"] * (opened - closed)
    kept += [
        "",
        f"> ✂️ Cut to fit GitHub's {limit:,}-character comment limit: {left} more lines left "
        "out. The full report is `clearance check --format markdown` (or the job's JUnit "
        "artifact).",
    ]
    return "\n".join(kept)
