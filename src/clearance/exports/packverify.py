"""Offline verification of an audit pack, zipped or extracted into a folder: every file against
the manifest, the log against its checkpoint, evidence and revisions against their digests,
and the manifest's and checkpoint's signatures against a key the auditor trusts from outside
the pack. The pack's layout names (FORMAT, MANIFEST, DIFF) live here and the export uses them."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from clearance.core.checkpoint import Checkpoint
from clearance.core.diff import diff_plans
from clearance.core.digest import candidate_digest, revision_digest
from clearance.errors import IntegrityError, UsageError
from clearance.exports.matrix import MATRIX, matrix_csv, matrix_from_pack
from clearance.exports.packkeys import KEYS_DIR, verify_key_files
from clearance.exports.packlog import (
    CHECKPOINT,
    EVENTS,
    KEYS,
    LEAVES,
    LEGACY_CHECKPOINT,
    PROOFS,
    SIGNATURE,
    against_kept,
    carried_keys,
    verify_log_files,
)
from clearance.exports.packsigned import PEOPLE_KEYS, verify_signed

try:
    from lzma import LZMAError
except ImportError:  # pragma: no cover - Python built without lzma; zipfile copes the same way

    class LZMAError(Exception):  # type: ignore[no-redef]
        pass


__all__ = [
    "DIFF",
    "FORMAT",
    "MANIFEST",
    "PackReport",
    "TrustAnchor",
    "Trusted",
    "examine_pack",
    "verify_pack",
]

FORMAT = "clearance-audit-pack/1"
MANIFEST = "manifest.json"
DIFF = "plan/diff-from-released.json"
LOG_FILES = (EVENTS, CHECKPOINT, LEGACY_CHECKPOINT, LEAVES, PROOFS, KEYS)
_CHUNK = 1024 * 1024
_SMALL = 256 * 1024 * 1024  # files above this are refused rather than read whole
# Raw public keys (bytes), fingerprints (str) and a kept checkpoint; one alone, or any mix.
Trusted = Iterable[bytes | str | Checkpoint] | bytes | str | Checkpoint
_HEX64 = re.compile(r"[0-9a-f]{64}")
# What reading a damaged zip member raises: a bad CRC, a broken deflate, bzip2 or lzma
# stream, data cut short, a compression method or encryption zipfile cannot read.
_DAMAGED = (
    zipfile.BadZipFile,
    zlib.error,
    LZMAError,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
)


# -- what the auditor trusts ------------------------------------------------------------------


def fingerprint(text: str) -> str:
    """A key's fingerprint as 64 lowercase hex, given with or without `sha256:`, in any case."""
    fp = text.strip().lower().removeprefix("sha256:")
    if not _HEX64.fullmatch(fp):
        raise UsageError(
            f"{text!r} is not a key fingerprint: expected the 64 hex digits of the sha256 of "
            "the raw public key, with or without `sha256:`"
        )
    return fp


@dataclass(frozen=True)
class TrustAnchor:
    """What the auditor trusts, from outside the pack: workspace public keys (raw 32 bytes),
    fingerprints of such keys, and at most one checkpoint they kept."""

    keys: frozenset[bytes]
    fingerprints: frozenset[str]
    kept: Checkpoint | None

    @classmethod
    def of(cls, trusted: Trusted) -> TrustAnchor:
        """Raw keys (bytes), fingerprints (str) and a kept checkpoint, in any mix; one alone
        counts as a set of one. UsageError when nothing, or something else, is given."""
        given = [trusted] if isinstance(trusted, bytes | str | Checkpoint) else list(trusted)
        keys: set[bytes] = set()
        fingerprints: set[str] = set()
        kept: list[Checkpoint] = []
        for item in given:
            if isinstance(item, Checkpoint):
                kept.append(item)
            elif isinstance(item, bytes):
                if len(item) != 32:
                    raise UsageError(
                        f"a trusted key must be a raw 32-byte Ed25519 public key, not {len(item)} "
                        "bytes; load a PEM file with clearance.signing.statements.load_public_key"
                    )
                keys.add(item)
            elif isinstance(item, str):
                fingerprints.add(fingerprint(item))
            else:
                raise UsageError(
                    f"cannot trust a {type(item).__name__}: give raw public keys (bytes), "
                    "fingerprints (str) or a kept Checkpoint"
                )
        if len(set(kept)) > 1:
            raise UsageError("give one kept checkpoint: the latest one you have")
        if not (keys or fingerprints or kept):
            raise UsageError(
                "nothing to trust: give the workspace's public key, its fingerprint or a "
                "checkpoint you kept; a pack's own keys.json proves nothing about who made it"
            )
        return cls(frozenset(keys), frozenset(fingerprints), kept[0] if kept else None)


@dataclass(frozen=True)
class _Trusted:
    """The anchor resolved against the pack: `keys` may sign attestations, `signers` (the
    kept checkpoint's key, when one is given) the manifest and the checkpoint."""

    keys: dict[str, bytes]
    signers: dict[str, bytes]
    failures: list[str]


def _resolve(anchor: TrustAnchor, carried: Mapping[str, bytes]) -> _Trusted:
    """A fingerprint takes its key from the pack, which is safe because a carried key is kept
    only when its id is the sha256 of its bytes; a carried key is never trusted by itself,
    only when the auditor names it or a checkpoint they kept verifies with it."""
    from clearance.core.checkpoint import resolve_signer
    from clearance.services.log import note_signature_problem
    from clearance.signing import key_id

    keys = {key_id(raw): raw for raw in anchor.keys}
    for fp in anchor.fingerprints:
        if f"sha256:{fp}" in carried:
            keys[f"sha256:{fp}"] = carried[f"sha256:{fp}"]
    kept = anchor.kept
    if kept is None:
        return _Trusted(keys, keys, [])
    named = bool(anchor.keys or anchor.fingerprints)
    kept = resolve_signer(kept, keys if named else carried)
    if not kept.key_id:
        why = (
            "none of the keys you trust"
            if named
            else "no key this pack holds: the history was re-signed with another key"
        )
        return _Trusted(keys, {}, [f"the kept checkpoint is signed by {why}"])
    short = kept.key_id[:19]
    raw = (keys if named else carried).get(kept.key_id)
    if raw is None:
        why = (
            "which is not a key you trust"
            if named
            else "which this pack does not hold: the history was re-signed with another key"
        )
        return _Trusted(keys, {}, [f"the kept checkpoint was signed by {short}…, {why}"])
    if note_signature_problem(kept, raw) is not None:
        # A key the auditor named still stands; one from the pack had only this checkpoint.
        return _Trusted(
            keys,
            {kept.key_id: raw} if named else {},
            [f"the kept checkpoint's signature does not verify with key {short}…"],
        )
    return _Trusted(keys if named else {kept.key_id: raw}, {kept.key_id: raw}, [])


# -- where the pack's files come from ---------------------------------------------------------


class _Pack(Protocol):
    label: str
    problems: list[str]  # found while listing: links out of a folder, things that are not files

    def names(self) -> list[str]: ...

    def size(self, name: str) -> int: ...

    def chunks(self, name: str) -> Iterator[bytes]: ...


def _read(pack: _Pack, name: str) -> bytes:
    return b"".join(pack.chunks(name))


class _ZipPack:
    def __init__(self, path: Path, zf: zipfile.ZipFile) -> None:
        self.label, self.zf = str(path), zf
        self.problems: list[str] = []
        # `zip -r` adds an empty entry per folder; such entries hold nothing to verify.
        self._infos = [i for i in zf.infolist() if not (i.is_dir() and i.file_size == 0)]

    def names(self) -> list[str]:
        return [i.filename for i in self._infos]

    def size(self, name: str) -> int:
        return self.zf.getinfo(name).file_size

    def chunks(self, name: str) -> Iterator[bytes]:
        try:
            with self.zf.open(name) as fh:
                while chunk := fh.read(_CHUNK):
                    yield chunk
        except _DAMAGED as exc:
            raise IntegrityError(
                f"{self.label}: {name} cannot be read from the zip ({exc}); the pack is damaged "
                "or was altered: get a fresh copy from whoever exported it"
            ) from None


class _FolderPack:
    """An extracted pack; only regular files inside the folder are read, never through a link
    that leads out of it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.label = str(root)
        self.problems: list[str] = []
        self._files: dict[str, Path] = {}
        for top, folders, files in os.walk(self.root, onerror=self._unlistable):
            # os.walk lists a link to a folder among the folders and does not enter it.
            for entry in folders:
                if Path(top, entry).is_symlink():
                    self._link(Path(top, entry))
            for entry in files:
                path = Path(top, entry)
                name = path.relative_to(self.root).as_posix()
                if path.is_symlink():
                    self._link(path)
                elif stat.S_ISREG(path.lstat().st_mode):
                    self._files[name] = path
                else:
                    self.problems.append(f"{name}: not a regular file")

    def _unlistable(self, exc: OSError) -> None:
        raise UsageError(
            f"{exc.filename}: cannot be listed ({exc.strerror}); every folder of the pack must "
            "be readable to verify it"
        )

    def _link(self, path: Path) -> None:
        name = path.relative_to(self.root).as_posix()
        target = path.resolve()
        if not target.is_relative_to(self.root):
            self.problems.append(f"{name}: a link out of the pack folder (not followed)")
        elif target.is_file():
            self._files[name] = target
        else:
            self.problems.append(f"{name}: a link to something that is not a file (not followed)")

    def names(self) -> list[str]:
        return sorted(self._files)

    def size(self, name: str) -> int:
        return self._files[name].stat().st_size

    def chunks(self, name: str) -> Iterator[bytes]:
        try:
            fd = os.open(self._files[name], os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise UsageError(f"{self.label}/{name}: cannot be read ({exc.strerror})") from None
        with os.fdopen(fd, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk


@contextmanager
def _opened(path: Path) -> Iterator[_Pack]:
    if path.is_dir():
        yield _FolderPack(path)
        return
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file or folder") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise IntegrityError(f"{path}: not a readable zip file ({exc})") from None
    with zf:
        yield _ZipPack(path, zf)


# -- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PackReport:
    """What examining a pack found: `failures` (empty when it holds) and `signer`, the key_id
    its manifest.sig names, which the auditor compares with the key they trust."""

    failures: list[str]
    signer: str | None
    #: set when the pack is older than the kept checkpoint and no consistency proof was given
    older: str | None = None


def verify_pack(
    path: Path, *, trusted: Trusted, consistency: list[bytes] | None = None
) -> list[str]:
    """Every way the pack (a zip or an extracted folder) fails to hold, including being signed
    by a key that `trusted` does not name: raw workspace public keys, their fingerprints,
    and/or a checkpoint the auditor kept.

    `consistency` is an RFC 9162 consistency proof (node hashes) from the pack's signed tree to
    a kept checkpoint newer than the pack.

    Returns the failures (empty when the pack verifies); raises IntegrityError when it is not a
    pack at all or a member cannot be read, UsageError when nothing is trusted or when the
    pack is older than the kept checkpoint and no consistency proof was given.
    """
    report = examine_pack(path, TrustAnchor.of(trusted), consistency)
    if report.older and not report.failures:
        raise UsageError(report.older)
    return report.failures


def examine_pack(
    path: Path, anchor: TrustAnchor | None, consistency: list[bytes] | None = None
) -> PackReport:
    """Every check of `verify_pack`; with no anchor, every check but whose key signed the pack,
    so an empty `failures` then means only "intact": the report's signer says which key to pin.
    """
    with _opened(path) as pack:
        return _examine(pack, anchor, consistency)


def _examine(
    pack: _Pack, anchor: TrustAnchor | None, consistency: list[bytes] | None = None
) -> PackReport:
    from clearance.signing import unb64

    names = pack.names()
    if MANIFEST not in names:
        raise IntegrityError(
            f"{pack.label}: no {MANIFEST}; this is not a Clearance audit pack", pack.problems
        )
    manifest_bytes = _read(pack, MANIFEST)
    try:
        manifest = json.loads(manifest_bytes)
        listed: dict[str, Any] = manifest["files"]
        if not isinstance(listed, dict):
            raise TypeError("its files are not a mapping of names")
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"{pack.label}: {MANIFEST} is not a valid manifest ({exc})") from None
    candidate = manifest.get("candidate")
    failures = list(pack.problems)
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
        h = hashlib.sha256()
        for chunk in pack.chunks(name):
            h.update(chunk)
        actual[name] = h.hexdigest()
        if not isinstance(entry, dict) or actual[name] != entry.get("sha256"):
            failures.append(f"{name}: sha256 does not match the manifest (file altered)")
    failures += _content_addresses(pack, actual, manifest)
    small = {
        n: _read(pack, n)
        for n in names
        if (
            n in (*LOG_FILES, SIGNATURE, "approvals.json", PEOPLE_KEYS)
            or n.endswith(".dsse.json")
            or n.startswith(KEYS_DIR + "/")
        )
        and pack.size(n) < _SMALL
    }
    carried, key_failures = carried_keys(small)
    failures += key_failures
    raw = {kid: unb64(k["public_key"]) for kid, k in carried.items()}
    if anchor is None:  # only "intact": the pack's own workspace keys stand in for trust
        signers = None
        workspace = {kid: raw[kid] for kid, k in carried.items() if k.get("purpose") == "workspace"}
    else:
        resolved = _resolve(anchor, raw)
        failures += resolved.failures
        signers, workspace = resolved.signers, resolved.keys
    kept = anchor.kept if anchor else None
    if kept is not None:
        from clearance.core.checkpoint import resolve_signer

        kept = resolve_signer(kept, {**raw, **(resolved.keys if anchor else {})})
    failures += verify_log_files(
        small,
        manifest_bytes,
        carried=carried,
        signers=signers,
        kept=kept,
    )
    older = None
    if kept is not None:
        check = against_kept(small, kept, consistency)
        failures += check.failures
        older = check.older
    failures += verify_key_files(small)
    failures += _approvals(small, candidate)
    failures += verify_signed(small, candidate, workspace)
    failures += _derived(pack, names)
    return PackReport(failures, _signer(small), older)


def _signer(files: dict[str, bytes]) -> str | None:
    try:
        key_id = json.loads(files[SIGNATURE])["key_id"]
    except (KeyError, ValueError, TypeError):
        return None
    return key_id if isinstance(key_id, str) else None


def _derived(pack: _Pack, names: list[str]) -> list[str]:
    """The control matrix and the diff are recomputed from the pack's records: a pack that
    claims coverage or changes its records do not show fails."""
    wanted = [
        n
        for n in names
        if n in ("candidate.json", "decisions.json", "approvals.json", MATRIX, DIFF)
        or (n.startswith("plan/revisions/") and n.endswith(".json"))
    ]
    files = {n: _read(pack, n) for n in wanted if pack.size(n) < _SMALL}
    failures = []
    try:
        if files.get(MATRIX) != matrix_csv(matrix_from_pack(files)):
            failures.append(f"{MATRIX}: does not match what the pack's own records cover")
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
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
        signed = {
            (e["actor"], e["payload"].get("role"), e["subject"])
            for e in events
            if e.get("type") in ("approval.approved", "approval.rejected")
        }
    except (KeyError, ValueError, TypeError, AttributeError):
        return ["approvals.json or events.json missing or unreadable"]
    failures = []
    for a in approvals:
        if not isinstance(a, dict) or not a.get("current"):
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


def _content_addresses(pack: _Pack, actual: dict[str, str], manifest: Any) -> list[str]:
    """Checks that do not trust the manifest: evidence and revisions are named by digest,
    and the candidate digest is recomputed from its revision and components."""
    failures = []
    revisions: dict[str, Any] = {}
    for name, digest in actual.items():
        if name.startswith("evidence/files/") and name.rsplit("/", 1)[1] != digest:
            failures.append(f"{name}: content does not match its digest name (evidence swapped)")
        if name.startswith("plan/revisions/") and name != "plan/revisions.json":
            try:
                document = json.loads(_read(pack, name))
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
            cand = json.loads(_read(pack, "candidate.json"))
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
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            failures.append(f"candidate.json: unreadable ({exc})")
    return failures
