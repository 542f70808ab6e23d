"""Canonical digests: plan revisions and candidates are named by sha256 over RFC 8785 JSON."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785

PREFIX = "sha256:"


def canonical_json(data: Any) -> bytes:
    """RFC 8785 (JCS) serialisation: the same data always gives the same bytes."""
    return rfc8785.dumps(data)


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
    return json_digest({"plan": document, "components": dict(components)})
