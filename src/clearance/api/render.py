"""Records as JSON: times as fixed-width UTC strings, dataclasses as objects."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from clearance.core.identity import Person


def plain(value: Any) -> Any:
    from clearance.store.records import to_time

    if isinstance(value, Person):
        return person(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return to_time(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if hasattr(value, "as_json"):
        return value.as_json()
    return value


def person(p: Person) -> dict[str, Any]:
    from clearance.signing import b64

    return {
        "name": p.name,
        "identity": p.identity,
        "kind": p.kind,
        "roles": [str(g) for g in p.roles],
        "keys": [
            {
                "key_id": k.key_id,
                "public_key": b64(k.public_raw),
                "valid_from": k.valid_from,
                "retired_at": k.retired_at,
            }
            for k in p.keys
        ],
    }


def evidence(record: Any) -> dict[str, Any]:
    out = plain(record)
    out.pop("row_digest", None)
    return dict(out)
