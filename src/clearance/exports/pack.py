"""The audit pack: one zip with the plan revisions, evidence, approvals, decisions, releases
and events of a release, a manifest with the sha256 of every file, and an index.html."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clearance.store.records import RevisionRecord

from clearance.core.checkpoint import Checkpoint
from clearance.core.diff import diff_plans
from clearance.core.digest import candidate_digest, revision_digest
from clearance.errors import IntegrityError, NotFoundError, UsageError
from clearance.exports.html import render_index
from clearance.exports.matrix import MATRIX, matrix_csv, matrix_from_pack
from clearance.exports.packlog import (
    CHECKPOINT,
    EVENTS,
    KEYS,
    LEAVES,
    PROOFS,
    SIGNATURE,
    log_files,
    verify_log_files,
)
from clearance.exports.packsigned import PEOPLE_KEYS, signed_files, verify_signed
from clearance.services.plans import LoadedPlan, candidate_of
from clearance.services.workspace import Workspace, record_event
from clearance.signing import b64

FORMAT = "clearance-audit-pack/1"
MANIFEST = "manifest.json"
_CHUNK = 1024 * 1024
DIFF = "plan/diff-from-released.json"
_SMALL = 256 * 1024 * 1024  # log files above this are refused rather than read whole
LOG_FILES = (EVENTS, CHECKPOINT, LEAVES, PROOFS, KEYS)


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


@dataclass(frozen=True)
class Exported:
    path: Path
    files: int
    candidate: str


def export_pack(ws: Workspace, loaded: LoadedPlan, out: Path, actor: str) -> Exported:
    """Write the audit pack of the plan's current candidate to `out` (atomically)."""
    from clearance.store import repository as repo
    from clearance.store.records import to_time

    plan = loaded.plan
    cand_digest = candidate_of(ws, loaded)
    with ws.engine.connect() as conn:
        candidate = repo.get_candidate(conn, cand_digest)
        if candidate is None:
            raise NotFoundError(
                f"candidate {cand_digest} of {loaded.path.name} has not been checked yet; "
                "run `clearance check` first"
            )
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
        {n: ws.blobs.path_of(e.digest) for n, e in blob_files.items()},
    )

    with ws.transaction() as conn:
        record_event(
            conn,
            ws,
            "pack.exported",
            actor,
            candidate.digest,
            {
                "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
                "files": len(manifest_files),
            },
            plan.system.id,
        )
    return Exported(out, len(manifest_files) + 1, candidate.digest)


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


def _write_zip(out: Path, manifest: bytes, files: dict[str, bytes], blobs: dict[str, Path]) -> None:
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
                    blobs[name].open("rb") as src,
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


# -- verification -----------------------------------------------------------------------------


def verify_pack(path: Path, kept: Checkpoint | None = None) -> list[str]:
    """Every way the pack fails to match its manifest, its signatures, its log and its own
    content addresses; `kept` is a checkpoint the auditor saved earlier.

    Returns the failures (empty when the pack verifies); raises IntegrityError when the file
    is not a pack at all.
    """
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise IntegrityError(f"{path}: not a readable zip file ({exc})") from None
    failures: list[str] = []
    with zf:
        names = [i.filename for i in zf.infolist()]
        if MANIFEST not in names:
            raise IntegrityError(f"{path}: no {MANIFEST}; this is not a Clearance audit pack")
        try:
            manifest = json.loads(zf.read(MANIFEST))
            listed: dict[str, dict[str, Any]] = manifest["files"]
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"{path}: {MANIFEST} is not a valid manifest ({exc})") from None
        if manifest.get("format") != FORMAT:
            failures.append(f"{MANIFEST}: unknown format {manifest.get('format')!r}")
        if len(names) != len(set(names)):
            failures.append("the pack holds the same file name twice")
        for name in names:
            if name not in (MANIFEST, SIGNATURE) and name not in listed:
                failures.append(f"{name}: in the pack but not in the manifest (file added)")
        actual: dict[str, str] = {}
        for name, entry in listed.items():
            if name not in names:
                failures.append(f"{name}: listed in the manifest but missing from the pack")
                continue
            actual[name] = _sha256_member(zf, name)
            if actual[name] != entry.get("sha256"):
                failures.append(f"{name}: sha256 does not match the manifest (file altered)")
        failures += _content_addresses(zf, actual, manifest)
        small = {
            n: zf.read(n)
            for n in names
            if (
                n in (*LOG_FILES, SIGNATURE, "approvals.json", PEOPLE_KEYS)
                or n.endswith(".dsse.json")
            )
            and zf.getinfo(n).file_size < _SMALL
        }
        failures += verify_log_files(small, zf.read(MANIFEST), manifest.get("candidate"), kept)
        failures += _approvals(small, manifest.get("candidate"))
        failures += verify_signed(small, manifest.get("candidate"))
        failures += _derived(zf, names)
    return failures


def _derived(zf: zipfile.ZipFile, names: list[str]) -> list[str]:
    """The control matrix and the diff are recomputed from the pack's records: a pack that
    claims coverage or changes its records do not show fails."""
    wanted = [
        n
        for n in names
        if n in ("candidate.json", "decisions.json", "approvals.json", MATRIX, DIFF)
        or (n.startswith("plan/revisions/") and n.endswith(".json"))
    ]
    files = {n: zf.read(n) for n in wanted if zf.getinfo(n).file_size < _SMALL}
    failures = []
    try:
        if files.get(MATRIX) != matrix_csv(matrix_from_pack(files)):
            failures.append(f"{MATRIX}: does not match what the pack's own records cover")
    except (KeyError, ValueError, TypeError) as exc:
        failures.append(f"{MATRIX}: cannot be recomputed from the pack ({exc})")
    try:
        diff = json.loads(files[DIFF])
        if diff["from"] is not None:
            before = json.loads(
                files[f"plan/revisions/{diff['from'].removeprefix('sha256:')}.json"]
            )
            after = json.loads(files[f"plan/revisions/{diff['to'].removeprefix('sha256:')}.json"])
            if [c.as_json() for c in diff_plans(before, after)] != diff["changes"]:
                failures.append(f"{DIFF}: does not match the two revisions it names")
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        failures.append(f"{DIFF}: unreadable or names a revision the pack lacks ({exc})")
    return failures


def _approvals(files: dict[str, bytes], candidate: str | None) -> list[str]:
    """Every approval shown as given for this candidate has its own event on the log."""
    try:
        approvals = json.loads(files["approvals.json"])
        events = json.loads(files[EVENTS])
    except (KeyError, ValueError):
        return ["approvals.json or events.json missing or unreadable"]
    signed = {
        (e["actor"], e["payload"].get("role"), e["subject"])
        for e in events
        if e.get("type") in ("approval.approved", "approval.rejected")
    }
    failures = []
    for a in approvals:
        if not a.get("current"):
            continue
        if a.get("candidate") != candidate:
            failures.append(
                f"approvals.json: approval by {a.get('person')} is for candidate "
                f"{a.get('candidate')}, not this one (replayed)"
            )
        elif (a.get("person"), a.get("role"), candidate) not in signed:
            failures.append(
                f"approvals.json: approval by {a.get('person')} as {a.get('role')} "
                "has no event on the log for this candidate (replayed or forged)"
            )
    return failures


def _sha256_member(zf: zipfile.ZipFile, name: str) -> str:
    h = hashlib.sha256()
    with zf.open(name) as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _content_addresses(zf: zipfile.ZipFile, actual: dict[str, str], manifest: Any) -> list[str]:
    """Checks that do not trust the manifest: evidence and revisions are named by digest,
    and the candidate digest is recomputed from its revision and components."""
    failures = []
    revisions: dict[str, Any] = {}
    for name, digest in actual.items():
        if name.startswith("evidence/files/") and name.rsplit("/", 1)[1] != digest:
            failures.append(f"{name}: content does not match its digest name (evidence swapped)")
        if name.startswith("plan/revisions/") and name != "plan/revisions.json":
            try:
                document = json.loads(zf.read(name))
            except ValueError:
                failures.append(f"{name}: not JSON")
                continue
            computed = revision_digest(document)
            expected = "sha256:" + name.rsplit("/", 1)[1].removesuffix(".json")
            if computed != expected:
                failures.append(f"{name}: plan revision does not match its digest")
            revisions[expected] = document
    if "candidate.json" in actual:
        try:
            cand = json.loads(zf.read("candidate.json"))
            document = revisions.get(cand["revision"])
            if document is None:
                failures.append("candidate.json: its plan revision is not in the pack")
            else:
                pins = {c["name"]: c["digest"] for c in cand["components"]}
                if candidate_digest(document, pins) != cand["digest"]:
                    failures.append(
                        "candidate.json: candidate digest does not match its plan and components"
                    )
            if cand.get("digest") != manifest.get("candidate"):
                failures.append("manifest.json: names a different candidate than candidate.json")
        except (ValueError, KeyError, TypeError) as exc:
            failures.append(f"candidate.json: unreadable ({exc})")
    return failures
