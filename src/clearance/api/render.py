"""Records as JSON: times as fixed-width UTC strings, dataclasses as objects."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.responses import FileResponse, JSONResponse

from clearance.core.identity import Person


class JSON(JSONResponse):
    """A JSON answer encoded in one pass: nested dicts and lists by the json module's C
    encoder, records (dataclasses) and times by `_default` as it meets them. FastAPI's own
    route encoding walks every value in Python first, which costs more than the query."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, default=_default, ensure_ascii=False, separators=(",", ":")
        ).encode()


def _default(value: Any) -> Any:
    from clearance.store.records import to_time

    if isinstance(value, Person):
        return person(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return to_time(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if hasattr(value, "as_json"):
        return value.as_json()
    raise TypeError(f"{type(value).__name__} is not JSON")


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


def zip_download(
    write: Callable[[Path], Any],
    filename: Callable[[Any], str] | None = None,
    headers: dict[str, str] | None = None,
) -> FileResponse:
    """An audit pack as an answer: `write(path)` writes it into a new temporary folder,
    which goes once the pack is sent, or at once when `write` raises (the error goes on).
    `filename(what write returned)` names the download; or `headers` carry it."""
    import shutil
    import tempfile

    from starlette.background import BackgroundTask

    folder = Path(tempfile.mkdtemp(prefix="clearance-pack-"))
    out = folder / "audit-pack.zip"
    try:
        done = write(out)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        out,
        media_type="application/zip",
        filename=filename(done) if filename is not None else None,
        headers=headers,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


def pack_filename(done: Any) -> str:
    """audit-pack-<first 12 hex of the candidate>.zip"""
    return f"audit-pack-{done.candidate.removeprefix('sha256:')[:12]}.zip"
