"""The pack's public keys in the forms other tools load: PEM (openssl, cosign,
`serialization.load_pem_public_key`), securesystemslib key JSON (`SSlibKey.from_dict`, in-toto
verifiers), and, for the workspace key, the signed-note verifier key that checkpoint readers
take. Carrying a key vouches for nothing: the auditor compares its fingerprint first."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

KEYS_DIR = "keys"


def _name(part: str) -> str:
    """A file name part from a person's name or a key id: letters, digits, `.`, `-`, `_`, `@`."""
    return "".join(c if c.isalnum() or c in ".-_@" else "_" for c in part)


def key_files(
    workspace_keys: list[dict[str, Any]], people_keys: list[dict[str, Any]], origin: str
) -> dict[str, bytes]:
    """`keys/workspace-<fp16>.{pem,sslib.json,vkey}` for each workspace key and
    `keys/people/<person>-<fp16>.{pem,sslib.json}` for each person's key, where fp16 is
    the first 16 hex digits of the key's fingerprint (sha256 of the raw key)."""
    from clearance.core.checkpoint import verifier_key
    from clearance.signing import unb64
    from clearance.signing.statements import public_key_pem, sslib_key

    files: dict[str, bytes] = {}
    entries = [(f"{KEYS_DIR}/workspace", k) for k in workspace_keys]
    entries += [(f"{KEYS_DIR}/people/{_name(k['person'])}", k) for k in people_keys]
    for stem, key in entries:
        raw = unb64(key["public_key"])
        name = f"{stem}-{key['key_id'].removeprefix('sha256:')[:16]}"
        files[f"{name}.pem"] = public_key_pem(raw).encode()
        files[f"{name}.sslib.json"] = (json.dumps(sslib_key(raw), indent=2) + "\n").encode()
        if stem.endswith("/workspace") and origin:
            files[f"{name}.vkey"] = (verifier_key(origin, raw) + "\n").encode()
    return files


def verify_key_files(files: Mapping[str, bytes]) -> list[str]:
    """Each file under `keys/` is exactly what the pack's keys.json, people-keys.json and
    checkpoint give: a swapped PEM would mislead an auditor who loads it. Packs made before
    `keys/` existed have none, and need none."""
    from clearance.core.checkpoint import Checkpoint
    from clearance.exports.packlog import CHECKPOINT, KEYS
    from clearance.exports.packsigned import PEOPLE_KEYS

    present = {n: b for n, b in files.items() if n.startswith(KEYS_DIR + "/")}
    if not present:
        return []
    try:
        origin = Checkpoint.parse_kept(files[CHECKPOINT].decode()).origin
        expected = key_files(json.loads(files[KEYS]), json.loads(files[PEOPLE_KEYS]), origin)
    except (KeyError, TypeError, ValueError, AttributeError):
        return []  # the files they come from are named as unreadable on their own
    failures = [
        f"{name}: not a key that keys.json or people-keys.json holds (swapped or added)"
        for name, data in sorted(present.items())
        if expected.get(name) != data
    ]
    failures += [
        f"{name}: missing from the pack" for name in sorted(expected.keys() - present.keys())
    ]
    return failures
