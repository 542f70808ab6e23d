"""Domain records as the services see them, mapped explicitly from table rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any


def to_time(value: datetime) -> str:
    """Fixed-width ISO 8601 in UTC with microseconds; sorts as text on every database."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_time(text: str) -> datetime:
    """The inverse of `to_time` (fromisoformat: about 10x faster than strptime)."""
    if not text.endswith("Z") or len(text) != 27:
        raise ValueError(f"not a stored time: {text!r}")
    return datetime.fromisoformat(text)


_TIMES = {"created_at", "added_at", "evaluated_at", "released_at", "at"}
_JSON = {"document", "results", "metrics", "payload", "envelope"}


def _json_or_none(value: Any) -> Any:
    return json.loads(value) if value is not None else None


def _pins(value: str) -> tuple[ComponentPin, ...]:
    return tuple(ComponentPin(**c) for c in json.loads(value))


def _converter(name: str) -> Any:
    if name in _TIMES:
        return from_time
    if name in _JSON:
        return _json_or_none
    return _pins if name == "components" else None


#: per record class: (field, converter or None) for each field, worked out once
_PLANS: dict[type, list[tuple[str, Any]]] = {}


def _map(cls: Any, row: Any, **derived: Any) -> Any:
    """Row -> record: times parsed, JSON columns decoded, component lists typed;
    `derived` fills fields no column holds, such as a row's digest."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = [(f.name, _converter(f.name)) for f in fields(cls)]
    mapping = row._mapping
    values = dict(derived)
    for name, convert in plan:
        if name not in mapping:
            continue  # a derived field
        value = mapping[name]
        values[name] = convert(value) if convert is not None else value
    return cls(**values)


@dataclass(frozen=True)
class RevisionRecord:
    digest: str
    system_id: str
    version: str
    author: str
    message: str
    filename: str
    document: dict[str, Any]
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> RevisionRecord:
        return _map(cls, row)


@dataclass(frozen=True)
class ComponentPin:
    """A component of a candidate, with the digest its bytes had when the candidate was made."""

    name: str
    kind: str
    version: str
    digest: str
    deploy: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "digest": self.digest,
            "deploy": self.deploy,
        }


@dataclass(frozen=True)
class CandidateRecord:
    digest: str
    revision: str
    system_id: str
    version: str
    components: tuple[ComponentPin, ...]
    created_by: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> CandidateRecord:
        return _map(cls, row)


@dataclass(frozen=True)
class EvidenceRecord:
    """A file attached to a criterion of a candidate; with `role`, `envelope` is the signed
    attestation of the person who vouched for it in that role."""

    id: int
    candidate: str
    system_id: str
    criterion_id: str
    name: str
    digest: str
    size: int
    added_by: str
    role: str | None
    source: str | None
    added_at: datetime
    envelope: dict[str, Any] | None = None
    #: the digest of the row as stored (what the log must hold for it to count)
    row_digest: str = ""

    @classmethod
    def from_row(cls, row: Any, row_digest: str = "") -> EvidenceRecord:
        return _map(cls, row, row_digest=row_digest)


@dataclass(frozen=True)
class SignedApproval:
    """An approval, rejection or withdrawal as stored: the record, the statement its person
    signed, and the digest of its row (what the log must hold for it to count)."""

    id: int
    record: Any  # clearance.core.results.ApprovalRecord
    envelope: dict[str, Any] | None
    digest: str


@dataclass(frozen=True)
class WaiverRow:
    id: int
    candidate: str
    system_id: str
    criterion_id: str
    person: str
    role: str
    justification: str
    expires_at: datetime
    envelope: dict[str, Any]
    created_at: datetime
    digest: str = ""


@dataclass(frozen=True)
class RevocationRow:
    waiver_id: int
    person: str
    reason: str
    envelope: dict[str, Any]
    created_at: datetime
    digest: str = ""


@dataclass(frozen=True)
class DecisionRecord:
    id: int
    candidate: str
    system_id: str
    version: str
    target: str
    outcome: str
    results: list[dict[str, Any]]
    metrics: dict[str, float]
    evaluator_version: str
    actor: str
    evaluated_at: datetime
    policy: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> DecisionRecord:
        return _map(cls, row)


@dataclass(frozen=True)
class ReleaseRecord:
    id: int
    candidate: str
    decision_id: int
    system_id: str
    version: str
    target: str
    components: tuple[ComponentPin, ...]
    released_by: str
    released_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> ReleaseRecord:
        return _map(cls, row)


@dataclass(frozen=True)
class EventRecord:
    seq: int
    at: datetime
    type: str
    actor: str
    system_id: str | None
    subject: str
    payload: dict[str, Any]
    leaf_hash: str

    @classmethod
    def from_row(cls, row: Any) -> EventRecord:
        return _map(cls, row)

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": to_time(self.at),
            "type": self.type,
            "actor": self.actor,
            "system_id": self.system_id,
            "subject": self.subject,
            "payload": self.payload,
        }
