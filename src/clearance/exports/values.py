"""Short human forms of observed and expected values, shared by the table, markdown and
other renderers; `--format json` carries the full values."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["blocking_note", "brief", "scalar"]


def blocking_note(count: int) -> str:
    """ "1 criterion blocks the release", "3 criteria block the release"."""
    verb = "criterion blocks" if count == 1 else "criteria block"
    return f"{count} {verb} the release"


def brief(value: Any, limit: int = 80) -> str:
    """A short human form of an observed or expected value: scalars as they are, mappings as
    `key: value` lines, lists comma-separated; cut to `limit` characters with an ellipsis."""
    if value is None:
        return "—"
    if isinstance(value, dict):
        text = "\n".join(f"{k}: {scalar(v)}" for k, v in value.items())
    elif isinstance(value, list):
        text = ", ".join(scalar(v) for v in value)
    else:
        text = scalar(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scalar(value: Any) -> str:
    """One value on one line: strings as they are, numbers in short form, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return f"{value:g}"
    return json.dumps(value, separators=(",", ":"))
