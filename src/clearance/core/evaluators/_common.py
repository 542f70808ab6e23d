"""Small pieces every evaluator needs: finding the item for a named file, dotted-path lookup
in parsed documents, number formatting for reasons, and building a `Result` with its next
actions."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from clearance.core.results import EvidenceItem, NextAction, Result, Status


class CriterionLike(Protocol):
    """What `make_result` reads from any criterion model."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def advisory(self) -> bool: ...


def make_result(
    criterion: CriterionLike,
    status: Status,
    reason: str,
    observed: Any = None,
    expected: Any = None,
    used: Iterable[EvidenceItem] = (),
    actions: Iterable[NextAction] = (),
) -> Result:
    """A result for `criterion`, citing the digests of the evidence items actually used, with
    the next actions in the order given (once each). An advisory criterion never blocks, so
    it is not offered a waiver."""
    digests = tuple(dict.fromkeys(item.digest for item in used))
    offered = tuple(
        a for a in dict.fromkeys(actions) if not (criterion.advisory and a.kind == "waive")
    )
    return Result(
        id=criterion.id,
        kind=criterion.kind,
        status=status,
        reason=reason,
        observed=observed,
        expected=expected,
        evidence=digests,
        advisory=criterion.advisory,
        next=offered,
    )


def attach(criterion_id: str, path: str | None = None, role: str | None = None) -> NextAction:
    """Attach `path` (None: any file) to the criterion, attested in `role` when given."""
    return NextAction("attach", criterion_id, path=path, role=role)


def update(criterion_id: str, path: str) -> NextAction:
    """Correct the attached file `path` and attach it again."""
    return NextAction("update_evidence", criterion_id, path=path)


def fix_plan(criterion_id: str, field: str) -> NextAction:
    """Edit the plan at `field`."""
    return NextAction("fix_plan", criterion_id, field=field)


def criterion_field(criterion_id: str, setting: str) -> str:
    """Where a criterion's own setting is written in the plan, by id (a policy's criteria
    come first in the merged plan, so an index would not match the plan file):
    `criteria[id=env].acknowledge`."""
    return f"criteria[id={criterion_id}].{setting}"


def unreadable(item: EvidenceItem) -> str:
    """The reason for an item the service layer could not parse."""
    return f"{item.name} could not be read: {item.problem}; fix the file and attach it again"


def _normalise(name: str) -> tuple[str, ...]:
    parts = name.replace("\\", "/").split("/")
    return tuple(p for p in parts if p not in ("", "."))


def find_named(items: Sequence[EvidenceItem], path: str) -> EvidenceItem | None:
    """The attached item for a file the plan names: same path, or else the only item whose
    path ends with the named path (or whose name is a tail of it, e.g. `metrics.json`)."""
    want = _normalise(path)
    exact = [i for i in items if _normalise(i.name) == want]
    if exact:
        return exact[-1]
    tails = []
    for item in items:
        have = _normalise(item.name)
        n = min(len(have), len(want))
        if n and have[-n:] == want[-n:]:
            tails.append(item)
    return tails[0] if len(tails) == 1 else None


def split_named(
    items: Sequence[EvidenceItem], paths: Iterable[str]
) -> tuple[dict[str, EvidenceItem], list[str]]:
    """Map each named path to its attached item; return the paths not attached yet."""
    found: dict[str, EvidenceItem] = {}
    missing: list[str] = []
    for path in paths:
        item = find_named(items, path)
        if item is None:
            missing.append(path)
        else:
            found[path] = item
    return found, missing


# --- dotted paths -------------------------------------------------------------------------


@dataclass(frozen=True)
class PathFound:
    value: Any


@dataclass(frozen=True)
class PathMissing:
    """Where a dotted path stopped resolving, and what exists there."""

    trail: tuple[str, ...]  # keys/indices resolved before the failure
    segment: str  # the part that could not be found
    available: tuple[str, ...]  # keys (or index range) at the point of failure
    node_type: str  # mapping, list or the type of the scalar reached
    depth: int  # path segments consumed before the failure

    def describe(self) -> str:
        where = f'"{".".join(self.trail)}"' if self.trail else "the top level"
        if self.node_type == "mapping":
            keys = ", ".join(self.available[:20]) or "none"
            more = f" and {len(self.available) - 20} more" if len(self.available) > 20 else ""
            return f'{where} has no key "{self.segment}" (keys there: {keys}{more})'
        if self.node_type == "list":
            span = self.available[0] if self.available else "it is empty"
            return f'{where} is a list; "{self.segment}" is not an index of it ({span})'
        return f'{where} is a {self.node_type}, not a mapping, so it has no "{self.segment}"'


def _type_name(value: Any) -> str:
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, list | tuple):
        return "list"
    if value is None:
        return "null"
    return {"str": "string", "int": "number", "float": "number", "bool": "boolean"}.get(
        type(value).__name__, type(value).__name__
    )


def lookup(data: Any, path: str) -> PathFound | PathMissing:
    """Resolve a dotted path: mapping keys (longest key first, since keys may hold dots,
    falling back to shorter ones) and non-negative integer list indices."""
    segments = path.split(".")

    def walk(node: Any, i: int, trail: tuple[str, ...]) -> PathFound | PathMissing:
        if i == len(segments):
            return PathFound(node)
        if isinstance(node, Mapping):
            keys = {str(k): k for k in node}
            misses: list[PathMissing] = []
            for j in range(len(segments), i, -1):
                key = ".".join(segments[i:j])
                if key in keys:
                    found = walk(node[keys[key]], j, (*trail, key))
                    if isinstance(found, PathFound):
                        return found
                    misses.append(found)
            if misses:
                return max(misses, key=lambda m: m.depth)
            return PathMissing(trail, segments[i], tuple(sorted(keys)), "mapping", i)
        if isinstance(node, list | tuple):
            seg = segments[i]
            if seg.isascii() and seg.isdigit() and int(seg) < len(node):
                return walk(node[int(seg)], i + 1, (*trail, seg))
            span = (f"0 to {len(node) - 1}",) if node else ()
            return PathMissing(trail, seg, span, "list", i)
        return PathMissing(trail, segments[i], (), _type_name(node), i)

    return walk(data, 0, ())


# --- numbers, times, values ---------------------------------------------------------------

_INT = re.compile(r"^[+-]?\d+$")


def to_number(value: Any) -> int | float | None:
    """A finite number from a number or numeric string; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if _INT.match(text) else float(text)
        except ValueError:
            return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def fmt_number(x: float, digits: int = 4) -> str:
    """Round to `digits` significant digits for a reason; integers stay whole."""
    if isinstance(x, int) or (float(x).is_integer() and abs(x) < 1e15):
        return str(int(x))
    if 1 <= abs(x) < 1e15:
        decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
        text = f"{x:.{decimals}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{x:.{digits}g}"


def fmt_pair(a: float, b: float) -> tuple[str, str]:
    """Format two numbers for comparison, with more digits when 4 would make them look equal."""
    digits = 4
    while digits < 17:
        sa, sb = fmt_number(a, digits), fmt_number(b, digits)
        if sa != sb or a == b:
            return sa, sb
        digits += 1
    return repr(a), repr(b)


def plain_number(x: float) -> int | float:
    """A number for observed/expected: whole floats as int, float noise rounded away."""
    if isinstance(x, int):
        return x
    if x.is_integer() and abs(x) < 1e15:
        return int(x)
    return float(f"{x:.12g}")


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def parse_moment(value: Any) -> datetime | None:
    """A date or datetime (object or ISO 8601 text) as an aware datetime; None if unreadable."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return parse_moment(date.fromisoformat(text))
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        return None


def fmt_age(seconds: float) -> str:
    """`61.5 days`, `1 day`, `5 hours`, `12 min`."""
    days = seconds / 86400
    if days >= 1:
        return "1 day" if days == 1 else f"{fmt_number(round(days, 1))} days"
    hours = seconds / 3600
    return f"{math.floor(hours)} hours" if hours >= 2 else f"{max(0, math.floor(seconds / 60))} min"


def jsonable(value: Any) -> Any:
    """Plain JSON data: mappings, lists, str, numbers, booleans, null; anything else as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def listing(names: Sequence[str], limit: int = 5) -> str:
    """`a, b, c` or `a, b, c, d, e and 3 more`."""
    shown = ", ".join(names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown
