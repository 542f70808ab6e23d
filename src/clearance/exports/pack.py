"""The audit pack: one zip with the plan revisions, evidence, approvals, decisions, releases
and events of a release, a manifest with the sha256 of every file, and an index.html.
Verification lives in `packverify`; its names are re-exported here."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from clearance.store.records import RevisionRecord

from clearance.core.diff import diff_plans
from clearance.errors import NotFoundError, UsageError
from clearance.exports.html import render_index
from clearance.exports.matrix import MATRIX, matrix_csv, matrix_from_pack
from clearance.exports.packlog import EVENTS, SIGNATURE, log_files
from clearance.exports.packsigned import signed_files
from clearance.exports.packverify import (
    DIFF,
    FORMAT,
    MANIFEST,
    PackReport,
    TrustAnchor,
    examine_pack,
    verify_pack,
)
from clearance.services.workspace import Workspace
from clearance.signing import b64

__all__ = [
    "DIFF",
    "FORMAT",
    "MANIFEST",
    "Exported",
    "PackReport",
    "TrustAnchor",
    "examine_pack",
    "export_pack",
    "verify_pack",
]

_CHUNK = 1024 * 1024


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


@dataclass(frozen=True)
class Exported:
    path: Path
    files: int
    candidate: str
    system_id: str = ""
    manifest_sha256: str = ""


def export_pack(ws: Workspace, cand_digest: str, out: Path, actor: str) -> Exported:
    """Render the audit pack of a recorded candidate and write it to `out` (atomically).
    The use case that logs the export is `services.packs.export`."""
    from clearance.services.plans import stored_plan
    from clearance.store import repository as repo
    from clearance.store.records import to_time

    with ws.engine.connect() as conn:
        candidate = repo.get_candidate(conn, cand_digest)
        if candidate is None:
            raise NotFoundError(
                f"candidate {cand_digest} has not been checked yet; run `clearance check` first"
            )
        plan = stored_plan(conn, candidate).plan
        revisions = [
            r for r in repo.revisions_of(conn, plan.system.id) if r.version == plan.release.version
        ]
        evidence = repo.evidence_of(conn, candidate.digest)
        approvals = repo.approvals_of(conn, plan.system.id, plan.release.version)
        decisions = repo.decisions_of(conn, candidate.digest)
        releases = repo.releases_of_candidate(conn, candidate.digest)
        previous = _previously_released(conn, plan.system.id, plan.release.target, candidate)
        if previous is not None and previous.digest not in {r.digest for r in revisions}:
            revisions.append(previous)
        subjects = {candidate.digest, plan.system.id, *(r.digest for r in revisions)}
        subjects |= _authority_subjects(conn)
        log = log_files(conn, subjects)
        signed = signed_files(conn, plan.system.id, plan.release.version, candidate.digest)
    events = json.loads(log[EVENTS]) if log else []

    files: dict[str, bytes] = {}
    files["candidate.json"] = _json_bytes(
        {
            "digest": candidate.digest,
            "revision": candidate.revision,
            "system": plan.system.id,
            "version": candidate.version,
            "target": plan.release.target,
            "components": [c.as_json() for c in candidate.components],
        }
    )
    for rev in revisions:
        files[f"plan/revisions/{rev.digest.removeprefix('sha256:')}.json"] = _json_bytes(
            rev.document
        )
    files["plan/revisions.json"] = _json_bytes(
        [
            {
                "digest": r.digest,
                "author": r.author,
                "message": r.message,
                "filename": r.filename,
                "created_at": to_time(r.created_at),
            }
            for r in revisions
        ]
    )
    files["evidence/index.json"] = _json_bytes(
        [
            {
                "criterion": e.criterion_id,
                "name": e.name,
                "digest": e.digest,
                "size": e.size,
                "added_by": e.added_by,
                "role": e.role,
                "source": e.source,
                "added_at": to_time(e.added_at),
                "file": _evidence_path(e.digest),
            }
            for e in evidence
        ]
    )
    files["approvals.json"] = _json_bytes(
        [
            {
                "person": a.person,
                "role": a.role,
                "decision": a.decision,
                "candidate": a.candidate,
                "current": a.candidate == candidate.digest,
                "comment": a.comment,
                "at": to_time(a.at),
                "identity": a.who,
                "evidence_set": a.evidence_set,
            }
            for a in approvals
        ]
    )
    files["decisions.json"] = _json_bytes(
        [
            {
                "id": d.id,
                "outcome": d.outcome,
                "candidate": d.candidate,
                "target": d.target,
                "criteria": d.results,
                "metrics": d.metrics,
                "evaluator_version": d.evaluator_version,
                "actor": d.actor,
                "evaluated_at": to_time(d.evaluated_at),
            }
            for d in decisions
        ]
    )
    files["releases.json"] = _json_bytes(
        [
            {
                "id": r.id,
                "target": r.target,
                "version": r.version,
                "components": [c.as_json() for c in r.components],
                "decision_id": r.decision_id,
                "released_by": r.released_by,
                "released_at": to_time(r.released_at),
            }
            for r in releases
        ]
    )
    files.update(log)
    files.update(signed)
    current = next(r for r in revisions if r.digest == candidate.revision)
    changes = diff_plans(previous.document, current.document) if previous else []
    files[DIFF] = _json_bytes(
        {
            "from": previous.digest if previous else None,
            "to": current.digest,
            "note": "" if previous else f"first release to {plan.release.target}",
            "changes": [c.as_json() for c in changes],
        }
    )
    coverage = matrix_from_pack(files)
    files[MATRIX] = matrix_csv(coverage)
    files["index.html"] = render_index(
        coverage=coverage,
        changes=[str(c) for c in changes],
        previous=previous.digest if previous else None,
        plan=plan,
        candidate=candidate,
        revisions=revisions,
        evidence=evidence,
        approvals=approvals,
        decisions=decisions,
        releases=releases,
        events=events,
    ).encode()

    blob_files = {_evidence_path(e.digest): e for e in evidence}
    manifest_files = {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        for name, data in files.items()
    }
    for name, e in blob_files.items():
        manifest_files[name] = {"sha256": e.digest.removeprefix("sha256:"), "size": e.size}
    manifest = {
        "format": FORMAT,
        "system": plan.system.id,
        "version": plan.release.version,
        "target": plan.release.target,
        "candidate": candidate.digest,
        "created_at": to_time(ws.clock()),
        "created_by": actor,
        "files": dict(sorted(manifest_files.items())),
    }
    manifest_bytes = _json_bytes(manifest)
    key = ws.signing_key
    signature = {"key_id": key.key_id, "signature": b64(key.sign(manifest_bytes))}
    _write_zip(
        out,
        manifest_bytes,
        {**files, SIGNATURE: _json_bytes(signature)},
        {n: functools.partial(ws.blobs.open, e.digest) for n, e in blob_files.items()},
    )
    return Exported(
        out,
        len(manifest_files) + 1,
        candidate.digest,
        plan.system.id,
        hashlib.sha256(manifest_bytes).hexdigest(),
    )


def _authority_subjects(conn: Any) -> set[str]:
    """What the events about who may act are about (people, their keys, policies, targets,
    the workspace key), so the pack's log vouches for every key and role it relies on."""
    from clearance.store import people as people_repo
    from clearance.store import repository as repo

    keys = people_repo.person_keys_with_holders(conn)
    return (
        {k["key_id"] for k in keys}
        | {k["person"] for k in keys}
        | {a.subject for a in people_repo.admin_statements(conn)}
        | {k["key_id"] for k in repo.public_keys(conn)}
    )


def _previously_released(
    conn: Any, system_id: str, target: str, candidate: Any
) -> RevisionRecord | None:
    """The plan revision of the other candidate last released to `target`, if any."""
    from clearance.store import repository as repo

    earlier = [
        r for r in repo.releases_to(conn, system_id, target) if r.candidate != candidate.digest
    ]
    if not earlier:
        return None
    cand = repo.get_candidate(conn, earlier[-1].candidate)
    return repo.get_revision(conn, cand.revision) if cand else None


def _evidence_path(digest: str) -> str:
    return f"evidence/files/{digest.removeprefix('sha256:')}"


def _write_zip(
    out: Path,
    manifest: bytes,
    files: dict[str, bytes],
    blobs: dict[str, Callable[[], BinaryIO]],
) -> None:
    """Write to a temporary file beside `out`, then rename: never a half-written pack."""
    out = out.absolute()
    if out.is_dir():
        raise UsageError(f"{out} is a folder; give the pack's file name, e.g. audit-pack.zip")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".pack-", suffix=".zip", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(_info(MANIFEST), manifest)
            for name in sorted(files):
                zf.writestr(_info(name), files[name])
            for name in sorted(blobs):
                with (
                    blobs[name]() as src,
                    zf.open(_info(name), "w", force_zip64=True) as dst,
                ):
                    while chunk := src.read(_CHUNK):
                        dst.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info
