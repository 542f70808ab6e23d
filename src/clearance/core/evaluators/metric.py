"""The metric criterion: a number read from a metrics file by dotted path, checked against a
threshold and/or against the value recorded for the candidate last released to the target.

Values come from parsed JSON/YAML (mappings and lists) or CSV (a list of rows whose values
are strings): besides `0.auc`-style paths into the rows, a CSV may be a two-column
name/value table (`metric,value`) or a single-row table whose column is the metric.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from clearance.core.criteria import MetricCriterion
from clearance.core.evaluators import evaluator
from clearance.core.evaluators._common import (
    PathFound,
    attach,
    criterion_field,
    find_named,
    fix_plan,
    fmt_number,
    fmt_pair,
    lookup,
    make_result,
    plain_number,
    to_number,
    unreadable,
    update,
)
from clearance.core.evaluators._measured import document_value, measured_on
from clearance.core.results import EvaluationContext, EvidenceItem, NextAction, Result, Status
from clearance.core.sources import is_source

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
NAME_COLUMNS = ("metric", "name", "key")


@evaluator("metric")
def evaluate_metric(criterion: MetricCriterion, ctx: EvaluationContext) -> Result:
    """Read the metric and check the threshold and the regression bound; both must hold."""
    read = _read_metric(criterion, ctx)
    if isinstance(read, Result):
        return read
    value, item, path = read
    untied = measured_on(criterion, ctx, item, path, is_source(path))
    if untied is not None:
        return untied
    failures: list[str] = []
    pending: list[str] = []
    notes: list[str] = []
    name = criterion.metric

    if criterion.threshold is not None:
        shown, wanted = fmt_pair(value, criterion.threshold)
        if OPERATORS[criterion.op](value, criterion.threshold):
            notes.append(f"{name} is {shown} in {item.name}, meeting {criterion.op} {wanted}")
        else:
            failures.append(
                f"{name} is {shown} in {item.name}; the plan requires {criterion.op} {wanted}"
            )

    observed: Any = plain_number(value)
    if criterion.baseline == "released":
        released, drop = _compare_to_release(criterion, ctx, value, failures, pending, notes)
        observed = {
            "value": plain_number(value),
            "released": None if released is None else plain_number(released),
            "drop": None if drop is None else plain_number(drop),
        }

    status = Status.FAILED if failures else Status.PENDING if pending else Status.PASSED
    reason = "; ".join(failures + pending) if failures or pending else "; ".join(notes)
    actions: list[NextAction] = []
    if failures:
        actions.append(NextAction("rerun", criterion.id, path=path))
    if pending:
        actions.append(fix_plan(criterion.id, criterion_field(criterion.id, "baseline")))
    if failures or pending:
        actions.append(NextAction("waive", criterion.id))
    return make_result(criterion, status, reason, observed, _expected(criterion), [item], actions)


def _expected(criterion: MetricCriterion) -> Any:
    threshold = (
        None
        if criterion.threshold is None
        else f"{criterion.op} {plain_number(criterion.threshold)}"
    )
    if criterion.baseline is None:
        return threshold
    expected: dict[str, Any] = {"max_drop": criterion.max_drop, "baseline": criterion.baseline}
    if threshold is not None:
        expected["threshold"] = threshold
    return expected


def _compare_to_release(
    criterion: MetricCriterion,
    ctx: EvaluationContext,
    value: float,
    failures: list[str],
    pending: list[str],
    notes: list[str],
) -> tuple[float | None, float | None]:
    """Check the regression against the released candidate; return (released value, drop)."""
    target = ctx.plan.release.target
    name = criterion.metric
    released = ctx.released
    if released is None:
        notes.append(f"there is no earlier release in {target} to compare {name} against")
        return None, None
    base = to_number(released.metrics.get(name))
    if base is None:
        pending.append(
            f"the candidate released to {target} (version {released.version}) recorded no "
            f"value for {name}, so no comparison is possible; record its value for that "
            "release, or compare against a threshold instead of baseline: released"
        )
        return None, None
    drop = base - value if criterion.higher_is_better else value - base
    max_drop = criterion.max_drop or 0.0
    shown_base, shown_value = fmt_pair(base, value)
    # drop is a computed difference: 0.86 - 0.85 must not exceed a max_drop of 0.01
    too_far = drop > max_drop and not math.isclose(drop, max_drop, rel_tol=1e-9, abs_tol=1e-12)
    summary, allowance = _regression_wording(criterion, base, value, drop)
    summary += (
        f" from {shown_base} (version {released.version} in {target}) to {shown_value}"
        if drop != 0
        else f" at {shown_value} (version {released.version} in {target} had {shown_base})"
    )
    if too_far:
        failures.append(f"{summary}; the plan allows {allowance} of at most {fmt_number(max_drop)}")
    elif drop > 0:
        notes.append(f"{summary}, within the allowed {allowance[2:]} of {fmt_number(max_drop)}")
    else:
        notes.append(summary)
    return base, drop


def _regression_wording(
    criterion: MetricCriterion, base: float, value: float, drop: float
) -> tuple[str, str]:
    """How the change reads, in the direction the numbers moved ("rose" when lower is better
    and it got worse), and the name of the allowance ("a drop", "a rise")."""
    name = criterion.metric
    allowance = "a drop" if criterion.higher_is_better else "a rise"
    if drop == 0:
        return f"{name} is unchanged", allowance
    if drop < 0:
        return f"{name} improved by {fmt_number(abs(drop))}", allowance
    moved = "rose" if value > base else "dropped"
    return f"{name} {moved} by {fmt_number(abs(drop))}", allowance


def _read_metric(
    criterion: MetricCriterion, ctx: EvaluationContext
) -> tuple[float, EvidenceItem, str] | Result:
    """The metric's value, the item it came from and that item's path as the plan names it,
    or the PENDING/ERROR result."""
    items = ctx.evidence_for(criterion.id)
    named = criterion.named_files(ctx.plan)
    expected = _expected(criterion)
    if named:
        path = named[0].path
        item = find_named(items, path)
        if item is None:
            reason = f"{path} is not attached yet: attach it to this criterion"
            actions = [attach(criterion.id, path)]
            return make_result(criterion, Status.PENDING, reason, None, expected, actions=actions)
        candidates: Sequence[EvidenceItem] = [item]
    else:
        candidates = list(reversed(items))
        if not candidates:
            reason = (
                "no metrics file attached; name it in the plan (evidence: eval/metrics.json) "
                "or attach one to this criterion"
            )
            actions = [attach(criterion.id)]
            return make_result(criterion, Status.PENDING, reason, None, expected, actions=actions)

    def where(item: EvidenceItem) -> str:
        return named[0].path if named else item.name

    problems: list[tuple[EvidenceItem, str]] = []
    for item in candidates:
        if item.problem is not None:
            problems.append((item, unreadable(item)))
            continue
        found = (
            document_value(item.content)
            if is_source(where(item))
            else _resolve(item.content, criterion.metric)
        )
        if isinstance(found, str):
            problems.append((item, f'{item.name} has no "{criterion.metric}": {found}'))
            continue
        number = to_number(found.value)
        if number is None:
            reason = (
                f'"{criterion.metric}" in {item.name} is {_show(found.value)}, not a number; '
                "write the metric as a number"
            )
            fix = [update(criterion.id, where(item))]
            return make_result(criterion, Status.ERROR, reason, None, expected, [item], fix)
        return number, item, where(item)

    if len(problems) == 1:
        item, reason = problems[0]
    else:
        reason = f'no attached file holds "{criterion.metric}": ' + "; ".join(
            r for _, r in problems
        )
    used = [item for item, _ in problems]
    fixes = [update(criterion.id, where(item)) for item in used]
    if not any(item.problem for item in used):
        reason += "; correct the metric path in the plan or attach the right file"
        fixes.insert(0, fix_plan(criterion.id, criterion_field(criterion.id, "metric")))
    return make_result(criterion, Status.ERROR, reason, None, expected, used, fixes)


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "empty"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _resolve(content: Any, path: str) -> PathFound | str:
    """The value at `path`, or a description of where the lookup failed."""
    if not isinstance(content, Mapping | list):
        kind = type(content).__name__ if content is not None else "no parsed content"
        return f"it is not a metrics document (JSON, YAML or CSV) but {kind}"
    found = lookup(content, path)
    if isinstance(found, PathFound):
        return found
    if isinstance(content, list) and _is_table(content):
        return _table_lookup(content, path)
    return found.describe()


def _is_table(content: Any) -> bool:
    return (
        isinstance(content, list)
        and bool(content)
        and all(
            isinstance(row, Mapping) and all(v is None or isinstance(v, str) for v in row.values())
            for row in content
        )
    )


def _table_lookup(rows: list[Mapping[str, Any]], path: str) -> PathFound | str:
    columns = list(dict.fromkeys(str(k) for row in rows for k in row))
    by_lower = {c.strip().lower(): c for c in columns}
    name_col = next((by_lower[n] for n in NAME_COLUMNS if n in by_lower), None)
    value_col = by_lower.get("value")
    if name_col is not None and value_col is None and len(columns) == 2:
        value_col = next(c for c in columns if c != name_col)
    if name_col is not None and value_col is not None:
        names = [str(row.get(name_col) or "").strip() for row in rows]
        for row, name in zip(rows, names, strict=True):
            if name == path:
                return PathFound(row.get(value_col))
        return f'its {name_col} column has no "{path}" (it lists: {", ".join(names[:20])})'
    if path in columns:
        if len(rows) == 1:
            return PathFound(rows[0].get(path))
        return (
            f'column "{path}" has {len(rows)} rows; name the row too (e.g. "0.{path}") '
            "or keep a single row"
        )
    return f'the table has no column "{path}" (columns: {", ".join(columns[:20])})'
