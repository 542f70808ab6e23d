"""Cursor pagination: every list answers {"items": [...], "next_cursor": str | null}; the
cursor is opaque to clients (the last key seen, encoded)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from clearance.errors import UsageError

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": key}).encode()).decode().rstrip("=")


def decode(cursor: str | None) -> Any:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return data["after"]
    except (ValueError, KeyError, TypeError):
        raise UsageError("the cursor is not one this server gave; start again without it") from None


def page(
    items: Sequence[T],
    key: Callable[[T], Any],
    cursor: str | None,
    limit: int,
    render: Callable[[T], Any] | None = None,
) -> Any:
    """A page of `items`, in the order of `key` (an int or a str), after the cursor's key."""
    after = decode(cursor)
    ordered = sorted(items, key=key)
    if after is not None:
        try:
            ordered = [i for i in ordered if key(i) > after]
        except TypeError:
            raise UsageError("the cursor is not one this server gave for this list") from None
    from clearance.api.render import JSON

    chunk = ordered[:limit]
    return JSON(
        {
            "items": [render(i) for i in chunk] if render else chunk,
            "next_cursor": encode(key(chunk[-1])) if len(ordered) > limit else None,
        }
    )
