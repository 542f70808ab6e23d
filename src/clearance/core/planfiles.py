"""Every file a plan names, with where the plan names it: the list a path check walks.

Component artifacts, environment manifest files and the rollback documents are named by
the plan itself; criteria name theirs through `named_files`, so a new criterion kind is
covered without being listed here.
"""

from __future__ import annotations

from typing import NamedTuple

from clearance.core.criteria import CriterionBase
from clearance.core.plan import Plan

Loc = tuple[str | int, ...]

#: fields every criterion has; none of them names a file
_COMMON_FIELDS = frozenset(CriterionBase.model_fields)


class PlanFile(NamedTuple):
    """A path as written in the plan, and the location (for `yaml_positions`) naming it."""

    location: Loc
    path: str

    @property
    def field(self) -> str:
        """The location as a person reads it: `criteria[3].evidence`, `rollback.procedure`."""
        out = ""
        for part in self.location:
            out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
        return out


def plan_files(plan: Plan) -> list[PlanFile]:
    """Every file the plan names, in the order the plan's sections are read."""
    files: list[PlanFile] = []
    for i, comp in enumerate(plan.components):
        if comp.artifact is not None:
            files.append(PlanFile(("components", i, "artifact"), comp.artifact))
    for name, env in plan.environments.items():
        if env.file is not None:
            files.append(PlanFile(("environments", name, "file"), env.file))
    if plan.rollback is not None:
        for field in ("procedure", "rehearsal"):
            path = getattr(plan.rollback, field)
            if path:
                files.append(PlanFile(("rollback", field), path))
    named_by_plan = {f.path for f in files}
    for i, crit in enumerate(plan.criteria):
        files.extend(_criterion_files(plan, i, crit, named_by_plan))
    return files


def _criterion_files(
    plan: Plan, index: int, crit: CriterionBase, named_by_plan: set[str]
) -> list[PlanFile]:
    """The criterion's own path fields; a named file found in none of them is still listed,
    at the criterion, so that no file the evaluators ingest escapes the check."""
    named = {f.path for f in crit.named_files(plan)}
    found: list[PlanFile] = []
    for name, info in type(crit).model_fields.items():
        if name in _COMMON_FIELDS:
            continue
        key = info.alias or name
        value = getattr(crit, name)
        if isinstance(value, str) and value in named:
            found.append(PlanFile(("criteria", index, key), value))
        elif isinstance(value, list):
            found.extend(
                PlanFile(("criteria", index, key, j), item)
                for j, item in enumerate(value)
                if isinstance(item, str) and item in named
            )
    covered = {f.path for f in found} | named_by_plan
    found.extend(
        PlanFile(("criteria", index), path) for path in sorted(named) if path not in covered
    )
    return found


def _parts(name: str) -> tuple[str, ...]:
    return tuple(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))


def unread_attachment(criterion: CriterionBase, plan: Plan, name: str) -> str | None:
    """Why a file attached as `name` would never be read by `criterion`, or None.

    A criterion that reads only the files the plan names for it (a metrics file, a
    manifest, a register) would accept any other attachment and then ignore it. A name
    that ends the way a named path does (`metrics.json` for `eval/metrics.json`) is that
    file, as the evaluators match it.
    """
    named = [f.path for f in criterion.named_files(plan)]
    if not named or criterion.reads_other_attachments:
        return None
    have = _parts(name)
    for path in named:
        want = _parts(path)
        n = min(len(have), len(want))
        if n and have[-n:] == want[-n:]:
            return None
    listed = ", ".join(named)
    return (
        f"criterion {criterion.id} reads {listed}, named in the plan, and nothing else: a "
        f'file attached as "{name}" would never be read. Write it to {named[0]} (every '
        "`clearance check` reads it from the plan's folder), or name this file in the plan "
        "instead"
    )
