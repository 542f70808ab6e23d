"""The organisation's policy and its target environments. Each policy version is recorded
(insert-only, content-addressed); the latest applies to every plan. Targets a plan may
release to are the ones an administrator declared. Both are administrators' statements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clearance.core.identity import Permission
from clearance.core.policy import Policy, parse_policy, policy_digest
from clearance.errors import IntegrityError, UsageError
from clearance.services.admin import accept_admin, args, store
from clearance.services.auth import Principal
from clearance.services.workspace import Workspace
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.store.people import Target


@dataclass(frozen=True)
class CurrentPolicy:
    policy: Policy
    digest: str


def current_policy(conn: Connection) -> CurrentPolicy | None:
    from clearance.store import people as repo

    row = repo.latest_policy(conn)
    if row is None:
        return None
    return CurrentPolicy(Policy.model_validate(row.document), row.digest)


def policy_document(text: str, filename: str) -> dict[str, Any]:
    """Validate policy text (PlanError with positions) into the document a statement signs."""
    policy = parse_policy(text, filename)
    document: dict[str, Any] = policy.model_dump(mode="json", by_alias=True, exclude_none=True)
    return document


@retrying()
def set_policy(
    ws: Workspace, envelope: dict[str, Any], caller: Principal | None = None
) -> tuple[CurrentPolicy, bool]:
    """Record the policy an administrator signed; (policy, whether it changed anything)."""
    from clearance.store import people as repo

    with ws.transaction() as uow:
        signed = accept_admin(uow, envelope, "policy.set", Permission.SET_POLICY, caller)
        document = args(signed).get("policy")
        try:
            policy = Policy.model_validate(document)
        except ValueError as exc:
            raise UsageError(f"the signed policy is not a valid policy: {exc}") from None
        digest = policy_digest(policy)
        if args(signed).get("digest") not in (None, digest):
            raise IntegrityError("the signed policy digest does not match the policy it carries")
        before = current_policy(uow.conn)
        if before is not None and before.digest == digest:
            return before, False
        statement = store(uow, signed, digest)
        normal = policy.model_dump(mode="json", by_alias=True, exclude_none=True)
        inserted = repo.insert_policy(uow, digest, normal, signed.principal.name, uow.clock())
        uow.append(
            "policy.changed",
            actor=signed.principal.name,
            subject=digest,
            payload={
                "previous": before.digest if before else None,
                "targets": sorted(policy.targets),
            },
            records=[inserted, statement],
        )
    return CurrentPolicy(policy, digest), True


def policy_of(ws: Workspace) -> CurrentPolicy | None:
    with ws.engine.connect() as conn:
        return current_policy(conn)


@retrying()
def declare_target(
    ws: Workspace, envelope: dict[str, Any], caller: Principal | None = None
) -> tuple[str, bool]:
    """Declare a target environment plans may release to (administrators only)."""
    import re

    from clearance.store import people as repo

    with ws.transaction() as uow:
        signed = accept_admin(uow, envelope, "target.declare", Permission.DECLARE_TARGETS, caller)
        name = str(args(signed).get("name", "")).strip()
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", name):
            raise UsageError(
                f'"{name}" is not an environment name; use lowercase letters, digits, '
                "'.', '_' and '-', e.g. production"
            )
        if name in repo.targets(uow.conn):
            return name, False
        statement = store(uow, signed, name)
        description = str(args(signed).get("description") or "")
        inserted = repo.insert_target(uow, name, description, signed.principal.name, uow.clock())
        uow.append(
            "target.declared",
            actor=signed.principal.name,
            subject=name,
            payload={"description": description},
            records=[inserted, statement],
        )
    return name, True


def targets(ws: Workspace) -> dict[str, Target]:
    from clearance.store import people as repo

    with ws.engine.connect() as conn:
        return repo.targets(conn)
