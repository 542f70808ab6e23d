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
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


_TIMES = {"created_at", "added_at", "evaluated_at", "released_at", "at"}
_JSON = {"document", "results", "metrics", "payload"}


def _map(cls: Any, row: Any) -> Any:
    """Row -> record: times parsed, JSON columns decoded, component lists typed."""
    values = {}
    for f in fields(cls):
        value = getattr(row, f.name)
        if f.name in _TIMES:
            value = from_time(value)
        elif f.name in _JSON:
            value = json.loads(value)
        elif f.name == "components":
            value = tuple(ComponentPin(**c) for c in json.loads(value))
        values[f.name] = value
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
    id: int
    candidate: str
    criterion_id: str
    name: str
    digest: str
    size: int
    added_by: str
    role: str | None
    source: str | None
    added_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> EvidenceRecord:
        return _map(cls, row)


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
