"""The writer the crash harness kills: up to N writes to a workspace, one receipt per line.

Usage: writer.py WORKSPACE PLAN_FOLDER WRITES TAG SEED KEY

Writes alternate between attaching a new evidence file (blob store: temp file, fsync,
rename) and submitting a new revision of the plan, each signed with the private key in
KEY (registered to the writer's person). After each committed write one JSON line goes to
stdout and is flushed: {"i", "kind", "seq", "checkpoint", "digest"}. The first line,
{"ready": true}, says the workspace is open; the last, {"done": N}, that all writes
completed.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import yaml

from clearance.client.local import LocalClient, LocalPlan
from clearance.services.evidence import add_evidence
from clearance.services.plans import submit_plan
from clearance.services.workspace import Workspace
from clearance.settings import Settings
from clearance.signing import SigningKey

ACTOR = "crash-writer@example.com"


def emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def new_revision(folder: Path, base: dict[str, Any], label: str, me: LocalClient) -> LocalPlan:
    """A plan file whose change id is `label`, so its revision digest is new."""
    document = json.loads(json.dumps(base))
    document["release"]["change"]["id"] = label
    path = folder / f"plan-{label}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return me.plan(path)


def main(workspace: Path, folder: Path, writes: int, tag: str, seed: int, key: Path) -> None:
    rng = random.Random(seed)
    ws = Workspace(Settings(workspace=workspace))
    me = LocalClient(ws, SigningKey.load(key))
    base = yaml.safe_load((folder / "plan.yaml").read_text())
    local = new_revision(folder, base, f"{tag}-start", me)
    digests = me.digests(local)  # the artifact never changes: hash it once
    _ = ws.engine, ws.blobs, ws.signing_key, me.me  # open everything before the first write
    (folder / "evidence").mkdir(exist_ok=True)
    emit({"ready": True})
    for i in range(writes):
        ws.last_receipt = None
        digest = None
        if i % 2 == 0:
            kind = "evidence"
            path = folder / "evidence" / f"{tag}-{i}.txt"
            path.write_bytes(f"{tag} {i}\n".encode() + rng.randbytes(rng.randrange(1, 4096)))
            blob = me.store_file(path, "uat", None)
            principal = me.principal("evidence.add")
            digest = add_evidence(
                ws, principal, local.loaded, digests, "uat", path.name, blob
            ).digest
        else:
            kind = "plan"
            local = new_revision(folder, base, f"{tag}-{i}", me)
            principal = me.principal("plan.submit")
            submit_plan(ws, principal, local.loaded, digests, f"crash harness revision {tag}-{i}")
        receipt = ws.last_receipt
        assert receipt is not None, f"write {i} ({kind}) returned no receipt"
        emit(
            {
                "i": i,
                "kind": kind,
                "seq": receipt.seq,
                "checkpoint": receipt.checkpoint.as_json(),
                "digest": digest,
            }
        )
    emit({"done": writes})
    ws.close()


if __name__ == "__main__":
    root, plan_folder, count, label, seed_text, key_file = sys.argv[1:7]
    main(Path(root), Path(plan_folder), int(count), label, int(seed_text), Path(key_file))
