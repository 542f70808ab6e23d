"""Plans: read and validate a plan file, submit revisions, resolve candidates, history, diff."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clearance.core.diff import Change, diff_plans
from clearance.core.digest import candidate_digest, revision_digest
from clearance.core.loader import parse_plan
from clearance.core.plan import Plan
from clearance.core.policy import Policy, merge_policy, policy_criteria_ids, yaml_positions
from clearance.errors import EvidenceError, NotFoundError, PlanError, Problem, UsageError
from clearance.services.workspace import Workspace, record_event
from clearance.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.store.records import CandidateRecord, ComponentPin, RevisionRecord


@dataclass(frozen=True)
class LoadedPlan:
    """A validated plan with the file it came from and its revision digest.

    `plan` has the organisation's policy merged in (what is evaluated); `written` is the
    plan as its file says (what the revision and candidate digests cover).
    """

    plan: Plan
    path: Path
    revision: str
    written: Plan | None = None
    policy: Policy | None = None
    policy_digest: str | None = None

    @property
    def folder(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        return (self.folder / relative).resolve()

    @property
    def document(self) -> dict[str, Any]:
        return (self.written or self.plan).document()

    @property
    def policy_ids(self) -> set[str]:
        return policy_criteria_ids(self.policy, self.plan.release.target)


def load_plan(path: Path, settings: Settings, ws: Workspace | None = None) -> LoadedPlan:
    """Read, parse and validate a plan file; PlanError lists every problem with its position.

    The workspace's policy, if any, is merged in; pass the command's `ws` to reuse its
    database connection.
    """
    name = str(path)
    try:
        size = path.stat().st_size
        if size > settings.max_plan_bytes:
            raise PlanError(
                [
                    Problem(
                        name,
                        None,
                        None,
                        "",
                        f"{size:,} bytes is over the {settings.max_plan_bytes:,}-byte limit for "
                        "a plan; keep large data in evidence files the plan names",
                    )
                ]
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{name}: no such plan file") from None
    except IsADirectoryError:
        raise UsageError(f"{name}: is a folder; give the plan's YAML file") from None
    except PermissionError:
        raise UsageError(f"{name}: not readable (permission denied)") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PlanError(
            [Problem(name, line, None, "", "not UTF-8 text; save the plan as UTF-8")]
        ) from None
    plan = parse_plan(text, name)
    loaded = LoadedPlan(plan=plan, path=path.absolute(), revision=revision_digest(plan.document()))
    if ws is not None:
        return with_policy(loaded, text, name, ws)
    own = Workspace(settings)
    try:
        return with_policy(loaded, text, name, own)
    finally:
        own.close()


def with_policy(loaded: LoadedPlan, text: str, name: str, ws: Workspace) -> LoadedPlan:
    """Merge the workspace's current policy, if there is a workspace with one."""
    if ws.settings.database_url is None and not ws.exists:
        return loaded
    from clearance.services.policy import policy_of

    current = policy_of(ws)
    if current is None:
        return loaded
    merged = merge_policy(
        loaded.plan,
        current.policy,
        current.digest,
        filename=name,
        positions=yaml_positions(text, name),
    )
    return replace(
        loaded,
        plan=merged,
        written=loaded.plan,
        policy=current.policy,
        policy_digest=current.digest,
    )


# -- revisions and candidates ---------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    revision: RevisionRecord
    candidate: CandidateRecord
    new_revision: bool
    new_candidate: bool


def artifact_digest(ws: Workspace, path: Path) -> str:
    """Digest of a (possibly huge) artifact, referenced rather than copied; cached by stat."""
    import os

    from clearance.blobs import file_digest

    cache = ws.blobs.cache
    stat = os.stat(path)
    cached = cache.get(path, stat) if cache is not None else None
    if cached is not None:
        return cached
    digest = file_digest(path)
    if cache is not None:
        cache.put(path, stat, digest)
    return digest


def component_pins(ws: Workspace, loaded: LoadedPlan) -> tuple[ComponentPin, ...]:
    """Each component with its digest: as written, or computed from the artifact file."""
    from clearance.store.records import ComponentPin

    pins = []
    for comp in loaded.plan.components:
        digest = comp.digest
        if comp.artifact is not None:
            artifact = loaded.resolve(comp.artifact)
            try:
                computed = artifact_digest(ws, artifact)
            except FileNotFoundError:
                raise EvidenceError(
                    f"component {comp.name}: artifact {comp.artifact} not found (looked in "
                    f"{artifact.parent}); build it first or give its digest instead"
                ) from None
            if digest is not None and digest != computed:
                raise EvidenceError(
                    f"component {comp.name}: {comp.artifact} has digest {computed}, but the "
                    f"plan says {digest}; update the plan or rebuild the artifact"
                )
            digest = computed
        assert digest is not None  # the model requires a digest or an artifact
        pins.append(
            ComponentPin(
                name=comp.name,
                kind=comp.kind,
                version=comp.version,
                digest=digest,
                deploy=comp.deploy,
            )
        )
    return tuple(pins)


def candidate_of(ws: Workspace, loaded: LoadedPlan) -> str:
    """The digest of the plan's current candidate, computed without recording anything."""
    pins = component_pins(ws, loaded)
    return candidate_digest(loaded.document, {p.name: p.digest for p in pins})


def submit(
    conn: Connection, ws: Workspace, loaded: LoadedPlan, actor: str, message: str | None = None
) -> Submitted:
    """Record the plan's revision and candidate if they are new (idempotent)."""
    from clearance.store import repository as repo
    from clearance.store.records import CandidateRecord, RevisionRecord

    plan, now = loaded.plan, ws.clock()
    if repo.ensure_system(conn, plan.system.id, plan.system.name, plan.system.owner, now):
        record_event(
            conn,
            ws,
            "system.registered",
            actor,
            plan.system.id,
            {"name": plan.system.name, "owner": plan.system.owner},
            plan.system.id,
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
            filename=loaded.path.name,
            document=loaded.document,
            created_at=now,
        )
        repo.insert_revision(conn, revision)
        record_event(
            conn,
            ws,
            "plan.revision_submitted",
            actor,
            revision.digest,
            {"version": revision.version, "message": revision.message, "owner": plan.owner},
            plan.system.id,
        )
        if previous_owner is not None and previous_owner != plan.owner:
            record_event(
                conn,
                ws,
                "plan.owner_changed",
                actor,
                plan.system.id,
                {"from": previous_owner, "to": plan.owner, "revision": revision.digest},
                plan.system.id,
            )
    pins = component_pins(ws, loaded)
    digest = candidate_digest(loaded.document, {p.name: p.digest for p in pins})
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
        repo.insert_candidate(conn, candidate)
        record_event(
            conn,
            ws,
            "candidate.created",
            actor,
            digest,
            {"revision": revision.digest, "components": {p.name: p.digest for p in pins}},
            plan.system.id,
        )
    return Submitted(revision, candidate, new_revision, new_candidate)


def _owner(document: dict[str, Any]) -> str:
    owner: str = (document.get("release") or {}).get("owner") or document["system"]["owner"]
    return owner


def submit_plan(ws: Workspace, loaded: LoadedPlan, actor: str, message: str) -> Submitted:
    if not message.strip():
        raise UsageError("a revision needs a message saying what changed (-m MESSAGE)")
    with ws.transaction() as conn:
        return submit(conn, ws, loaded, actor, message.strip())


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
