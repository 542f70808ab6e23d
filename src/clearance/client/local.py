"""The caller's side on this machine: read plan files, hash artifacts, stream evidence into
the workspace's blob store, sign statements with the acting person's own key, then call the
use cases with documents, stored blobs and signed statements.

The services never see a path of the caller's or a private key; a remote client (HTTP)
will offer the same methods over another transport.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clearance.errors import EvidenceError, ForbiddenError
from clearance.services.workspace import Workspace

if TYPE_CHECKING:
    from datetime import datetime

    from clearance.blobs import StoredBlob
    from clearance.core.identity import Person
    from clearance.services.auth import Principal
    from clearance.services.plans import LoadedPlan
    from clearance.signing import SigningKey

Progress = Callable[[Path, int, int], None]
#: files at least this large are stored one by one, with progress reported
LARGE = 8 << 20


@dataclass(frozen=True)
class LocalPlan:
    """A validated plan and the file it was read from (whose folder its paths are in)."""

    loaded: LoadedPlan
    path: Path

    @property
    def folder(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        return (self.folder / relative).resolve()


class LocalClient:
    """One person (or nobody, for unsigned checks) acting on one workspace."""

    def __init__(self, ws: Workspace, key: SigningKey | None = None) -> None:
        self.ws = ws
        self.key = key
        self._me: Person | None = None
        self._digests: dict[tuple[Path, str], dict[str, str]] = {}

    # -- who acts -----------------------------------------------------------------------

    @property
    def me(self) -> Person:
        """The registered person whose key this client signs with."""
        from clearance.store import people as people_repo

        if self.key is None:
            raise ForbiddenError(
                "this needs a signed identity: pass --identity KEY (or set CLEARANCE_IDENTITY) "
                "with your private key"
            )
        if self._me is None:
            with self.ws.engine.connect() as conn:
                self._me = people_repo.person_by_key(conn, self.key.key_id)
            if self._me is None:
                raise ForbiddenError(
                    f"the key {self.key.key_id[:19]}… is not registered to anyone here; an "
                    "administrator registers it with `clearance people add NAME --public-key PUB`"
                )
        return self._me

    def sign(self, predicate_type: str, subject: tuple[str, str], predicate: dict[str, Any]) -> Any:
        """A DSSE envelope of a Statement v1 by the acting person, stamped with the time."""
        from clearance.signing.statements import sign_statement, statement
        from clearance.store.records import to_time

        me = self.me
        assert self.key is not None
        body = {**predicate, "person": me.name, "time": to_time(self.ws.clock())}
        return sign_statement(statement([subject], predicate_type, body), self.key)

    def principal(self, action: str, *, required: bool = False) -> Principal:
        """Authenticate for `action` with a signed request (unsigned when there is no key
        and the action allows it)."""
        from clearance.core.digest import json_digest
        from clearance.services.auth import UNSIGNED, authenticate
        from clearance.signing.statements import REQUEST_V1

        if self.key is None:
            if required:
                self.me  # noqa: B018 - raises the "needs a signed identity" error
            return UNSIGNED
        nonce = secrets.token_hex(16)
        request = self.sign(
            REQUEST_V1,
            ("request", json_digest({"action": action, "nonce": nonce})),
            {"action": action, "nonce": nonce},
        )
        with self.ws.engine.connect() as conn:
            return authenticate(conn, request, action, self.ws.clock())

    # -- statements about a plan's candidate ----------------------------------------------

    def about(
        self, local: LocalPlan, predicate_type: str, predicate: dict[str, Any], candidate: str
    ) -> Any:
        """A statement about `candidate` of the plan, naming its system and version."""
        plan = local.loaded.plan
        release = {"system": plan.system.id, "version": plan.release.version}
        return self.sign(predicate_type, ("candidate", candidate), {**release, **predicate})

    def approval(self, local: LocalPlan, role: str, decision: str, comment: str) -> Any:
        """A signed approval, rejection or withdrawal of the plan's recorded candidate, bound
        to its evidence as the gate counts it now."""
        from clearance.signing.statements import APPROVAL_V1

        candidate = self.recorded_candidate(local)
        predicate = {
            "role": role,
            "decision": decision,
            "comment": comment,
            "revision": local.loaded.revision,
            "evidence": self.evidence_set(local, candidate),
        }
        return self.about(local, APPROVAL_V1, predicate, candidate)

    def waiver(
        self, local: LocalPlan, criterion: str, role: str, justification: str, until: datetime
    ) -> Any:
        from clearance.signing.statements import WAIVER_V1
        from clearance.store.records import to_time

        predicate = {
            "criterion": criterion,
            "role": role,
            "justification": justification,
            "expires": to_time(until),
            "policy": local.loaded.policy_digest,
        }
        return self.about(local, WAIVER_V1, predicate, self.recorded_candidate(local))

    def revocation(
        self, local: LocalPlan, waiver: dict[str, Any], criterion: str, reason: str
    ) -> Any:
        from clearance.signing.statements import WAIVER_REVOCATION_V1, envelope_digest

        predicate = {"waiver": envelope_digest(waiver), "criterion": criterion, "reason": reason}
        return self.about(local, WAIVER_REVOCATION_V1, predicate, self.recorded_candidate(local))

    def attestation(
        self, local: LocalPlan, criterion: str, name: str, blob: StoredBlob, role: str
    ) -> Any:
        """Your attestation, in `role`, of one stored file for the plan's current candidate."""
        from clearance.signing.statements import EVIDENCE_ATTESTATION_V1

        predicate = {"criterion": criterion, "name": name, "digest": blob.digest, "role": role}
        return self.about(local, EVIDENCE_ATTESTATION_V1, predicate, self.candidate(local))

    def admin_statement(self, action: str, args: dict[str, Any]) -> Any:
        from clearance.core.digest import json_digest
        from clearance.signing.statements import ADMIN_V1

        subject = ("admin", json_digest({"action": action, "args": args}))
        return self.sign(ADMIN_V1, subject, {"action": action, "args": args})

    # -- plans --------------------------------------------------------------------------

    def plan(self, path: Path) -> LocalPlan:
        """Read and validate a plan file: its size, its paths (inside its folder), its target
        and the policy."""
        from clearance.client.paths import check_plan_paths, declared_roots, read_document
        from clearance.errors import PlanError, Problem
        from clearance.services.plans import read_plan

        raw = read_document(path, self.ws.settings.max_plan_bytes, "plan file")
        name = str(path)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise PlanError(
                [Problem(name, line, None, "", "not UTF-8 text; save the plan as UTF-8")]
            ) from None
        loaded = read_plan(self.ws, text, name)
        check_plan_paths(
            loaded.written or loaded.plan,
            text,
            path,
            roots=declared_roots(self.ws.settings.workspace),
            workspace_dir=self.ws.settings.workspace,
        )
        return LocalPlan(loaded, path.absolute())

    def digests(self, local: LocalPlan) -> dict[str, str]:
        """Each artifact's digest (huge artifacts are referenced, never copied), cached by
        (device, inode, size, mtime) so unchanged files are not hashed again."""
        from clearance.blobs import file_digest

        memo = (local.path, local.loaded.revision)  # one command hashes each artifact once
        if memo in self._digests:
            return self._digests[memo]
        cache = self.ws.blobs.cache
        found: dict[str, str] = {}
        for comp in local.loaded.plan.components:
            if comp.artifact is None:
                continue
            path = local.resolve(comp.artifact)
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                raise EvidenceError(
                    f"component {comp.name}: artifact {comp.artifact} not found (looked in "
                    f"{path.parent}); build it first or give its digest instead"
                ) from None
            digest = cache.get(path, stat) if cache is not None else None
            if digest is None:
                digest = file_digest(path)
                if cache is not None:
                    cache.put(path, stat, digest)
            found[comp.name] = digest
        self._digests[memo] = found
        return found

    def candidate(self, local: LocalPlan) -> str:
        from clearance.services.plans import candidate_of

        return candidate_of(local.loaded, self.digests(local))

    def store_named_files(
        self, local: LocalPlan, progress: Progress | None = None
    ) -> dict[tuple[str, str], StoredBlob]:
        """Store every file the plan names that exists (missing ones are left to the
        evaluators): large files one by one with progress, small ones in one batch."""
        wanted: dict[Path, list[tuple[str, str]]] = {}
        plan = local.loaded.plan
        for criterion in plan.criteria:
            for named in criterion.named_files(plan):
                wanted.setdefault(local.resolve(named.path), []).append((criterion.id, named.path))
        small: list[Path] = []
        stored: dict[Path, StoredBlob] = {}
        for path, uses in wanted.items():
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise EvidenceError(f"criterion {uses[0][0]}: {path}: {exc.strerror}") from None
            if not path.is_file():
                raise EvidenceError(f"criterion {uses[0][0]}: {path}: not a regular file")
            if size >= LARGE:
                stored[path] = self.store_file(path, uses[0][0], progress)
            else:
                small.append(path)
        if small:
            try:
                blobs = self.ws.blobs.put_files(small)
            except EvidenceError as exc:
                raise EvidenceError(f"storing the plan's evidence: {exc}") from None
            stored.update(zip(small, blobs, strict=True))
        return {
            use: stored[path] for path, uses in wanted.items() if path in stored for use in uses
        }

    def store_file(self, path: Path, criterion_id: str, progress: Progress | None) -> StoredBlob:
        """Stream one file into the blob store; clear errors for what cannot be read."""
        if not path.exists():
            raise EvidenceError(f"criterion {criterion_id}: {path}: no such file")
        if not path.is_file():
            raise EvidenceError(f"criterion {criterion_id}: {path}: not a regular file")
        size = path.stat().st_size
        callback = (lambda done: progress(path, done, size)) if progress else None
        try:
            return self.ws.blobs.put_file(path, progress=callback)
        except EvidenceError as exc:
            raise EvidenceError(f"criterion {criterion_id}: {exc}") from None

    def evidence_set(self, local: LocalPlan, candidate: str) -> str:
        from clearance.services.evidence import evidence_set

        return evidence_set(self.ws, local.loaded, candidate)

    def recorded_candidate(self, local: LocalPlan) -> str:
        """The digest of the plan's current candidate, which must have been submitted."""
        from clearance.services.plans import recorded_candidate

        digest = self.candidate(local)
        with self.ws.engine.connect() as conn:
            recorded_candidate(conn, digest, local.path.name)
        return digest


def load_identity(path: Path | None) -> SigningKey | None:
    from clearance.signing import SigningKey

    return SigningKey.load(path) if path is not None else None
