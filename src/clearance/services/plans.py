"""Plans: validate plan documents, submit revisions, resolve candidates, history, diff.

Use cases take the plan as text with the name the caller gives it, and component digests the
caller computed; reading files and hashing artifacts is the client's work (`client/`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from clearance.core.diff import Change, diff_plans
from clearance.core.digest import candidate_digest_of, canonical_json, sha256_digest
from clearance.core.loader import parse_plan
from clearance.core.plan import Plan
from clearance.core.policy import Policy, merge_policy, policy_criteria_ids, yaml_positions
from clearance.errors import (
    ConflictError,
    EvidenceError,
    NotFoundError,
    PlanError,
    Problem,
    UsageError,
)
from clearance.services.auth import Principal
from clearance.services.workspace import Workspace
from clearance.store.uow import retrying

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.services.policy import CurrentPolicy
    from clearance.store.records import CandidateRecord, ComponentPin, RevisionRecord
    from clearance.store.uow import UnitOfWork


@dataclass(frozen=True)
class LoadedPlan:
    """A validated plan document with its revision digest.

    `plan` has the organisation's policy merged in (what is evaluated); `written` is the
    plan as its document says (what the revision and candidate digests cover).
    """

    plan: Plan
    filename: str
    revision: str
    written: Plan | None = None
    policy: Policy | None = None
    policy_digest: str | None = None
    #: RFC 8785 JSON of the written plan's document, when it was serialised on reading
    canonical: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.filename.replace("\\", "/").rsplit("/", 1)[-1]

    @property
    def document(self) -> dict[str, Any]:
        return (self.written or self.plan).document()

    @property
    def canonical_document(self) -> bytes:
        """RFC 8785 JSON of `document`, serialised once per plan read."""
        return self.canonical if self.canonical is not None else canonical_json(self.document)

    @property
    def policy_ids(self) -> set[str]:
        return policy_criteria_ids(self.policy, self.plan.release.target)


def _loaded(plan: Plan, filename: str) -> LoadedPlan:
    canonical = canonical_json(plan.document())
    return LoadedPlan(plan, filename, sha256_digest(canonical), canonical=canonical)


def read_plan(ws: Workspace, text: str, filename: str) -> LoadedPlan:
    """Parse and validate a plan document against this workspace: its target must be one an
    administrator declared, and the current policy is merged in. PlanError lists every
    problem with its position."""
    loaded = _loaded(parse_plan(text, filename), filename)
    if ws.settings.database_url is None and not ws.exists:
        return loaded  # validating a plan needs no workspace; recording it does
    with ws.engine.connect() as conn:
        return with_policy(conn, loaded, text)


def read_plan_with(
    text: str,
    filename: str,
    declared: set[str],
    policy: tuple[dict[str, Any], str] | None,
) -> LoadedPlan:
    """As `read_plan`, against targets and a policy (document, digest) given rather than
    read from a database: what a remote client validates before the server does again."""
    from clearance.services.policy import CurrentPolicy

    loaded = _loaded(parse_plan(text, filename), filename)
    current = CurrentPolicy(Policy.model_validate(policy[0]), policy[1]) if policy else None
    return _with_policy(loaded, text, declared, current)


def with_policy(conn: Connection, loaded: LoadedPlan, text: str) -> LoadedPlan:
    """Check the plan's target is declared and merge the workspace's current policy."""
    from clearance.services.policy import current_policy
    from clearance.store import people as people_repo

    declared = set(people_repo.targets(conn))
    return _with_policy(loaded, text, declared, current_policy(conn))


def _with_policy(
    loaded: LoadedPlan, text: str, declared: set[str], current: CurrentPolicy | None
) -> LoadedPlan:
    target = loaded.plan.release.target
    positions = yaml_positions(text, loaded.filename)
    if target not in declared:
        line, column = positions(("release", "target")) or (None, None)
        known = ", ".join(sorted(declared)) or "none yet"
        raise PlanError(
            [
                Problem(
                    loaded.filename,
                    line,
                    column,
                    "release.target",
                    f'"{target}" is not a declared target environment (declared: {known}); '
                    "use one of them, or ask an administrator to run "
                    f"`clearance env declare {target}`",
                )
            ]
        )
    if current is None:
        return loaded
    merged = merge_policy(
        loaded.plan,
        current.policy,
        current.digest,
        filename=loaded.filename,
        positions=positions,
    )
    return replace(
        loaded,
        plan=merged,
        written=loaded.plan,
        policy=current.policy,
        policy_digest=current.digest,
    )


def current(conn: Connection, loaded: LoadedPlan) -> LoadedPlan:
    """The plan as it must be evaluated now: its target still declared and today's policy
    merged in, whatever policy the caller loaded it with."""
    from clearance.services.policy import current_policy
    from clearance.store import people as people_repo

    written = loaded.written or loaded.plan
    if sha256_digest(loaded.canonical_document) != loaded.revision:
        raise UsageError("the plan does not match its revision digest; read it again")
    target = written.release.target
    if target not in people_repo.targets(conn):
        raise PlanError(
            [
                Problem(
                    loaded.filename,
                    None,
                    None,
                    "release.target",
                    f'"{target}" is not a declared target environment; ask an administrator '
                    f"to run `clearance env declare {target}`",
                )
            ]
        )
    policy = current_policy(conn)
    if policy is None:
        return replace(loaded, plan=written, written=None, policy=None, policy_digest=None)
    if policy.digest == loaded.policy_digest:
        return loaded
    merged = merge_policy(written, policy.policy, policy.digest, filename=loaded.filename)
    return replace(
        loaded, plan=merged, written=written, policy=policy.policy, policy_digest=policy.digest
    )


def stored_plan(conn: Connection, candidate: CandidateRecord) -> LoadedPlan:
    """The plan of a recorded candidate, as its revision was written, with today's policy."""
    from clearance.services.policy import current_policy
    from clearance.store import repository as repo

    revision = repo.get_revision(conn, candidate.revision)
    if revision is None:
        raise NotFoundError(f"candidate {candidate.digest}: its plan revision is missing")
    plan = Plan.model_validate(revision.document)
    loaded = LoadedPlan(plan=plan, filename=revision.filename, revision=revision.digest)
    current = current_policy(conn)
    if current is None:
        return loaded
    try:
        merged = merge_policy(plan, current.policy, current.digest, filename=revision.filename)
    except PlanError:
        return loaded  # a policy set later that the plan contradicts: its own criteria stand
    return replace(
        loaded, plan=merged, written=plan, policy=current.policy, policy_digest=current.digest
    )


# -- revisions and candidates ---------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    revision: RevisionRecord
    candidate: CandidateRecord
    new_revision: bool
    new_candidate: bool


def component_pins(loaded: LoadedPlan, digests: Mapping[str, str]) -> tuple[ComponentPin, ...]:
    """Each component with its digest: as the plan writes it, or as the caller computed it
    from the artifact; the two must agree."""
    from clearance.store.records import ComponentPin

    pins = []
    for comp in loaded.plan.components:
        given = digests.get(comp.name)
        if comp.digest is not None and given is not None and given != comp.digest:
            raise EvidenceError(
                f"component {comp.name}: {comp.artifact or 'its artifact'} has digest {given}, "
                f"but the plan says {comp.digest}; update the plan or rebuild the artifact"
            )
        digest = comp.digest or given
        if digest is None:
            raise UsageError(
                f"component {comp.name}: no digest; give its artifact or write its digest"
            )
        pins.append(ComponentPin(comp.name, comp.kind, comp.version, digest, comp.deploy))
    return tuple(pins)


def candidate_of(loaded: LoadedPlan, digests: Mapping[str, str]) -> str:
    """The digest of the plan's candidate with these component digests (nothing recorded)."""
    pins = component_pins(loaded, digests)
    return candidate_digest_of(loaded.canonical_document, {p.name: p.digest for p in pins})


def submit(
    uow: UnitOfWork,
    principal: Principal,
    loaded: LoadedPlan,
    digests: Mapping[str, str],
    message: str | None = None,
) -> Submitted:
    """Record the plan's revision and candidate if they are new (idempotent)."""
    from clearance.store import repository as repo
    from clearance.store.records import CandidateRecord, RevisionRecord

    plan, now, actor, conn = loaded.plan, uow.clock(), principal.name, uow.conn
    system = repo.insert_system(uow, plan.system.id, plan.system.name, plan.system.owner, now)
    if system is not None:
        uow.append(
            "system.registered",
            actor=actor,
            subject=plan.system.id,
            payload={"name": plan.system.name, "owner": plan.system.owner},
            system_id=plan.system.id,
            records=[system],
        )
    revision = repo.get_revision(conn, loaded.revision)
    new_revision = revision is None
    if revision is None:
        earlier = repo.revisions_of(conn, plan.system.id)
        previous_owner = _owner(earlier[-1].document) if earlier else None
        revision = RevisionRecord(
            digest=loaded.revision,
            system_id=plan.system.id,
            version=plan.release.version,
            author=actor,
            message=message or "(checked without a message)",
            filename=loaded.name,
            document=loaded.document,
            created_at=now,
        )
        inserted = repo.insert_revision(uow, revision)
        uow.append(
            "plan.revision_submitted",
            actor=actor,
            subject=revision.digest,
            payload={
                "version": revision.version,
                "message": revision.message,
                "owner": plan.owner,
                "auth": principal.method,
            },
            system_id=plan.system.id,
            records=[inserted],
        )
        if previous_owner is not None and previous_owner != plan.owner:
            uow.append(
                "plan.owner_changed",
                actor=actor,
                subject=plan.system.id,
                payload={"from": previous_owner, "to": plan.owner, "revision": revision.digest},
                system_id=plan.system.id,
            )
    pins = component_pins(loaded, digests)
    digest = candidate_digest_of(loaded.canonical_document, {p.name: p.digest for p in pins})
    candidate = repo.get_candidate(conn, digest)
    new_candidate = candidate is None
    if candidate is None:
        candidate = CandidateRecord(
            digest=digest,
            revision=revision.digest,
            system_id=plan.system.id,
            version=plan.release.version,
            components=pins,
            created_by=actor,
            created_at=now,
        )
        inserted = repo.insert_candidate(uow, candidate)
        uow.append(
            "candidate.created",
            actor=actor,
            subject=digest,
            payload={"revision": revision.digest, "components": {p.name: p.digest for p in pins}},
            system_id=plan.system.id,
            records=[inserted],
        )
    return Submitted(revision, candidate, new_revision, new_candidate)


def _owner(document: dict[str, Any]) -> str:
    owner: str = (document.get("release") or {}).get("owner") or document["system"]["owner"]
    return owner


@retrying()
def submit_plan(
    ws: Workspace,
    principal: Principal,
    loaded: LoadedPlan,
    digests: Mapping[str, str],
    message: str,
    parent: str | None = None,
) -> Submitted:
    """Record a revision with a message; a submitter must be signed (they become an author,
    whom separation of duties keeps from approving). With `parent`, the revision the edit
    started from: if the system's latest revision is another one, someone else's edit came
    first and this one is refused (ConflictError) rather than silently replacing it."""
    from clearance.services.auth import require_signed

    require_signed(principal, "submitting a plan revision")
    may_write(principal, loaded.plan.system.id)
    if not message.strip():
        raise UsageError("a revision needs a message saying what changed (-m MESSAGE)")
    with ws.transaction() as uow:
        if parent is not None:
            _same_parent(uow.conn, loaded, parent)
        return submit(uow, principal, loaded, digests, message.strip())


def _same_parent(conn: Connection, loaded: LoadedPlan, parent: str) -> None:
    from clearance.store import repository as repo

    latest = repo.revisions_of(conn, loaded.plan.system.id)
    if not latest or latest[-1].digest in (parent, loaded.revision):
        return
    now = latest[-1]
    raise ConflictError(
        f"the plan of {loaded.plan.system.id} changed since {parent[:19]}…: the latest revision "
        f"is {now.digest[:19]}… by {now.author} ({now.message!r}); merge that change into "
        "yours and submit again"
    )


def may_write(principal: Principal, system_id: str) -> None:
    """An API caller needs the write scope and a role for the system (else it is unknown)."""
    from clearance.core.identity import Scope
    from clearance.services.auth import require_access, require_scope

    require_access(principal, system_id)
    require_scope(principal, Scope.WRITE)


def recorded_candidate(conn: Connection, digest: str, filename: str) -> CandidateRecord:
    """A candidate that has been submitted; sign-offs and exports need one."""
    from clearance.store import repository as repo

    candidate = repo.get_candidate(conn, digest)
    if candidate is None:
        raise UsageError(
            f"candidate {digest} of {filename} has not been submitted; run "
            "`clearance check` or `clearance plan submit` first, then act on what it shows"
        )
    return candidate


# -- history and diff -----------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    revision: RevisionRecord
    approved: bool
    go: bool
    released: bool


def history(ws: Workspace, system_id: str) -> list[HistoryEntry]:
    """Revisions of a system, oldest first, with whether each was approved, GO, released."""
    from clearance.store import repository as repo

    with ws.engine.connect() as conn:
        revisions = repo.revisions_of(conn, system_id)
        if not revisions:
            known = ", ".join(repo.list_systems(conn)) or "none yet"
            raise NotFoundError(f'no system "{system_id}" in this workspace (systems: {known})')
        entries = []
        for rev in revisions:
            cands = [c.digest for c in repo.candidates_of_revision(conn, rev.digest)]
            approvals = repo.approvals_of(conn, rev.system_id, rev.version)
            entries.append(
                HistoryEntry(
                    revision=rev,
                    approved=any(
                        a.candidate in cands and a.decision == "approve" for a in approvals
                    ),
                    go=any(d.outcome == "GO" for c in cands for d in repo.decisions_of(conn, c)),
                    released=any(repo.releases_of_candidate(conn, c) for c in cands),
                )
            )
        return entries


def find_revision(ws: Workspace, ref: str) -> RevisionRecord:
    """A revision by digest or unambiguous digest prefix (at least 6 hex digits)."""
    from clearance.store import repository as repo

    bare = ref.removeprefix("sha256:")
    if len(bare) < 6 or any(c not in "0123456789abcdef" for c in bare):
        raise UsageError(
            f'"{ref}" is not a revision digest; give at least 6 hex digits as shown by '
            "`clearance plan history SYSTEM`"
        )
    with ws.engine.connect() as conn:
        found = repo.find_revisions(conn, bare)
    if not found:
        raise NotFoundError(f"no plan revision {ref}; see `clearance plan history SYSTEM`")
    if len(found) > 1:
        raise UsageError(f"{ref} matches {len(found)} revisions; give more digits")
    return found[0]


def diff(
    ws: Workspace, before: str, after: str
) -> tuple[RevisionRecord, RevisionRecord, list[Change]]:
    old, new = find_revision(ws, before), find_revision(ws, after)
    return old, new, diff_plans(old.document, new.document)
