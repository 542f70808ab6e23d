"""The environment criterion: the source and target manifests agree on `must_match`, and every
other difference is acknowledged with a note saying how the plan accounts for it (B.6.2.5:
development and deployment environments differ, and the plan says how)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clearance.core.criteria import EnvironmentCriterion
from clearance.core.evaluators import evaluator
from clearance.core.evaluators._common import (
    attach,
    criterion_field,
    find_named,
    fix_plan,
    jsonable,
    listing,
    make_result,
    unreadable,
    update,
)
from clearance.core.results import EvaluationContext, EvidenceItem, NextAction, Result, Status

ABSENT: Any = object()
#: what describes a capture rather than the environment (its label and when it was taken):
#: never a difference between two environments, unless a plan names one under must_match
VOLATILE = ("name", "captured_at")


@dataclass(frozen=True)
class _Manifest:
    values: dict[str, Any]
    item: EvidenceItem | None
    #: how to change it: correct the attached file, or edit the plan where it is written inline
    fix: NextAction


def flatten(manifest: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings to dotted keys; lists and empty mappings stay values."""
    flat: dict[str, Any] = {}
    for key, value in manifest.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = jsonable(value)
    return flat


def covers(prefix: str, key: str) -> bool:
    """Whether a must_match or acknowledge entry covers a manifest key (itself or a parent)."""
    return key == prefix or key.startswith(prefix + ".")


@evaluator("environment")
def evaluate_environment(criterion: EnvironmentCriterion, ctx: EvaluationContext) -> Result:
    """FAILED on a must_match difference; PENDING on a missing manifest or acknowledgement."""
    source, target = criterion.environments(ctx.plan)
    expected = {
        "must_match": list(criterion.must_match),
        "acknowledged": sorted(criterion.acknowledge),
    }
    manifests: list[_Manifest] = []
    for name in (source, target):
        found = _manifest(criterion, ctx, name)
        if isinstance(found, Result):
            return found
        manifests.append(found)
    src, tgt = manifests
    used = [m.item for m in manifests if m.item is not None]

    differences: list[dict[str, Any]] = []
    mismatched: list[str] = []
    unacknowledged: list[str] = []
    for key in sorted(set(src.values) | set(tgt.values)):
        a, b = src.values.get(key, ABSENT), tgt.values.get(key, ABSENT)
        if a is not ABSENT and a == b:
            continue
        if key in VOLATILE and not any(covers(m, key) for m in criterion.must_match):
            continue
        strict = any(covers(m, key) for m in criterion.must_match)
        note = None if strict else _acknowledgement(criterion, key)
        differences.append(
            {
                "key": key,
                "source": None if a is ABSENT else a,
                "target": None if b is ABSENT else b,
                "acknowledged": note,
                "must_match": strict,
            }
        )
        line = f"{key}: {source} has {_show(a)}, {target} has {_show(b)}"
        if strict:
            mismatched.append(line)
        elif note is None:
            unacknowledged.append(line)
    for entry in criterion.must_match:
        if not any(covers(entry, k) for k in src.values) and not any(
            covers(entry, k) for k in tgt.values
        ):
            mismatched.append(f"{entry}: absent from both {source} and {target}")

    if mismatched:
        reason = (
            f"the {source} and {target} manifests must match on "
            f"{', '.join(criterion.must_match)} but differ: "
            + "; ".join(mismatched)
            + f"; align {target} with {source} (recording each key in both manifests), or "
            "validate the release in an environment that matches"
        )
        return make_result(criterion, Status.FAILED, reason, differences, expected, used, [tgt.fix])
    if unacknowledged:
        first = unacknowledged[0].split(":", 1)[0]
        reason = (
            f"{len(unacknowledged)} unacknowledged difference"
            f"{'s' if len(unacknowledged) != 1 else ''} between {source} and {target}: "
            + "; ".join(unacknowledged[:10])
            + (f"; and {len(unacknowledged) - 10} more" if len(unacknowledged) > 10 else "")
            + f"; say how each is accounted for under the criterion's acknowledge, e.g. "
            f"`acknowledge: {{{first}: <note>}}` (a key prefix covers every key below it)"
        )
        actions = [fix_plan(criterion.id, criterion_field(criterion.id, "acknowledge"))]
        return make_result(criterion, Status.PENDING, reason, differences, expected, used, actions)
    acknowledged = [d["key"] for d in differences]
    reason = f"{source} and {target} match on {', '.join(criterion.must_match) or 'every key'}"
    if acknowledged:
        reason += f"; {len(acknowledged)} acknowledged differences ({listing(acknowledged)})"
    return make_result(criterion, Status.PASSED, reason, differences, expected, used)


def _acknowledgement(criterion: EnvironmentCriterion, key: str) -> str | None:
    """The note of the most specific acknowledge entry covering `key`."""
    entries = [e for e in criterion.acknowledge if covers(e, key)]
    return criterion.acknowledge[max(entries, key=len)] if entries else None


def _show(value: Any) -> str:
    if value is ABSENT:
        return "nothing (absent)"
    text = repr(value) if isinstance(value, str) else str(jsonable(value))
    return text if len(text) <= 60 else text[:57] + "..."


def _manifest(
    criterion: EnvironmentCriterion, ctx: EvaluationContext, name: str
) -> _Manifest | Result:
    """The flattened manifest of environment `name`, or the PENDING/ERROR result."""
    expected = {
        "must_match": list(criterion.must_match),
        "acknowledged": sorted(criterion.acknowledge),
    }
    env = ctx.plan.environments.get(name)
    if env is None:
        reason = (
            f'environment "{name}" is not declared under environments; declare it with its '
            "manifest (inline under manifest: or as a file under file:)"
        )
        actions = [fix_plan(criterion.id, f"environments.{name}")]
        return make_result(criterion, Status.PENDING, reason, None, expected, actions=actions)
    if env.manifest is not None:
        inline = fix_plan(criterion.id, f"environments.{name}.manifest")
        return _Manifest(flatten(env.manifest), None, inline)
    if env.file is None:
        reason = (
            f"environment {name} has no manifest; write it under environments.{name}.manifest "
            f"or name a manifest file under environments.{name}.file"
        )
        actions = [fix_plan(criterion.id, f"environments.{name}.manifest")]
        return make_result(criterion, Status.PENDING, reason, None, expected, actions=actions)
    item = find_named(ctx.evidence_for(criterion.id), env.file)
    if item is None:
        reason = (
            f"{env.file} (the manifest of {name}) is not attached yet; attach it to this criterion"
        )
        actions = [attach(criterion.id, env.file)]
        return make_result(criterion, Status.PENDING, reason, None, expected, actions=actions)
    fix = update(criterion.id, env.file)
    if item.problem is not None:
        return make_result(criterion, Status.ERROR, unreadable(item), None, expected, [item], [fix])
    if not isinstance(item.content, Mapping):
        reason = (
            f"{item.name} (the manifest of {name}) is not a mapping of keys to values; write "
            "the manifest as a JSON or YAML mapping (e.g. runtime: {python: '3.11'})"
        )
        return make_result(criterion, Status.ERROR, reason, None, expected, [item], [fix])
    return _Manifest(flatten(item.content), item, fix)
