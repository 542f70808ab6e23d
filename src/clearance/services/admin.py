"""Administrators' and account statements: every change to people, roles, keys, policy and
target environments is a statement signed by the person making it, verified, stored and
logged with the records it changed, so an auditor sees who granted what and when."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clearance.core.identity import Permission, Scope
from clearance.errors import ForbiddenError
from clearance.services.auth import Principal, Signed, bind, require, verify_fresh

if TYPE_CHECKING:
    from clearance.store.uow import Inserted, UnitOfWork


def accept(
    uow: UnitOfWork,
    envelope: dict[str, Any],
    action: str,
    caller: Principal | None = None,
    scope: Scope = Scope.ADMIN,
) -> Signed:
    """The verified, fresh statement for `action` (ForbiddenError otherwise); an API caller
    must have signed it themself, with a token that allows `scope`."""
    from clearance.signing.statements import ADMIN_V1

    signed = verify_fresh(uow.conn, envelope, ADMIN_V1, uow.clock())
    bind(caller, signed, scope)
    if signed.predicate.get("action") != action:
        raise ForbiddenError(
            f"the signed statement is for {signed.predicate.get('action')!r}, not {action!r}"
        )
    if not isinstance(signed.predicate.get("args"), dict):
        raise ForbiddenError("the signed statement carries no arguments")
    return signed


def accept_admin(
    uow: UnitOfWork,
    envelope: dict[str, Any],
    action: str,
    permission: Permission,
    caller: Principal | None = None,
) -> Signed:
    """As `accept`, and the signer must hold `permission`."""
    from clearance.store import people as people_repo

    signed = accept(uow, envelope, action, caller)
    require(signed.principal, permission, people_repo.administrators(uow.conn))
    return signed


def store(uow: UnitOfWork, signed: Signed, subject: str) -> Inserted:
    from clearance.store import people as people_repo

    return people_repo.insert_admin_statement(
        uow,
        str(signed.predicate["action"]),
        signed.principal.name,
        subject,
        signed.envelope,
        uow.clock(),
    )


def args(signed: Signed) -> dict[str, Any]:
    value: dict[str, Any] = signed.predicate["args"]
    return value
