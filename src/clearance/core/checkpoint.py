"""Signed checkpoints of the audit log: tree size, root hash and time, as a signed note."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FORMAT = "clearance-log-checkpoint/v1"


@dataclass(frozen=True)
class Checkpoint:
    """The state of the log after `size` events; `signature` covers `message()`."""

    size: int
    root: str
    at: str
    key_id: str
    signature: str

    def message(self) -> bytes:
        return checkpoint_message(self.size, self.root, self.at)

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "size": self.size,
            "root": self.root,
            "at": self.at,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        """Parse a checkpoint someone kept; ValueError says what is wrong with it."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a Clearance checkpoint (expected format {FORMAT})")
        try:
            size, root = int(data["size"]), str(data["root"])
            at, key, signature = str(data["at"]), str(data["key_id"]), str(data["signature"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"checkpoint field missing or malformed: {exc}") from None
        if size < 0 or len(root) != 64:
            raise ValueError("checkpoint size or root is malformed")
        return cls(size, root, at, key, signature)


def checkpoint_message(size: int, root: str, at: str) -> bytes:
    """The bytes a checkpoint signature covers: format, size, root (hex) and time."""
    return f"{FORMAT}\n{size}\n{root}\n{at}\n".encode()


@dataclass(frozen=True)
class Receipt:
    """What a write returns: the index of its last event and the checkpoint that covers it."""

    seq: int
    checkpoint: Checkpoint

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "checkpoint": self.checkpoint.as_json()}
