"""Evidence: store files content-addressed and attach them to criteria of a candidate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clearance.core.criteria import CriterionBase, EvidenceFormat
from clearance.core.results import EvidenceItem
from clearance.errors import EvidenceError, NotFoundError, UsageError
from clearance.services.plans import LoadedPlan, Submitted, submit
from clearance.services.workspace import Workspace, record_event

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.store.records import EvidenceRecord

Progress = Callable[[Path, int, int], None]
#: files at least this large are stored one by one, with progress reported
LARGE = 8 << 20


@dataclass(frozen=True)
class Attached:
    criterion_id: str
    name: str
    digest: str
    size: int
    new: bool


def _criterion(loaded: LoadedPlan, criterion_id: str) -> CriterionBase:
    try:
        return loaded.plan.criterion(criterion_id)
    except KeyError:
        ids = ", ".join(c.id for c in loaded.plan.criteria) or "none"
        raise UsageError(
            f'{loaded.path.name} has no criterion "{criterion_id}" (criteria: {ids})'
        ) from None


def _store(ws: Workspace, path: Path, criterion_id: str, progress: Progress | None) -> Any:
    """Stream a file into the blob store; clear errors for what cannot be read."""
    if not path.exists():
        raise EvidenceError(f"criterion {criterion_id}: {path}: no such file")
    if not path.is_file():
        raise EvidenceError(f"criterion {criterion_id}: {path}: not a regular file")
    size = path.stat().st_size
    callback = (lambda done: progress(path, done, size)) if progress else None
    try:
        return ws.blobs.put_file(path, progress=callback)
    except EvidenceError as exc:
        raise EvidenceError(f"criterion {criterion_id}: {exc}") from None


def add_evidence(
    ws: Workspace,
    loaded: LoadedPlan,
    criterion_id: str,
    path: Path,
    actor: str,
    role: str | None = None,
    source: str | None = None,
    progress: Progress | None = None,
) -> Attached:
    """Attach a file to a criterion of the plan's current candidate."""
    from clearance.store import repository as repo

    _criterion(loaded, criterion_id)
    blob = _store(ws, path, criterion_id, progress)
    name = path.name
    with ws.transaction() as conn:
        sub = submit(conn, ws, loaded, actor)
        known = {
            (e.criterion_id, e.name, e.digest, e.added_by, e.role)
            for e in repo.evidence_of(conn, sub.candidate.digest)
        }
        new = (criterion_id, name, blob.digest, actor, role) not in known
        if new:
            row = _row(ws, sub, criterion_id, name, blob, actor, role, source)
            repo.insert_evidence(conn, [row])
            _event(conn, ws, sub, actor, [row])
    return Attached(criterion_id, name, blob.digest, blob.size, new)


def ingest_named_files(
    conn: Connection,
    ws: Workspace,
    loaded: LoadedPlan,
    sub: Submitted,
    actor: str,
    stored: dict[tuple[str, str], Any],
) -> int:
    """Attach the files the plan names (already stored as `stored`); returns how many were new."""
    from clearance.store import repository as repo

    have = {
        (e.criterion_id, e.name, e.digest) for e in repo.evidence_of(conn, sub.candidate.digest)
    }
    rows = []
    for (criterion_id, name), blob in stored.items():
        if (criterion_id, name, blob.digest) not in have:
            rows.append(_row(ws, sub, criterion_id, name, blob, actor, None, None))
    repo.insert_evidence(conn, rows)
    if rows:
        _event(conn, ws, sub, actor, rows)
    return len(rows)


def store_named_files(
    ws: Workspace, loaded: LoadedPlan, progress: Progress | None = None
) -> dict[tuple[str, str], Any]:
    """Store every file the plan names that exists; missing files are left to the evaluators.

    Large files are stored one by one (with a progress bar); small ones in one batch.
    """
    wanted: dict[Path, list[tuple[str, str]]] = {}
    for criterion in loaded.plan.criteria:
        for named in criterion.named_files(loaded.plan):
            path = loaded.resolve(named.path)
            wanted.setdefault(path, []).append((criterion.id, named.path))
    small: list[Path] = []
    stored_by_path: dict[Path, Any] = {}
    for path, uses in wanted.items():
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise EvidenceError(f"criterion {uses[0][0]}: {path}: {exc.strerror}") from None
        if not path.is_file():
            raise EvidenceError(f"criterion {uses[0][0]}: {path}: not a regular file")
        if size >= LARGE:
            stored_by_path[path] = _store(ws, path, uses[0][0], progress)
        else:
            small.append(path)
    if small:
        try:
            blobs = ws.blobs.put_files(small)
        except EvidenceError as exc:
            raise EvidenceError(f"storing the plan's evidence: {exc}") from None
        stored_by_path.update(zip(small, blobs, strict=True))
    return {
        use: stored_by_path[path]
        for path, uses in wanted.items()
        if path in stored_by_path
        for use in uses
    }


def _row(
    ws: Workspace,
    sub: Submitted,
    criterion_id: str,
    name: str,
    blob: Any,
    actor: str,
    role: str | None,
    source: str | None,
) -> dict[str, Any]:
    return {
        "candidate": sub.candidate.digest,
        "system_id": sub.candidate.system_id,
        "criterion_id": criterion_id,
        "name": name,
        "digest": blob.digest,
        "size": blob.size,
        "added_by": actor,
        "role": role,
        "source": source,
        "added_at": ws.clock(),
    }


def _event(
    conn: Connection, ws: Workspace, sub: Submitted, actor: str, rows: list[dict[str, Any]]
) -> None:
    record_event(
        conn,
        ws,
        "evidence.added",
        actor,
        sub.candidate.digest,
        {"files": [{k: r[k] for k in ("criterion_id", "name", "digest", "role")} for r in rows]},
        sub.candidate.system_id,
    )


# -- reading evidence back for the evaluators -----------------------------------------------


def evidence_items(
    ws: Workspace, loaded: LoadedPlan, records: Sequence[EvidenceRecord]
) -> dict[str, list[EvidenceItem]]:
    """Latest evidence per (criterion, name), parsed by the format the criterion expects."""
    latest: dict[tuple[str, str], EvidenceRecord] = {}
    for rec in records:
        latest[(rec.criterion_id, rec.name)] = rec
    formats = {
        (c.id, f.path): f.format for c in loaded.plan.criteria for f in c.named_files(loaded.plan)
    }
    defaults = {c.id: c.evidence_format for c in loaded.plan.criteria}
    parsed: dict[tuple[str, str], tuple[Any, str | None]] = {}
    items: dict[str, list[EvidenceItem]] = {}
    for rec in sorted(latest.values(), key=lambda r: r.id):
        if rec.criterion_id not in defaults:
            continue  # attached to a criterion this revision no longer has
        fmt = formats.get((rec.criterion_id, rec.name), defaults[rec.criterion_id])
        key = (rec.digest, fmt)
        if key not in parsed:
            parsed[key] = _parse(ws, rec, fmt)
        content, problem = parsed[key]
        items.setdefault(rec.criterion_id, []).append(
            EvidenceItem(
                name=rec.name,
                digest=rec.digest,
                added_by=rec.added_by,
                added_at=rec.added_at,
                role=rec.role,
                content=content,
                problem=problem,
            )
        )
    return items


def _parse(ws: Workspace, rec: EvidenceRecord, fmt: EvidenceFormat) -> tuple[Any, str | None]:
    if fmt == "raw":
        return None, None
    if rec.size > ws.settings.max_document_bytes:
        return None, (
            f"{rec.name} is {rec.size:,} bytes, over the {ws.settings.max_document_bytes:,}-byte "
            "limit for a parsed document"
        )
    from clearance.integrations.documents import parse_document
    from clearance.integrations.junit import parse_junit

    try:
        with ws.blobs.open(rec.digest) as fh:
            data = fh.read()
        if fmt == "junit":
            return parse_junit(rec.name, data), None
        return parse_document(rec.name, data), None
    except EvidenceError as exc:
        return None, str(exc)
    except NotFoundError:
        return (
            None,
            f"{rec.name}: blob {rec.digest} is missing from the workspace; run `clearance verify`",
        )


def evidence_set_digest(records: Sequence[EvidenceRecord]) -> str:
    """Digest of a candidate's evidence as it stands: the latest file per (criterion, name).
    Sign-offs carry it, so changing an evidence file makes them stale."""
    from clearance.core.digest import json_digest

    latest: dict[tuple[str, str], str] = {}
    for rec in sorted(records, key=lambda r: r.id):
        latest[(rec.criterion_id, rec.name)] = rec.digest
    return json_digest(sorted([c, n, d] for (c, n), d in latest.items()))
