"""Signed checkpoints of the audit log as C2SP signed notes (c2sp.org/tlog-checkpoint).

A checkpoint's note text is three lines: the log's origin, the tree size and the base64 RFC
6962 root. The workspace key signs it twice, under the origin as key name: an Ed25519 note
signature (type 0x01), which any signed-note verifier checks, and a timestamped cosignature
(c2sp.org/tlog-cosignature, type 0x04), which carries the signed time to the second without
an extension line. Checkpoints made before this format (a JSON of Clearance's own, with a
hex root and the time signed beside it) are still read and verified as `legacy`.

Pure: hashing and text only; signatures are checked by the caller (`services.log`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

LEGACY_FORMAT = "clearance-log-checkpoint/v1"
NOTE_FORMAT = "c2sp.org/tlog-checkpoint"
RECEIPT_FORMAT = "clearance-receipt/v2"
ED25519 = 0x01
COSIGNATURE = 0x04
COSIGNATURE_HEADER = "cosignature/v1"
_DASH = "\u2014 "
_TIME = "%Y-%m-%dT%H:%M:%S"
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


def note_key_hash(name: str, kind: int, public_raw: bytes) -> bytes:
    """The 4-byte key ID of signed-note: SHA-256(name || 0x0A || type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public_raw).digest()[:4]


def verifier_key(name: str, public_raw: bytes) -> str:
    """The signed-note vkey (`name+hex(key ID)+base64(0x01 || key)`) a note verifier takes."""
    encoded = base64.b64encode(bytes([ED25519]) + public_raw).decode()
    return f"{name}+{note_key_hash(name, ED25519, public_raw).hex()}+{encoded}"


def origin_problem(origin: str) -> str | None:
    """Why `origin` cannot be a checkpoint origin and note key name, or None."""
    if not origin:
        return "the log origin is empty"
    if any(c.isspace() or c == "+" or ord(c) < 0x20 for c in origin):
        return f"the log origin {origin!r} has a space, a plus sign or a control character"
    return None


def seconds(at: str) -> int:
    """POSIX seconds of a fixed-width UTC time (`2026-12-01T08:00:00.000000Z`)."""
    return int(datetime.strptime(at[:19], _TIME).replace(tzinfo=UTC).timestamp())


def whole_second(at: str) -> str:
    """The time truncated to its second, in the same fixed-width form."""
    return at[:19] + ".000000Z"


def _time_of(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime(_TIME) + ".000000Z"


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_hash: bytes
    signature: bytes  # what follows the key ID: the signature (cosignature: time, then it)


@dataclass(frozen=True)
class Checkpoint:
    """The state of the log after `size` events, signed by the workspace key `key_id`.

    `root` is hex. For a note (`origin` set) `signature` holds its signature lines and `at`
    the time its cosignature carries; for a legacy checkpoint `signature` is the base64
    Ed25519 signature of `message()`. `key_id` is "" for a note read from a file until
    `resolve_signer` names the key whose ID its lines carry.
    """

    size: int
    root: str
    at: str
    key_id: str
    signature: str
    origin: str = ""

    @property
    def legacy(self) -> bool:
        return not self.origin

    def body(self) -> bytes:
        """The note text the Ed25519 note signature covers."""
        root = base64.b64encode(bytes.fromhex(self.root)).decode()
        return f"{self.origin}\n{self.size}\n{root}\n".encode()

    def message(self) -> bytes:
        """What the (first) signature covers: the note text, or the legacy message."""
        if self.legacy:
            return legacy_message(self.size, self.root, self.at)
        return self.body()

    def cosigned_message(self, timestamp: int) -> bytes:
        """What a timestamped cosignature covers (c2sp.org/tlog-cosignature, Ed25519)."""
        return f"{COSIGNATURE_HEADER}\ntime {timestamp}\n".encode() + self.body()

    def note(self) -> str:
        """The signed note: text, a blank line, the signature lines."""
        return self.body().decode() + "\n" + self.signature

    def signatures(self) -> list[NoteSignature]:
        return _signature_lines(self.signature) if not self.legacy else []

    def as_json(self) -> dict[str, Any]:
        if self.legacy:
            return {
                "format": LEGACY_FORMAT,
                "size": self.size,
                "root": self.root,
                "at": self.at,
                "key_id": self.key_id,
                "signature": self.signature,
            }
        return {
            "format": NOTE_FORMAT,
            "origin": self.origin,
            "size": self.size,
            "root": base64.b64encode(bytes.fromhex(self.root)).decode(),
            "at": self.at,
            "note": self.note(),
        }

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        """A checkpoint as JSON (a note inside, or the legacy form); ValueError says why not.
        Only the note is read from the new form: the fields beside it are for people."""
        if isinstance(data, dict) and isinstance(data.get("note"), str):
            note = cls.from_note(data["note"])
            shown = {k: data[k] for k in ("origin", "size", "root") if k in data}
            if any(note.as_json()[k] != v for k, v in shown.items()):
                raise ValueError(
                    f"its {', '.join(shown)} disagree with its signed note; only the note counts"
                )
            return note
        if not isinstance(data, dict) or data.get("format") != LEGACY_FORMAT:
            raise ValueError(
                f"not a Clearance checkpoint (expected a signed note or format {LEGACY_FORMAT})"
            )
        try:
            size, root = int(data["size"]), str(data["root"])
            at, key, signature = str(data["at"]), str(data["key_id"]), str(data["signature"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"checkpoint field missing or malformed: {exc}") from None
        if size < 0 or len(root) != 64:
            raise ValueError("checkpoint size or root is malformed")
        return cls(size, root, at, key, signature)

    @classmethod
    def from_note(cls, text: str) -> Checkpoint:
        """Parse a signed checkpoint note (signatures unchecked); ValueError says what is
        malformed. `at` comes from a cosignature line under the origin's name, if any."""
        text = text.rstrip("\n") + "\n"  # a file may end in one newline more than the note
        if any(ord(c) < 0x20 and c != "\n" for c in text):
            raise ValueError("a signed note has no control characters but newlines")
        body, sep, lines = text.rpartition("\n\n")
        if not sep or not body:
            raise ValueError("not a signed note: no blank line before the signatures")
        parts = body.split("\n")
        if len(parts) < 3 or any(not p for p in parts):
            raise ValueError("a checkpoint has an origin, a tree size and a root, each non-empty")
        origin, size, root = parts[0], parts[1], parts[2]
        if len(parts) > 3:
            raise ValueError("this checkpoint has extension lines; Clearance writes none")
        if origin_problem(origin):
            raise ValueError(origin_problem(origin))
        if not _DECIMAL.fullmatch(size):
            raise ValueError(f"tree size {size!r} is not a decimal without leading zeroes")
        try:
            raw_root = base64.b64decode(root, validate=True)
        except binascii.Error:
            raw_root = b""
        if len(raw_root) != 32 or base64.b64encode(raw_root).decode() != root:
            raise ValueError("the root hash is not 32 bytes in standard base64")
        signatures = lines if lines.endswith("\n") else lines + "\n"
        parsed = _signature_lines(signatures)
        at = next(
            (
                _time_of(int.from_bytes(s.signature[:8], "big"))
                for s in parsed
                if s.name == origin and len(s.signature) == 8 + 64
            ),
            "",
        )
        return cls(int(size), raw_root.hex(), at, "", signatures, origin)

    @classmethod
    def parse_kept(cls, text: str) -> Checkpoint:
        """A checkpoint someone kept: a signed note, a receipt, or checkpoint JSON (either
        format); ValueError says why it is none of them."""
        stripped = text.lstrip()
        if not stripped.startswith("{"):
            return cls.from_note(text)
        data = json.loads(text)
        if isinstance(data, dict) and "checkpoint" in data:
            inner = data["checkpoint"]
            return cls.from_note(inner) if isinstance(inner, str) else cls.from_json(inner)
        return cls.from_json(data)


def _signature_lines(text: str) -> list[NoteSignature]:
    found = []
    for line in text.removesuffix("\n").split("\n"):
        if not line.startswith(_DASH):
            raise ValueError(f"signature line {line[:40]!r} does not start with an em dash")
        name, _, encoded = line[len(_DASH) :].rpartition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise ValueError(f"signature of {name!r} is not base64") from None
        if not name or origin_problem(name) or len(raw) < 5:
            raise ValueError(f"signature line of {name!r} is malformed")
        found.append(NoteSignature(name, raw[:4], raw[4:]))
    if not found:
        raise ValueError("a signed note has at least one signature line")
    return found


def legacy_message(size: int, root: str, at: str) -> bytes:
    """The bytes a legacy checkpoint signature covers: format, size, root (hex) and time."""
    return f"{LEGACY_FORMAT}\n{size}\n{root}\n{at}\n".encode()


def sign_lines(origin: str, body: bytes, timestamp: int, sign: Any, public_raw: bytes) -> str:
    """The two signature lines of a checkpoint note: the Ed25519 note signature and the
    timestamped cosignature, both under the origin's name with the same key."""
    note_sig = note_key_hash(origin, ED25519, public_raw) + sign(body)
    cosigned = f"{COSIGNATURE_HEADER}\ntime {timestamp}\n".encode() + body
    cosig = (
        note_key_hash(origin, COSIGNATURE, public_raw)
        + timestamp.to_bytes(8, "big")
        + sign(cosigned)
    )
    return "".join(f"{_DASH}{origin} {base64.b64encode(s).decode()}\n" for s in (note_sig, cosig))


def resolve_signer(cp: Checkpoint, keys: Mapping[str, bytes]) -> Checkpoint:
    """The checkpoint naming, as `key_id`, the key among `keys` (key_id -> raw) whose note
    key ID one of its signature lines carries (unchecked: verifying is the caller's)."""
    if cp.legacy or cp.key_id:
        return cp
    lines = {(s.name, s.key_hash) for s in cp.signatures()}
    for kid, raw in keys.items():
        if (cp.origin, note_key_hash(cp.origin, ED25519, raw)) in lines:
            return replace(cp, key_id=kid)
    return cp


@dataclass(frozen=True)
class Receipt:
    """What a write returns: the index of its last event and the checkpoint that covers it."""

    seq: int
    checkpoint: Checkpoint
    #: an export's receipt: the consistency proof from the pack's log to `checkpoint`
    consistency: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        if self.checkpoint.legacy:
            return {"seq": self.seq, "checkpoint": self.checkpoint.as_json()}
        extra = {"consistency": self.consistency} if self.consistency is not None else {}
        return {
            "format": RECEIPT_FORMAT,
            "seq": self.seq,
            "checkpoint": self.checkpoint.as_json(),  # its `note` is the signed note
            **extra,
        }
