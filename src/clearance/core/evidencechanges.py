"""Evidence that follows the work, said in words a person can act on: what a JUnit report
says about the tests without what changes on every identical rerun, what changed in a
candidate's evidence since a sign-off (which file, and for JUnit the test outcomes, for
documents the values), and which results used an attached copy because the file the plan
names was missing when the gate ran. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from clearance.core.evaluators._common import as_utc, find_named, fmt_number, listing
from clearance.core.results import EvaluationContext, Result, TestReport

#: how many names or values a change lists before "and N more"
SHOWN = 4


@dataclass(frozen=True)
class Seen:
    """One evidence file as a candidate's evidence set held it, parsed (a TestReport for
    JUnit, a mapping or list for documents, None for raw files or unreadable ones)."""

    criterion: str
    name: str
    digest: str
    content: Any = None


def junit_fingerprint(report: TestReport) -> dict[str, Any]:
    """What a JUnit report says about the tests: every test's outcome and the totals.
    Timestamps, durations, host names, properties and failure texts are left out: an
    identical rerun rewrites them, and no reviewer judged them."""
    return {
        "cases": sorted([name, outcome] for name, outcome in report.cases),
        "totals": [report.tests, report.failures, report.errors, report.skipped],
    }


def describe_changes(
    before: Mapping[tuple[str, str], Seen], after: Mapping[tuple[str, str], Seen]
) -> list[str]:
    """One sentence per evidence file added, removed or changed between two evidence sets
    keyed by (criterion id, name); a file used by several criteria is said once."""
    said: list[str] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old is None and new is not None:
            line = f"{new.name} was attached to {new.criterion}"
        elif new is None and old is not None:
            line = f"{old.name} is no longer counted for {old.criterion}"
        elif old is not None and new is not None and old.digest != new.digest:
            line = f"{new.name} changed: {what_changed(old.content, new.content, old, new)}"
        else:
            continue
        if line not in said:
            said.append(line)
    return said


def what_changed(old: Any, new: Any, was: Seen, now: Seen) -> str:
    """The change between two parsed versions of one file: test outcomes for JUnit reports,
    values for documents, else the digests."""
    if isinstance(old, TestReport) and isinstance(new, TestReport):
        return junit_changes(old, new)
    if isinstance(old, Mapping | list) and isinstance(new, Mapping | list):
        return document_changes(old, new)
    return f"its content changed ({_short(was.digest)} → {_short(now.digest)})"


def junit_changes(old: TestReport, new: TestReport) -> str:
    """Tests added, removed and flipped (outcome changed) between two reports."""
    before, after = _outcomes(old), _outcomes(new)
    added = [n for n in after if n not in before]
    removed = [n for n in before if n not in after]
    flipped = [
        f"{n} {before[n]} → {after[n]}" for n in after if n in before and before[n] != after[n]
    ]
    parts = []
    if added:
        parts.append(f"{_count(len(added), 'test')} added ({listing(added, SHOWN)})")
    if removed:
        parts.append(f"{_count(len(removed), 'test')} removed ({listing(removed, SHOWN)})")
    if flipped:
        parts.append(f"{_count(len(flipped), 'test')} changed outcome ({listing(flipped, SHOWN)})")
    totals = (old.tests, old.failures, old.errors, old.skipped)
    if not parts and totals != (new.tests, new.failures, new.errors, new.skipped):
        parts.append(
            f"totals went from {old.tests} tests, {old.failures + old.errors} failing to "
            f"{new.tests} tests, {new.failures + new.errors} failing"
        )
    return "; ".join(parts) or "the same test outcomes (only run details such as times differ)"


def document_changes(old: Any, new: Any) -> str:
    """Values that differ between two parsed documents, by dotted path."""
    before, after = dict(_leaves(old)), dict(_leaves(new))
    changed = [
        f"{path} {_show(before[path])} → {_show(value)}"
        for path, value in after.items()
        if path in before and before[path] != value
    ]
    added = [f"{path} = {_show(v)}" for path, v in after.items() if path not in before]
    removed = [path for path in before if path not in after]
    parts = []
    if changed:
        parts.append(listing(changed, SHOWN))
    if added:
        parts.append(f"added {listing(added, SHOWN)}")
    if removed:
        parts.append(f"removed {listing(removed, SHOWN)}")
    return "; ".join(parts) or "the same values (only formatting changed)"


def note_fallbacks(result: Result, ctx: EvaluationContext) -> Result:
    """Say in the result's reason which plan-named files were missing when the gate ran and
    which attached copy (from when, by whom) was used instead: a fallback is never silent."""
    notes = []
    items = ctx.evidence_for(result.id)
    for criterion_id, path in sorted(ctx.missing_files):
        if criterion_id != result.id:
            continue
        item = find_named(items, path)
        if item is None:
            continue
        notes.append(
            f"{path} was not found when the gate ran, so the copy attached on "
            f"{stamp(item.added_at)} by {item.added_by} was used"
        )
    if not notes:
        return result
    return replace(result, reason=f"{result.reason}; {'; '.join(notes)}")


def stamp(moment: datetime) -> str:
    """A moment as people read it in a reason: `2026-11-30 14:02 UTC`."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _outcomes(report: TestReport) -> dict[str, str]:
    """Test name -> outcome; repeated names are numbered so none hides another."""
    found: dict[str, str] = {}
    for name, outcome in report.cases:
        key, n = name, 1
        while key in found:
            n += 1
            key = f"{name} #{n}"
        found[key] = outcome
    return found


def _leaves(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, Mapping):
        out: list[tuple[str, Any]] = []
        for key, value in data.items():
            out += _leaves(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(data, list):
        out = []
        for i, value in enumerate(data):
            out += _leaves(value, f"{prefix}.{i}" if prefix else str(i))
        return out
    return [(prefix, data)]


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    if isinstance(value, int | float):
        return fmt_number(value, 6)
    text = repr(str(value))
    return text if len(text) <= 40 else text[:37] + "…'"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _short(digest: str) -> str:
    return digest[:19] + "…" if len(digest) > 19 else digest
