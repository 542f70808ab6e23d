"""The caller's side on the workspace's own machine: the use cases run in this process,
on files streamed into the workspace's blob store and statements signed with the acting
person's own key. The services never see a path of the caller's or a private key."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clearance.client.base import (
    LARGE,
    Attachment,
    Client,
    LocalPlan,
    LogChecked,
    Outcome,
    PackWritten,
    Progress,
    ReleaseDone,
    Submission,
    load_identity,
    regular_file,
)
from clearance.errors import EvidenceError
from clearance.services.workspace import Workspace

if TYPE_CHECKING:
    from clearance.blobs import DigestCache, StoredBlob
    from clearance.core.checkpoint import Checkpoint
    from clearance.core.identity import Person
    from clearance.integrations.mlflow import AliasMoves
    from clearance.services.auth import Principal
    from clearance.services.plans import LoadedPlan
    from clearance.services.releases import Status
    from clearance.signing import SigningKey

__all__ = ["LocalClient", "LocalPlan", "load_identity"]


class LocalClient(Client):
    """One person (or nobody, for unsigned checks) acting on one workspace."""

    def __init__(self, ws: Workspace, key: SigningKey | None = None) -> None:
        super().__init__(ws.settings, key)
        self.ws = ws

    # -- transport ----------------------------------------------------------------------

    def clock(self) -> datetime:
        return self.ws.clock()

    @property
    def digest_cache(self) -> DigestCache | None:
        return self.ws.blobs.cache

    def _person_by_key(self, key_id: str) -> Person | None:
        from clearance.store import people as people_repo

        with self.ws.engine.connect() as conn:
            return people_repo.person_by_key(conn, key_id)

    def _read_plan(self, text: str, filename: str) -> LoadedPlan:
        from clearance.services.plans import read_plan

        return read_plan(self.ws, text, filename)

    def evidence_set(self, local: LocalPlan, candidate: str) -> str:
        from clearance.services.evidence_sets import signing_digest

        return signing_digest(self.ws, local.loaded, candidate)

    def recorded_candidate(self, local: LocalPlan) -> str:
        """The digest of the plan's current candidate, which must have been submitted."""
        from clearance.services.plans import recorded_candidate

        digest = self.candidate(local)
        with self.ws.engine.connect() as conn:
            recorded_candidate(conn, digest, local.path.name)
        return digest

    def principal(self, action: str, *, required: bool = False) -> Principal:
        """Authenticate for `action` with a signed request (unsigned when there is no key
        and the action allows it)."""
        from clearance.services.auth import UNSIGNED, authenticate

        if self.key is None:
            if required:
                self.me  # noqa: B018 - raises the "needs a signed identity" error
            return UNSIGNED
        request = self.signed_request(action)
        with self.ws.engine.connect() as conn:
            return authenticate(conn, request, action, self.ws.clock())

    # -- files ----------------------------------------------------------------------------

    def store_named_files(
        self, local: LocalPlan, progress: Progress | None = None
    ) -> dict[tuple[str, str], StoredBlob]:
        """Store every file the plan names that exists (missing ones are left to the
        evaluators): large files one by one with progress, small ones in one batch."""
        wanted, stats = self.named_files_stats(local)
        small: list[Path] = []
        stored: dict[Path, StoredBlob] = {}
        for path, uses in wanted.items():
            if str(path) not in stats:  # a document read from a registry
                stats[str(path)] = os.stat(path)
            if stats[str(path)].st_size >= LARGE:
                stored[path] = self.store_file(path, uses[0][0], progress)
            else:
                small.append(path)
        if small:
            try:
                # Small blobs come back with their bytes: the check stores them in the
                # transaction of their records.
                blobs = self.ws.blobs.stage_files(small, stats)
            except EvidenceError as exc:
                raise EvidenceError(f"storing the plan's evidence: {exc}") from None
            stored.update(zip(small, blobs, strict=True))
        return {
            use: stored[path] for path, uses in wanted.items() if path in stored for use in uses
        }

    def store_file(self, path: Path, criterion_id: str, progress: Progress | None) -> StoredBlob:
        """Stream one file into the blob store; clear errors for what cannot be read."""
        size = regular_file(path, criterion_id)
        callback = (lambda done: progress(path, done, size)) if progress else None
        try:
            if self.ws.blobs.is_small(size):
                [blob] = self.ws.blobs.stage_files([path])  # stored with its record
                return blob
            return self.ws.blobs.put_file(path, progress=callback)
        except EvidenceError as exc:
            raise EvidenceError(f"criterion {criterion_id}: {exc}") from None

    # -- use cases ------------------------------------------------------------------------

    def check(self, local: LocalPlan, progress: Progress | None = None) -> Outcome:
        from clearance.services.gate import check as run_check

        digests = self.digests(local)
        stored = self.store_named_files(local, progress)
        checked = run_check(self.ws, self.principal("check"), local.loaded, digests, stored)
        return Outcome(checked.evaluation, checked.submitted.candidate.digest)

    def submit(self, local: LocalPlan, message: str, parent: str | None = None) -> Submission:
        from clearance.services.plans import submit_plan

        principal = self.principal("plan.submit", required=True)
        digests = self.digests(local)
        sub = submit_plan(self.ws, principal, local.loaded, digests, message, parent)
        return Submission(sub.revision.digest, sub.candidate.digest, sub.new_revision)

    def add_evidence(
        self,
        local: LocalPlan,
        criterion: str,
        path: Path,
        role: str | None,
        source: str | None,
        progress: Progress | None = None,
    ) -> Attachment:
        from clearance.services.evidence import add_evidence, criterion_of

        criterion_of(local.loaded, criterion)
        digests = self.digests(local)
        blob = self.store_file(path, criterion, progress)
        attestation = self.attestation(local, criterion, path.name, blob, role) if role else None
        done = add_evidence(
            self.ws,
            None if attestation is not None else self.principal("evidence.add"),
            local.loaded,
            digests,
            criterion,
            path.name,
            blob,
            source=source,
            attestation=attestation,
        )
        return Attachment(done.name, done.digest, done.size, done.new)

    def sign_off(self, local: LocalPlan, role: str, decision: str, comment: str) -> str:
        from clearance.services.approvals import sign

        recorded = sign(self.ws, self.approval(local, role, decision, comment))
        return str(recorded.approval.candidate)

    def waive(
        self, local: LocalPlan, criterion: str, role: str, justification: str, until: datetime
    ) -> str:
        from clearance.services.approvals import waive

        candidate = self.recorded_candidate(local)
        waive(self.ws, self.waiver(local, criterion, role, justification, until))
        return candidate

    def revoke_waiver(self, local: LocalPlan, criterion: str, reason: str) -> str:
        from clearance.services.approvals import revoke_waiver, waivers_of

        candidate = self.recorded_candidate(local)
        standing = _standing(waivers_of(self.ws, candidate, criterion), criterion, candidate)
        revoke_waiver(self.ws, self.revocation(local, standing.envelope, criterion, reason))
        person: str = standing.person
        return person

    def accept_finding(
        self,
        local: LocalPlan,
        criterion: str,
        finding: tuple[str, str, str],
        role: str,
        justification: str,
        until: datetime,
    ) -> Any:
        from clearance.services.findings import accept_finding

        envelope = self.acceptance(local, criterion, finding, role, justification, until)
        return accept_finding(self.ws, envelope)

    def acknowledge(self, local: LocalPlan, party: str, comment: str) -> Any:
        from clearance.services.findings import acknowledge

        return acknowledge(self.ws, self.acknowledgement(local, party, comment))

    def findings(self, local: LocalPlan, criterion: str) -> list[Any]:
        from clearance.services.findings import findings_of

        return list(findings_of(self.ws, local.loaded, self.recorded_candidate(local), criterion))

    def release(self, local: LocalPlan) -> ReleaseDone:
        from clearance.services.releases import release

        digests = self.digests(local)
        stored = self.store_named_files(local)
        principal = self.principal("release", required=True)
        moves = self.alias_moves(local)
        try:
            done = release(self.ws, principal, local.loaded, digests, stored, moves)
        except BaseException as exc:
            # The release was not recorded: aliases already moved go back where they were.
            left = moves.undo() if moves is not None else []
            if left:
                raise EvidenceError(
                    f"{exc}; the release was not recorded, and these registry aliases could "
                    f"not be put back: {'; '.join(left)}"
                ) from exc
            raise
        candidate = done.checked.submitted.candidate
        deployed = [c.as_json() for c in candidate.components if c.deploy]
        moved = [m.as_json() for m in done.moved]
        return ReleaseDone(done.release_id, done.already, candidate.digest, deployed, moved)

    def alias_moves(self, local: LocalPlan) -> AliasMoves | None:
        """The registry alias mover for a plan that moves aliases on release, else None."""
        from clearance.integrations.mlflow import AliasMoves

        sources = {
            c.name: c.source
            for c in local.loaded.plan.components
            if c.mlflow_alias is not None and c.source is not None
        }
        return AliasMoves(self.mlflow(), sources) if sources else None

    def export(self, local: LocalPlan, out: Path) -> PackWritten:
        from clearance.services.packs import export

        done = export(self.ws, self.principal("pack.export"), self.candidate(local), out)
        return PackWritten(done.path, done.files, done.candidate)

    def status(self) -> Status:
        from clearance.services.releases import status

        return status(self.ws)

    def log_checkpoint(self) -> Checkpoint:
        from clearance.services.log import latest

        return latest(self.ws)

    def log_verify(self, since: Checkpoint | None, *, incremental: bool = False) -> LogChecked:
        from clearance.services.log import verify_log

        report = verify_log(self.ws, since, incremental=incremental)
        return LogChecked(report.events, report.checkpoints, list(report.failures))

    def log_prove(self, seq: int) -> dict[str, Any]:
        from clearance.services.log import prove

        return prove(self.ws, seq).as_json()

    def log_consistency(self, old: int, new: int | None) -> dict[str, Any]:
        from clearance.services.log import consistency

        return consistency(self.ws, old, new)


def _standing(waivers: list[Any], criterion: str, candidate: str) -> Any:
    from clearance.errors import NotFoundError

    if not waivers:
        raise NotFoundError(f"no waiver of {criterion} on candidate {candidate[7:19]}")
    return waivers[-1]
