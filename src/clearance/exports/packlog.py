"""The audit pack's log section: a signed checkpoint, every leaf hash up to it, the release's
events with inclusion proofs, the public keys; and the offline checks that use them."""

from __future__ import annotations

import json
from typing import Any

from clearance.core.checkpoint import Checkpoint
from clearance.core.digest import canonical_json
from clearance.core.merkle import inclusion_proof, leaf_hash, root, verify_inclusion

CHECKPOINT = "log/checkpoint.json"
LEAVES = "log/leaves.txt"
PROOFS = "log/proofs.json"
KEYS = "keys.json"
EVENTS = "events.json"
SIGNATURE = "manifest.sig"


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def log_files(conn: Any, subjects: set[str]) -> dict[str, bytes]:
    """The events about `subjects`, with proofs against the latest signed checkpoint."""
    from clearance.store import repository as repo

    found = repo.latest_checkpoint(conn)
    if found is None:
        return {}
    checkpoint = found[0]
    leaves = repo.leaf_hashes(conn, checkpoint.size)
    events, proofs = [], {}
    after = 0
    while True:
        page = repo.events(conn, subjects=subjects, after=after, limit=1000)
        for event in page:
            if event.seq > checkpoint.size:
                break
            events.append(event.as_json())
            path = inclusion_proof(leaves, event.seq - 1)
            proofs[str(event.seq)] = [h.hex() for h in path]
        if len(page) < 1000:
            break
        after = page[-1].seq
    return {
        EVENTS: _json(events),
        CHECKPOINT: _json(checkpoint.as_json()),
        LEAVES: "".join(h.hex() + "\n" for h in leaves).encode(),
        PROOFS: _json(proofs),
        KEYS: _json(repo.public_keys(conn)),
    }


def verify_log_files(
    files: dict[str, bytes], manifest: bytes, candidate: str, kept: Checkpoint | None
) -> list[str]:
    """Offline checks of the pack's log section; trusts nothing the pack says about itself
    beyond what its signatures and hashes prove."""
    from clearance.services.log import checkpoint_signature_problem
    from clearance.signing import unb64, verify

    failures: list[str] = []
    parsers = {
        KEYS: lambda b: {k["key_id"]: k for k in json.loads(b)},
        CHECKPOINT: lambda b: Checkpoint.from_json(json.loads(b)),
        LEAVES: lambda b: [bytes.fromhex(line) for line in b.decode().split()],
        PROOFS: json.loads,
        EVENTS: json.loads,
        SIGNATURE: json.loads,
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
    keys, checkpoint, leaves = parsed[KEYS], parsed[CHECKPOINT], parsed[LEAVES]
    proofs, events, signature = parsed[PROOFS], parsed[EVENTS], parsed[SIGNATURE]

    key = keys.get(signature.get("key_id", ""))
    if key is None or not verify(unb64(key["public_key"]), manifest, unb64(signature["signature"])):
        failures.append(f"{SIGNATURE}: the manifest's signature does not verify")
    problem = checkpoint_signature_problem(checkpoint, keys)
    if problem:
        failures.append(f"{CHECKPOINT}: {problem}")
    if signature.get("key_id") != checkpoint.key_id:
        failures.append(f"{SIGNATURE}: signed by another key than the checkpoint")
    if len(leaves) != checkpoint.size or root(leaves).hex() != checkpoint.root:
        failures.append(f"{LEAVES}: the leaf hashes do not give the checkpoint's root")
    if kept is not None:
        failures += _against_kept(kept, leaves, keys)
    failures += _events(events, proofs, leaves, checkpoint)
    return failures


def _against_kept(kept: Checkpoint, leaves: list[bytes], keys: dict[str, Any]) -> list[str]:
    if kept.key_id not in keys:
        return [
            f"the kept checkpoint was signed by {kept.key_id[:19]}…, which this pack does not "
            "hold: the history was re-signed with another key"
        ]
    if kept.size > len(leaves):
        return [
            f"the kept checkpoint has {kept.size} events; the pack's log only "
            f"{len(leaves)} (events were cut from its end)"
        ]
    if root(leaves[: kept.size]).hex() != kept.root:
        return [
            f"the log's first {kept.size} events differ from the kept checkpoint "
            "(history rewritten)"
        ]
    from clearance.services.log import checkpoint_signature_problem

    problem = checkpoint_signature_problem(kept, keys)
    return [f"the kept checkpoint: {problem}"] if problem else []


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
        if event.get("at", "") < last_at:
            failures.append(
                f"{EVENTS}: event {seq} is dated before the event preceding it (backdated)"
            )
        last_seq, last_at = seq, event.get("at", "")
        if seq > len(leaves):
            failures.append(f"{EVENTS}: event {seq} is not in the signed log (inserted)")
            continue
        leaf = leaf_hash(canonical_json(event))
        if leaf != leaves[seq - 1]:
            failures.append(f"{EVENTS}: event {seq} differs from what the log recorded (edited)")
            continue
        path = [bytes.fromhex(h) for h in proofs.get(str(seq), [])]
        if not verify_inclusion(leaf, seq - 1, checkpoint.size, path, top):
            failures.append(f"{PROOFS}: the inclusion proof of event {seq} does not verify")
    return failures
