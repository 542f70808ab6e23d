"""Registry aliases that follow releases: a GO release of a component that names
`mlflow_alias` points that alias of its registered model at the version released, and
records that it did; a rollback is a release of the earlier candidate, so it points the
alias back.

Order, so that a release is never half-recorded: the release is decided and inserted in its
transaction, then each alias is moved (by the caller's `AliasMover`, which talks to the
registry) and its move appended as an event in the same transaction, which then commits.
A failed move raises, and the transaction, release included, is rolled back; the caller
puts back the aliases it had already moved (`LocalClient.release`). A failed commit after
the moves is handled the same way by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from clearance.errors import UsageError
from clearance.services.auth import Principal
from clearance.services.plans import LoadedPlan

if TYPE_CHECKING:
    from clearance.store.uow import Inserted, UnitOfWork

EVENT = "registry.alias_moved"


@dataclass(frozen=True)
class AliasMoved:
    component: str
    model: str
    alias: str
    version: str
    #: the version the alias pointed at before (None: it was not set)
    previous: str | None

    def as_json(self) -> dict[str, str | None]:
        return {
            "component": self.component,
            "model": self.model,
            "alias": self.alias,
            "version": self.version,
            "previous": self.previous,
        }


class AliasMover(Protocol):
    """The caller's side of the registry: which registered model version each component's
    `source` resolved to in this command, and a way to move an alias there."""

    #: component name -> (registered model name, version)
    resolved: Mapping[str, tuple[str, str]]

    def move(self, model: str, alias: str, version: str) -> str | None:
        """Point the alias at `version`; return the version it pointed at before."""
        ...


def aliases_to_move(loaded: LoadedPlan) -> list[tuple[str, str]]:
    """(component, alias) of the deployed components whose alias a release moves."""
    return [
        (c.name, c.mlflow_alias)
        for c in loaded.plan.components
        if c.deploy and c.mlflow_alias is not None
    ]


def require_mover(loaded: LoadedPlan, mover: AliasMover | None) -> AliasMover:
    """The mover, when the plan moves aliases; UsageError when it does and there is none
    (a client talking to a server: the server cannot reach the caller's registry)."""
    wanted = aliases_to_move(loaded)
    if wanted and mover is None:
        raise UsageError(
            f"component {wanted[0][0]} moves registry alias {wanted[0][1]} on release, "
            "which a release through a Clearance server cannot do yet; release with the "
            "local workspace, which reaches MLflow"
        )
    return mover  # type: ignore[return-value]  # None only when nothing is to move


def move_aliases(
    uow: UnitOfWork,
    principal: Principal,
    loaded: LoadedPlan,
    candidate: str,
    release: Inserted,
    mover: AliasMover | None,
) -> tuple[AliasMoved, ...]:
    """Move every alias the plan asks for to the released version, each recorded as an
    event in the release's transaction."""
    wanted = aliases_to_move(loaded)
    if not wanted:
        return ()
    mover = require_mover(loaded, mover)
    moved = []
    for component, alias in wanted:
        found = mover.resolved.get(component)
        if found is None:
            raise UsageError(
                f"component {component}: its registry version was not resolved in this "
                f"command, so alias {alias} cannot be moved; give it a source "
                "(mlflow://models/NAME/VERSION)"
            )
        model, version = found
        previous = mover.move(model, alias, version)
        done = AliasMoved(component, model, alias, version, previous)
        uow.append(
            EVENT,
            actor=principal.name,
            subject=candidate,
            payload={"release_id": release.id, **done.as_json()},
            system_id=loaded.plan.system.id,
            records=[release],
        )
        moved.append(done)
    return tuple(moved)
