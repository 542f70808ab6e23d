"""The organisation's policy: minimum criteria per target and who may waive what. Each
version is recorded (insert-only, content-addressed); the latest applies to every plan."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from clearance.core.policy import Policy, parse_policy, policy_digest
from clearance.errors import UsageError
from clearance.services.workspace import Workspace, record_event

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class CurrentPolicy:
    policy: Policy
    digest: str


def current_policy(conn: Connection) -> CurrentPolicy | None:
    from clearance.store import tables as t

    row = conn.execute(sa.select(t.policies).order_by(t.policies.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    return CurrentPolicy(Policy.model_validate(json.loads(row.document)), row.digest)


def set_policy(ws: Workspace, path: Path, actor: str) -> tuple[CurrentPolicy, bool]:
    """Validate and record a policy file; (policy, whether it changed anything)."""
    from clearance.store import tables as t
    from clearance.store.records import to_time
    from clearance.store.repository import _dumps, _insert

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such policy file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    policy = parse_policy(text, str(path))
    digest = policy_digest(policy)
    with ws.transaction() as conn:
        before = current_policy(conn)
        if before is not None and before.digest == digest:
            return before, False
        document = policy.model_dump(mode="json", by_alias=True, exclude_none=True)
        _insert(
            conn,
            t.policies,
            {
                "digest": digest,
                "document": _dumps(document),
                "created_by": actor,
                "created_at": to_time(ws.clock()),
            },
        )
        record_event(
            conn,
            ws,
            "policy.changed",
            actor,
            digest,
            {"previous": before.digest if before else None, "targets": sorted(policy.targets)},
        )
    return CurrentPolicy(policy, digest), True


def policy_of(ws: Workspace) -> CurrentPolicy | None:
    with ws.engine.connect() as conn:
        return current_policy(conn)
