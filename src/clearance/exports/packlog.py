"""The audit pack's log section: a signed checkpoint, every leaf hash up to it, the release's
events with inclusion proofs, the public keys; and the offline checks that use them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clearance.core.checkpoint import Checkpoint
from clearance.core.digest import canonical_json
from clearance.core.merkle import leaf_hash, root, verify_inclusion

if TYPE_CHECKING:
    from clearance.store.records import EventRecord

CHECKPOINT = "log/checkpoint"
#: where packs made before checkpoints were signed notes kept theirs (still verified)
LEGACY_CHECKPOINT = "log/checkpoint.json"
LEAVES = "log/leaves.txt"
PROOFS = "log/proofs.json"
KEYS = "keys.json"
EVENTS = "events.json"
SIGNATURE = "manifest.sig"


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


@dataclass(frozen=True)
class LogRecords:
    """The log as a pack shows it: events about the release, the latest signed checkpoint,
    every leaf hash up to it, and the workspace's public keys."""

    events: list[EventRecord]
    checkpoint: Checkpoint
    #: every leaf hash up to the checkpoint, in hex, one per line (log/leaves.txt as is)
    leaves: bytes
    keys: list[dict[str, Any]]
    #: inclusion paths by event index, read from the stored tree levels
    proofs: Mapping[int, list[bytes]]


def log_files(log: LogRecords) -> dict[str, bytes]:
    """The events with inclusion proofs against the checkpoint."""
    events = [e for e in log.events if e.seq <= log.checkpoint.size]
    proofs = {str(e.seq): [h.hex() for h in log.proofs[e.seq]] for e in events}
    return {
        EVENTS: _json([e.as_json() for e in events]),
        CHECKPOINT: log.checkpoint.note().encode(),
        LEAVES: log.leaves,
        PROOFS: _json(proofs),
        KEYS: _json(log.keys),
    }


def carried_keys(files: dict[str, bytes]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The public keys the pack carries in keys.json, by key_id, and what is wrong with them.

    A key whose id is not the sha256 of its bytes is dropped and named, so a key named by the
    auditor's fingerprint is the key with that fingerprint. Carrying a key vouches for nothing.
    """
    from clearance.signing import key_id, unb64

    try:
        entries = json.loads(files[KEYS])
    except KeyError:
        return {}, [f"{KEYS}: missing from the pack"]
    except ValueError as exc:
        return {}, [f"{KEYS}: unreadable ({exc})"]
    if not isinstance(entries, list):
        return {}, [f"{KEYS}: unreadable (not a list of keys)"]
    keys: dict[str, dict[str, Any]] = {}
    failures = []
    for entry in entries:
        try:
            kid = entry["key_id"]
            raw = unb64(entry["public_key"])
            window = (entry["valid_from"], entry["valid_until"])
            if not isinstance(window[0], str) or not isinstance(window[1], str | None):
                raise TypeError("validity window is not a pair of times")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            failures.append(f"{KEYS}: a key entry is unreadable ({exc})")
            continue
        if key_id(raw) != kid:
            failures.append(f"{KEYS}: key {str(kid)[:19]}… is not the key its id names (swapped)")
            continue
        keys[kid] = entry
    return keys, failures


def verify_log_files(
    files: dict[str, bytes],
    manifest: bytes,
    *,
    carried: dict[str, dict[str, Any]],
    signers: Mapping[str, bytes] | None,
    kept: Checkpoint | None,
) -> list[str]:
    """Offline checks of the pack's log section: the manifest and the checkpoint are signed by
    one key, the leaves give the checkpoint's root, every event is proven in it.

    `carried` are the pack's keys (from `carried_keys`); `signers` the keys the auditor trusts
    to sign the manifest and checkpoint (None: check only that the pack holds together);
    `kept` a checkpoint the auditor kept, which the log must still contain.
    """
    from clearance.core.checkpoint import resolve_signer
    from clearance.services.log import checkpoint_signature_problem
    from clearance.signing import b64, unb64, verify

    failures: list[str] = []
    if CHECKPOINT not in files and LEGACY_CHECKPOINT in files:
        files = {**files, CHECKPOINT: files[LEGACY_CHECKPOINT]}
    parsers = {
        CHECKPOINT: lambda b: Checkpoint.parse_kept(b.decode()),
        LEAVES: lambda b: [bytes.fromhex(line) for line in b.decode().split()],
        PROOFS: _proofs,
        EVENTS: _event_list,
        SIGNATURE: _signature,
    }
    parsed: dict[str, Any] = {}
    for name, parse in parsers.items():
        try:
            parsed[name] = parse(files[name])
        except KeyError:
            failures.append(f"{name}: missing from the pack")
        except (ValueError, TypeError, AttributeError) as exc:
            failures.append(f"{name}: unreadable ({exc})")
    if failures:
        return failures
    checkpoint, leaves = parsed[CHECKPOINT], parsed[LEAVES]
    proofs, events, signature = parsed[PROOFS], parsed[EVENTS], parsed[SIGNATURE]

    # A trusted key the pack does not carry still verifies, with no validity window to keep;
    # one it carries has the same bytes, since carried keys are named by their sha256.
    keys = dict(carried)
    for kid, raw in (signers or {}).items():
        keys.setdefault(kid, {"public_key": b64(raw), "valid_from": "", "valid_until": None})
    checkpoint = resolve_signer(checkpoint, {k: unb64(v["public_key"]) for k, v in keys.items()})
    signer = signature["key_id"]
    key = keys.get(signer)
    try:
        holds = key is not None and verify(
            unb64(key["public_key"]), manifest, unb64(signature["signature"])
        )
    except ValueError:
        holds = False
    if not holds:
        failures.append(f"{SIGNATURE}: the manifest's signature does not verify")
    problem = checkpoint_signature_problem(checkpoint, keys)
    if problem:
        failures.append(f"{CHECKPOINT}: {problem}")
    if signer != checkpoint.key_id:
        failures.append(f"{SIGNATURE}: signed by another key than the checkpoint")
    if signers is not None:
        failures += _untrusted(signer, checkpoint.key_id, signers, kept)
    if len(leaves) != checkpoint.size or root(leaves).hex() != checkpoint.root:
        failures.append(f"{LEAVES}: the leaf hashes do not give the checkpoint's root")
    failures += _events(events, proofs, leaves, checkpoint)
    return failures


def _untrusted(
    signer: str, checkpoint_signer: str, signers: Mapping[str, bytes], kept: Checkpoint | None
) -> list[str]:
    """Which of the manifest and the checkpoint is signed by a key the auditor does not trust."""
    failures = []
    for name, kid in ((SIGNATURE, signer), (CHECKPOINT, checkpoint_signer)):
        if kid in signers:
            continue
        if kept is not None and kid != kept.key_id:
            why = (
                f"not by the key of your kept checkpoint ({kept.key_id[:19]}…): the history "
                "was re-signed with another key"
            )
        elif kept is not None:
            why = "the key of your kept checkpoint, which does not hold (see above)"
        else:
            why = (
                "which is not a key you trust: the pack was re-signed with another key, or "
                "you pinned the wrong one"
            )
        failures.append(f"{name}: signed by {kid[:19]}…, {why}")
    return failures


def _signature(data: bytes) -> dict[str, str]:
    signature = json.loads(data)
    if not isinstance(signature, dict) or not all(
        isinstance(signature.get(k), str) for k in ("key_id", "signature")
    ):
        raise ValueError("expected {key_id, signature}")
    return signature


def _proofs(data: bytes) -> dict[str, list[str]]:
    proofs = json.loads(data)
    if not isinstance(proofs, dict):
        raise ValueError("expected an object of inclusion paths by event index")
    return proofs


def _event_list(data: bytes) -> list[dict[str, Any]]:
    events = json.loads(data)
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ValueError("expected a list of events")
    return events


@dataclass(frozen=True)
class KeptCheck:
    """How the pack's log stands against a kept checkpoint: `failures` (it does not hold),
    or `older` (the pack predates the checkpoint and no consistency proof was given)."""

    failures: list[str]
    older: str | None = None


def against_kept(
    files: Mapping[str, bytes], kept: Checkpoint, proof: list[bytes] | None
) -> KeptCheck:
    """The pack's log holds the kept checkpoint's history (its signature is checked when
    the trust anchor is resolved). A checkpoint newer than the pack holds only with an RFC
    9162 consistency proof from the pack's signed tree to it; without one the pack is only
    older, which is not a failure but something the auditor must settle with a proof."""
    from clearance.core.merkle import verify_consistency

    try:
        leaves = [bytes.fromhex(line) for line in files[LEAVES].decode().split()]
    except (KeyError, ValueError):
        return KeptCheck([])  # named by verify_log_files already
    size = len(leaves)
    if kept.size <= size:
        if root(leaves[: kept.size]).hex() != kept.root:
            return KeptCheck(
                [
                    f"the log's first {kept.size} events differ from the kept checkpoint "
                    "(history rewritten)"
                ]
            )
        return KeptCheck([])
    if proof is None:
        return KeptCheck(
            [],
            f"the pack's log has {size} events and your checkpoint {kept.size}: the pack is "
            "older than the checkpoint, which proves nothing either way. On the workspace run "
            f"`clearance log consistency {size} {kept.size} -o proof.json`, then add "
            "`--consistency proof.json`: the proof shows the newer log still holds the pack's",
        )
    if not verify_consistency(size, kept.size, root(leaves), bytes.fromhex(kept.root), proof):
        return KeptCheck(
            [
                f"the consistency proof does not prove the log of your checkpoint ({kept.size} "
                f"events) holds the pack's {size} events: the pack's history differs from the "
                "log you kept, or the proof is forged or for other sizes"
            ]
        )
    return KeptCheck([])


def _events(
    events: list[Any], proofs: dict[str, Any], leaves: list[bytes], checkpoint: Checkpoint
) -> list[str]:
    failures = []
    last_seq, last_at = 0, ""
    top = bytes.fromhex(checkpoint.root)
    for event in events:
        seq = event.get("seq")
        if not isinstance(seq, int) or seq <= last_seq:
            failures.append(f"{EVENTS}: event {seq} is out of order (reordered events)")
            continue
        at = str(event.get("at", ""))
        if at < last_at:
            failures.append(
                f"{EVENTS}: event {seq} is dated before the event preceding it (backdated)"
            )
        last_seq, last_at = seq, at
        if seq > len(leaves):
            failures.append(f"{EVENTS}: event {seq} is not in the signed log (inserted)")
            continue
        leaf = leaf_hash(canonical_json(event))
        if leaf != leaves[seq - 1]:
            failures.append(f"{EVENTS}: event {seq} differs from what the log recorded (edited)")
            continue
        try:
            path = [bytes.fromhex(h) for h in proofs.get(str(seq), [])]
        except (TypeError, ValueError):
            path = []
        if not verify_inclusion(leaf, seq - 1, checkpoint.size, path, top):
            failures.append(f"{PROOFS}: the inclusion proof of event {seq} does not verify")
    return failures
