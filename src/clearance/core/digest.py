"""Canonical digests: plan revisions and candidates are named by sha256 over RFC 8785 JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import rfc8785

PREFIX = "sha256:"
_SAFE_INT = 2**53


def canonical_json(data: Any) -> bytes:
    """RFC 8785 (JCS) serialisation: the same data always gives the same bytes.

    Data without floats, whose object keys are all in the Basic Multilingual Plane and
    whose integers are exact in IEEE 754, serialises under RFC 8785 exactly as Python's
    `json` does with sorted keys, no spaces and no ASCII escaping; that much faster path is
    taken for it (records and events), and RFC 8785's own serialiser for everything else.
    """
    if _plain(data):
        try:
            text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            return text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: let RFC 8785 refuse it
            pass
    return rfc8785.dumps(data)


def _plain(data: Any) -> bool:
    """Whether `data` has only dicts with BMP string keys, lists, strings, booleans, None
    and integers within ±2**53."""
    stack = [data]
    while stack:
        value = stack.pop()
        if value is None or isinstance(value, (str, bool)):
            continue
        if isinstance(value, int):
            if -_SAFE_INT < value < _SAFE_INT:
                continue
            return False
        if isinstance(value, dict):
            for key in value:
                if not isinstance(key, str) or (not key.isascii() and max(key) > "\uffff"):
                    return False
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
        else:
            return False
    return True


def sha256_digest(data: bytes) -> str:
    return PREFIX + hashlib.sha256(data).hexdigest()


def json_digest(data: Any) -> str:
    return sha256_digest(canonical_json(data))


def revision_digest(document: Mapping[str, Any]) -> str:
    """Digest of a plan revision: its normalised document, nothing else."""
    return json_digest(document)


def candidate_digest(document: Mapping[str, Any], components: Mapping[str, str]) -> str:
    """Digest of a candidate: the plan plus the digest of every component, by name.

    Changing the plan or any component's bytes gives a different candidate, so approvals
    and decisions recorded for one candidate never silently carry over to another.
    """
    return candidate_digest_of(canonical_json(document), components)


def candidate_digest_of(canonical_document: bytes, components: Mapping[str, str]) -> str:
    """`candidate_digest` from the plan's canonical JSON, so a plan read once is not
    serialised again: the object {"components": ..., "plan": ...} in RFC 8785 is exactly
    these bytes (keys sorted, no whitespace)."""
    return sha256_digest(
        b'{"components":'
        + canonical_json(dict(components))
        + b',"plan":'
        + canonical_document
        + b"}"
    )
