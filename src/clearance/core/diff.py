"""Semantic diff of two plan documents: what a reviewer needs to know changed, by name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ChangeKind = Literal["added", "removed", "changed"]

#: list sections whose items are matched by a key rather than by position
_KEYED = {"components": "name", "criteria": "id", "interested_parties": "name"}


@dataclass(frozen=True)
class Change:
    section: str
    item: str
    change: ChangeKind
    field: str = ""
    before: Any = None
    after: Any = None

    def __str__(self) -> str:
        where = f"{self.section} {self.item}".strip()
        if self.change != "changed":
            return f"{where}: {self.change}"
        return f"{where}: {self.field} {_show(self.before)} -> {_show(self.after)}"

    def as_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "item": self.item,
            "change": self.change,
            "field": self.field,
            "before": self.before,
            "after": self.after,
        }


def _show(value: Any) -> str:
    return "(none)" if value is None else repr(value) if isinstance(value, str) else str(value)


def diff_plans(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """Changes from `before` to `after`, section by section, items matched by name or id."""
    changes: list[Change] = []
    for section in _sections(before, after):
        old, new = before.get(section), after.get(section)
        if section in _KEYED:
            key = _KEYED[section]
            changes += _diff_items(section, _by(old, key), _by(new, key))
        elif section == "environments":
            changes += _diff_items(section, old or {}, new or {})
        else:
            changes += _diff_fields(section, "", old, new)
    return changes


def _sections(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys([*before, *after]))


def _by(items: Any, key: str) -> dict[str, Any]:
    return {str(item.get(key)): item for item in items or []}


def _diff_items(section: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    changes = [
        Change(section, name, "removed", before=old[name]) for name in old if name not in new
    ]
    for name, item in new.items():
        if name not in old:
            changes.append(Change(section, name, "added", after=item))
        else:
            changes += _diff_fields(section, name, old[name], item)
    return changes


def _list_key(old: Any, new: Any) -> str | None:
    """The field that names the items of two lists of mappings (roles by role, ...), if any."""
    if not (isinstance(old, list) and isinstance(new, list)):
        return None
    items = [*old, *new]
    if not items or not all(isinstance(i, Mapping) for i in items):
        return None
    for key in ("role", "name", "id", "key"):
        values = [i.get(key) for i in old], [i.get(key) for i in new]
        if all(v is not None for side in values for v in side) and all(
            len(set(side)) == len(side) for side in values
        ):
            return key
    return None


def _diff_fields(section: str, item: str, old: Any, new: Any, prefix: str = "") -> list[Change]:
    if old == new:
        return []
    key = _list_key(old, new)
    if key is not None:
        old, new = _by(old, key), _by(new, key)
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        changes: list[Change] = []
        for name in _sections(old, new):
            field = f"{prefix}.{name}" if prefix else str(name)
            changes += _diff_fields(section, item, old.get(name), new.get(name), field)
        return changes
    return [Change(section, item, "changed", prefix, old, new)]
