"""The audit pack: one zip with the plan revisions, evidence, approvals, decisions, releases
and events of a release, a manifest with the sha256 of every file, an index.html and its
report.pdf, OSCAL assessment results, a CycloneDX bill of materials, and VERIFY.md with
SHA256SUMS for checking it with standard tools. Verification lives in `packverify`; its
names are re-exported here."""

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
    from datetime import datetime

    from clearance.core.plan import Plan
    from clearance.core.results import ApprovalRecord
    from clearance.exports.packlog import LogRecords
    from clearance.exports.packsigned import SignedRecords
    from clearance.signing import SigningKey
    from clearance.store.records import (
        CandidateRecord,
        DecisionRecord,
        EvidenceRecord,
        ReleaseRecord,
        RevisionRecord,
    )

from clearance.core.diff import diff_plans
from clearance.errors import UsageError
from clearance.exports.bom import environment_manifests, render_bom
from clearance.exports.html import render_index
from clearance.exports.matrix import MATRIX, matrix_csv, matrix_from_pack
from clearance.exports.oscal import render_assessment_results
from clearance.exports.packdoc import (
    BOM,
    OSCAL_RESULTS,
    REPORT,
    SUMS,
    VERIFY,
    evidence_path,
    render_verify,
    sha256sums,
)
from clearance.exports.packkeys import key_files
from clearance.exports.packlog import EVENTS, LEAVES, SIGNATURE, log_files
from clearance.exports.packsigned import signed_files, statements_of, vsa_files
from clearance.exports.packverify import (
    DIFF,
    FORMAT,
    MANIFEST,
    PackReport,
    TrustAnchor,
    examine_pack,
    verify_pack,
)
from clearance.exports.pdf import render_pdf
from clearance.signing import b64

__all__ = [
    "DIFF",
    "FORMAT",
    "MANIFEST",
    "Exported",
    "PackRecords",
    "PackReport",
    "TrustAnchor",
    "examine_pack",
    "verify_pack",
    "write_pack",
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


@dataclass(frozen=True)
class PackRecords:
    """Everything a pack shows, as records: what the export use case gathered."""

    plan: Plan
    candidate: CandidateRecord
    revisions: list[RevisionRecord]
    previous: RevisionRecord | None
    evidence: list[EvidenceRecord]
    approvals: list[ApprovalRecord]
    decisions: list[DecisionRecord]
    releases: list[ReleaseRecord]
    log: LogRecords | None
    signed: SignedRecords


def _aliases_moved(events: list[dict[str, Any]], release_id: int) -> list[dict[str, Any]]:
    """The registry aliases a release moved, from its `registry.alias_moved` events."""
    return [
        {k: v for k, v in e["payload"].items() if k != "release_id"}
        for e in events
        if e.get("type") == "registry.alias_moved" and e["payload"].get("release_id") == release_id
    ]


def write_pack(
    records: PackRecords,
    out: Path,
    *,
    key: SigningKey,
    open_blob: Callable[[str], BinaryIO],
    actor: str,
    at: datetime,
) -> Exported:
    """Render the pack of `records`, sign its manifest with `key` and write it to `out`
    (atomically); evidence bytes are streamed from `open_blob(digest)`."""
    from clearance.store.records import to_time

    plan, candidate, revisions = records.plan, records.candidate, records.revisions
    previous, evidence, approvals = records.previous, records.evidence, records.approvals
    decisions, releases = records.decisions, records.releases
    log = log_files(records.log) if records.log is not None else {}
    signed = signed_files(records.signed)
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
                "file": evidence_path(e.digest),
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
                "registry_aliases": _aliases_moved(events, r.id),
            }
            for r in releases
        ]
    )
    files.update(log)
    files.update(signed)
    files.update(vsa_files(signed, key))
    files.update(
        key_files(
            records.log.keys if records.log else [],
            records.signed.people_keys,
            records.log.checkpoint.origin if records.log else "",
        )
    )
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
    fingerprint = hashlib.sha256(key.public_raw).hexdigest()
    page = render_index(
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
        acceptances=statements_of(records.signed.acceptances),
        acknowledgements=statements_of(records.signed.acknowledgements),
        fingerprint=fingerprint,
    )
    files["index.html"] = page.encode()
    files[REPORT] = render_pdf(page)
    latest = decisions[-1] if decisions else None
    files[OSCAL_RESULTS] = render_assessment_results(
        plan=plan,
        candidate=candidate,
        coverage=coverage,
        decision=latest,
        evidence=evidence,
        files=files,
        at=at,
    )
    files[BOM] = render_bom(
        plan=plan,
        candidate=candidate,
        decision=latest,
        manifests=environment_manifests(plan, evidence, open_blob),
        at=at,
    )
    files[VERIFY] = render_verify(
        system=plan.system.id,
        system_name=plan.system.name,
        version=plan.release.version,
        target=plan.release.target,
        candidate=candidate.digest,
        fingerprint=fingerprint,
        created_at=to_time(at),
        created_by=actor,
        workspace_pem=f"keys/workspace-{fingerprint[:16]}.pem",
        attestation=next(
            (n for n in sorted(files) if n.startswith("signed/attestations/")),
            "signed/attestations/decision-N.dsse.json",
        ),
        artifact=next((c.name for c in candidate.components if c.deploy), "ARTIFACT"),
    )

    blob_files = {evidence_path(e.digest): e for e in evidence}
    manifest_files = {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        for name, data in files.items()
    }
    for name, e in blob_files.items():
        manifest_files[name] = {"sha256": e.digest.removeprefix("sha256:"), "size": e.size}
    files[SUMS] = sha256sums(manifest_files)
    manifest_files[SUMS] = {
        "sha256": hashlib.sha256(files[SUMS]).hexdigest(),
        "size": len(files[SUMS]),
    }
    manifest = {
        "format": FORMAT,
        "system": plan.system.id,
        "version": plan.release.version,
        "target": plan.release.target,
        "candidate": candidate.digest,
        "created_at": to_time(at),
        "created_by": actor,
        "files": dict(sorted(manifest_files.items())),
    }
    manifest_bytes = _json_bytes(manifest)
    signature = {"key_id": key.key_id, "signature": b64(key.sign(manifest_bytes))}
    _write_zip(
        out,
        manifest_bytes,
        {**files, SIGNATURE: _json_bytes(signature)},
        {n: functools.partial(open_blob, e.digest) for n, e in blob_files.items()},
    )
    return Exported(
        out,
        len(manifest_files) + 1,
        candidate.digest,
        plan.system.id,
        hashlib.sha256(manifest_bytes).hexdigest(),
    )


#: Stored, not deflated: 65 bytes of hex a leaf, a million lines for a million events,
#: which zlib shrinks only to 0.59 (fastest level) or 0.58 (default) of the size, taking 2 s
#: or 5 s a million on a busy 2-core machine; a stored member costs its CRC and no more.
_STORED = {LEAVES}


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
                zf.writestr(_info(name, stored=name in _STORED), files[name])
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


def _info(name: str, *, stored: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info
