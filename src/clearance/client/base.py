"""What every client does on the caller's machine, whatever it talks to: read and check plan
files, hash artifacts, find the files a plan names, and build the statements the acting
person signs with their own key. `LocalClient` calls the use cases in this process;
`RemoteClient` calls the same use cases on a Clearance server over HTTP.

Both offer the same methods for the commands (`check`, `submit`, `add_evidence`,
`sign_off`, `waive`, `revoke_waiver`, `release`, `export`, `status`, and the log's), and the
commands never know which one they hold.
"""

from __future__ import annotations

import os
import secrets
import stat
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clearance.errors import EvidenceError, ForbiddenError, PlanError, Problem

if TYPE_CHECKING:
    from clearance.blobs import DigestCache, StoredBlob
    from clearance.client.paths import Resolved
    from clearance.core.checkpoint import Checkpoint
    from clearance.core.decision import Evaluation
    from clearance.core.identity import Person
    from clearance.integrations.mlflow import MlflowReader
    from clearance.services.plans import LoadedPlan
    from clearance.services.releases import Status
    from clearance.settings import Settings
    from clearance.signing import SigningKey

Progress = Callable[[Path, int, int], None]
#: files at least this large are stored one by one, with progress reported
LARGE = 8 << 20


@dataclass(frozen=True)
class LocalPlan:
    """A validated plan and the file it was read from (whose folder its paths are in);
    `found` is where its files resolved when it was read, with their stats."""

    loaded: LoadedPlan
    path: Path
    found: Resolved | None = field(default=None, compare=False, repr=False)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        known = self.found.paths.get(relative) if self.found is not None else None
        return Path(known) if known is not None else (self.folder / relative).resolve()

    def stat(self, path: Path) -> os.stat_result:
        """The file's stat as taken when the plan was read, the first time it is asked for
        (the command that read the plan); a fresh one after that."""
        known = self.found.stats.pop(str(path), None) if self.found is not None else None
        return known if known is not None else os.stat(path)


@dataclass(frozen=True)
class Outcome:
    """What a gate run decided, for any client."""

    evaluation: Evaluation
    candidate: str


@dataclass(frozen=True)
class Submission:
    revision: str
    candidate: str
    new_revision: bool


@dataclass(frozen=True)
class Attachment:
    name: str
    digest: str
    size: int
    new: bool


@dataclass(frozen=True)
class ReleaseDone:
    release_id: int
    already: bool
    candidate: str
    #: the deployed components: name, kind, version, digest
    components: list[dict[str, Any]]
    #: registry aliases moved: component, model, alias, version, previous
    aliases: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class PackWritten:
    path: Path
    files: int
    candidate: str


@dataclass(frozen=True)
class LogChecked:
    events: int
    checkpoints: int
    failures: list[str]


class Client(ABC):
    """One person (or nobody, for unsigned checks) acting through some transport."""

    def __init__(self, settings: Settings, key: SigningKey | None = None) -> None:
        self.settings = settings
        self.key = key
        self._me: Person | None = None
        self._mlflow: MlflowReader | None = None
        self._digests: dict[tuple[Path, str], dict[str, str]] = {}

    # -- what a transport provides --------------------------------------------------------

    @abstractmethod
    def clock(self) -> datetime: ...

    @property
    @abstractmethod
    def digest_cache(self) -> DigestCache | None: ...

    @abstractmethod
    def _person_by_key(self, key_id: str) -> Person | None: ...

    @abstractmethod
    def _read_plan(self, text: str, filename: str) -> LoadedPlan: ...

    @abstractmethod
    def evidence_set(self, local: LocalPlan, candidate: str) -> str: ...

    @abstractmethod
    def recorded_candidate(self, local: LocalPlan) -> str: ...

    # -- the use cases the commands call ----------------------------------------------------

    @abstractmethod
    def check(self, local: LocalPlan, progress: Progress | None = None) -> Outcome: ...

    @abstractmethod
    def submit(self, local: LocalPlan, message: str, parent: str | None = None) -> Submission: ...

    @abstractmethod
    def add_evidence(
        self,
        local: LocalPlan,
        criterion: str,
        path: Path,
        role: str | None,
        source: str | None,
        progress: Progress | None = None,
    ) -> Attachment: ...

    @abstractmethod
    def sign_off(self, local: LocalPlan, role: str, decision: str, comment: str) -> str: ...

    @abstractmethod
    def waive(
        self, local: LocalPlan, criterion: str, role: str, justification: str, until: datetime
    ) -> str: ...

    @abstractmethod
    def revoke_waiver(self, local: LocalPlan, criterion: str, reason: str) -> str: ...

    @abstractmethod
    def release(self, local: LocalPlan) -> ReleaseDone: ...

    @abstractmethod
    def export(self, local: LocalPlan, out: Path) -> PackWritten: ...

    @abstractmethod
    def status(self) -> Status: ...

    @abstractmethod
    def log_checkpoint(self) -> Checkpoint: ...

    @abstractmethod
    def log_verify(self, since: Checkpoint | None, *, incremental: bool = False) -> LogChecked:
        """Verify the log; with `incremental`, only what was appended after `since`."""

    @abstractmethod
    def log_prove(self, seq: int) -> dict[str, Any]: ...

    @abstractmethod
    def log_consistency(self, old: int, new: int | None) -> dict[str, Any]: ...

    # -- who acts -----------------------------------------------------------------------

    @property
    def me(self) -> Person:
        """The registered person whose key this client signs with."""
        if self.key is None:
            raise ForbiddenError(
                "this needs a signed identity: pass --identity KEY (or set CLEARANCE_IDENTITY) "
                "with your private key"
            )
        if self._me is None:
            self._me = self._person_by_key(self.key.key_id)
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
        body = {**predicate, "person": me.name, "time": to_time(self.clock())}
        return sign_statement(statement([subject], predicate_type, body), self.key)

    def signed_request(self, action: str) -> dict[str, Any]:
        """A fresh signed request for `action`, proving who asks."""
        from clearance.core.digest import json_digest
        from clearance.signing.statements import REQUEST_V1

        nonce = secrets.token_hex(16)
        request: dict[str, Any] = self.sign(
            REQUEST_V1,
            ("request", json_digest({"action": action, "nonce": nonce})),
            {"action": action, "nonce": nonce},
        )
        return request

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

    def acceptance(
        self,
        local: LocalPlan,
        criterion: str,
        finding: tuple[str, str, str],
        role: str,
        justification: str,
        until: datetime,
    ) -> Any:
        """Your acceptance, in `role`, of one finding of a findings criterion of the plan's
        recorded candidate: `finding` is ("rule", RULE, LOCATION) or ("vulnerability", ID,
        PACKAGE)."""
        from clearance.signing.statements import FINDING_ACCEPTANCE_V1
        from clearance.store.records import to_time

        scope, ident, where = finding
        predicate = {
            "criterion": criterion,
            "scope": scope,
            "finding": ident,
            "where": where,
            "role": role,
            "justification": justification,
            "expires": to_time(until),
            "policy": local.loaded.policy_digest,
        }
        return self.about(local, FINDING_ACCEPTANCE_V1, predicate, self.recorded_candidate(local))

    def acknowledgement(self, local: LocalPlan, party: str, comment: str) -> Any:
        """Your acknowledgement of an interested party's impact and consideration as the plan
        writes them, for its recorded candidate, in the role the party names."""
        from clearance.services.findings import party_of
        from clearance.signing.statements import ACKNOWLEDGEMENT_V1

        found = party_of(local.loaded, party)
        predicate = {
            "party": found.name,
            "party_digest": found.text_digest(),
            "role": found.acknowledged_by,
            "impact": found.impact,
            "consideration": found.consideration,
            "comment": comment,
        }
        return self.about(local, ACKNOWLEDGEMENT_V1, predicate, self.recorded_candidate(local))

    def accept_finding(
        self,
        local: LocalPlan,
        criterion: str,
        finding: tuple[str, str, str],
        role: str,
        justification: str,
        until: datetime,
    ) -> Any:
        """Record your acceptance of a finding (see `acceptance`)."""
        from clearance.errors import UsageError

        raise UsageError("accepting findings is not available through this client yet")

    def acknowledge(self, local: LocalPlan, party: str, comment: str) -> Any:
        """Record your acknowledgement of an interested party (see `acknowledgement`)."""
        from clearance.errors import UsageError

        raise UsageError("acknowledging parties is not available through this client yet")

    def findings(self, local: LocalPlan, criterion: str) -> list[Any]:
        """The findings of a findings criterion of the plan's recorded candidate."""
        from clearance.errors import UsageError

        raise UsageError("listing findings is not available through this client yet")

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

        raw = read_document(path, self.settings.max_plan_bytes, "plan file")
        name = str(path)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise PlanError(
                [Problem(name, line, None, "", "not UTF-8 text; save the plan as UTF-8")]
            ) from None
        loaded = self._read_plan(text, name)
        found = check_plan_paths(
            loaded.written or loaded.plan,
            text,
            path,
            roots=declared_roots(self.settings.workspace),
            workspace_dir=self.settings.workspace,
        )
        return LocalPlan(loaded, path.absolute(), found)

    def digests(self, local: LocalPlan) -> dict[str, str]:
        """Each artifact's digest (huge artifacts are referenced, never copied), cached by
        (device, inode, size, mtime) so unchanged files are not hashed again."""
        from clearance.blobs import file_digest

        memo = (local.path, local.loaded.revision)  # one command hashes each artifact once
        if memo in self._digests:
            return self._digests[memo]
        cache = self.digest_cache
        found: dict[str, str] = {}
        missing = missing_artifacts(local)
        if missing:
            raise PlanError(missing)
        for comp in local.loaded.plan.components:
            if comp.artifact is None:
                if comp.source is not None:  # a registered model version's artifacts
                    found[comp.name] = self.mlflow().component(comp.source).digest
                continue
            path = local.resolve(comp.artifact)
            try:
                taken = local.stat(path)
            except FileNotFoundError:
                raise EvidenceError(
                    f"component {comp.name}: artifact {comp.artifact} not found (looked in "
                    f"{path.parent}); build it first or give its digest instead"
                ) from None
            digest = cache.get(path, taken) if cache is not None else None
            if digest is None:
                digest = file_digest(path)
                if cache is not None:
                    cache.put(path, taken, digest)
            found[comp.name] = digest
        self._digests[memo] = found
        return found

    def candidate(self, local: LocalPlan) -> str:
        from clearance.services.plans import candidate_of

        return candidate_of(local.loaded, self.digests(local))

    def named_files(self, local: LocalPlan) -> dict[Path, list[tuple[str, str]]]:
        """Every file the plan names that exists, with the (criterion, name) uses of it;
        missing ones are left to the evaluators."""
        return self.named_files_stats(local)[0]

    def named_files_stats(
        self, local: LocalPlan
    ) -> tuple[dict[Path, list[tuple[str, str]]], dict[str, os.stat_result]]:
        """`named_files`, and the stat of each plan file found (by path), taken once."""
        from clearance.core.sources import is_source

        wanted: dict[Path, list[tuple[str, str]]] = {}
        plan = local.loaded.plan
        found: dict[Path, list[tuple[str, str]]] = {}
        for criterion in plan.criteria:
            for named in criterion.named_files(plan):
                if is_source(named.path):  # read now from the registry, kept as a document
                    found[self.source_document(criterion, named.path)] = [
                        (criterion.id, named.path)
                    ]
                    continue
                wanted.setdefault(local.resolve(named.path), []).append((criterion.id, named.path))
        stats: dict[str, os.stat_result] = {}
        for path, uses in wanted.items():
            try:
                taken = local.stat(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise EvidenceError(f"criterion {uses[0][0]}: {path}: {exc.strerror}") from None
            if not stat.S_ISREG(taken.st_mode):
                raise EvidenceError(f"criterion {uses[0][0]}: {path}: not a regular file")
            found[path] = uses
            stats[str(path)] = taken
        return found, stats

    def mlflow(self) -> MlflowReader:
        """This command's MLflow reader (one download of each model version)."""
        from clearance.integrations.mlflow import MlflowReader

        if self._mlflow is None:
            self._mlflow = MlflowReader(self.settings.mlflow_tracking_uri)
        return self._mlflow

    def source_document(self, criterion: Any, uri: str) -> Path:
        """The evidence document of a metric the plan reads from MLflow, written to the
        reader's scratch folder for storing like any named file."""
        from clearance.errors import UsageError

        metric = getattr(criterion, "metric", None)
        if metric is None:
            raise UsageError(
                f"criterion {criterion.id}: {uri}: only metric criteria read from MLflow"
            )
        reader = self.mlflow()
        try:
            data = reader.metric_document(uri, metric, getattr(criterion, "for_", None) is not None)
        except (EvidenceError, UsageError) as exc:
            raise type(exc)(f"criterion {criterion.id}: {exc}") from None
        path = Path(reader.scratch.name) / f"{criterion.id}.mlflow.json"
        path.write_bytes(data)
        return path


def missing_artifacts(local: LocalPlan) -> list[Problem]:
    """One problem per component whose artifact file does not exist, at the position of its
    `artifact:` in the plan file, all at once (a check must not stop at the first)."""
    from clearance.core.policy import yaml_positions

    written = local.loaded.written or local.loaded.plan
    problems: list[Problem] = []
    position = None
    for i, comp in enumerate(written.components):
        if comp.artifact is None:
            continue
        path = local.resolve(comp.artifact)
        try:
            local.stat(path)
            continue
        except FileNotFoundError:
            pass
        if position is None:
            position = yaml_positions(local.path.read_text(encoding="utf-8"), local.loaded.filename)
        line, column = position(("components", i, "artifact")) or (None, None)
        problems.append(
            Problem(
                local.loaded.filename,
                line,
                column,
                f"components[{i}].artifact",
                f"component {comp.name}: artifact {comp.artifact} not found (looked in "
                f"{path.parent}); build it first or give its digest instead",
            )
        )
    return problems


def regular_file(path: Path, criterion_id: str) -> int:
    """The size of a file to store; EvidenceError for what cannot be read as one."""
    if not path.exists():
        raise EvidenceError(f"criterion {criterion_id}: {path}: no such file")
    if not path.is_file():
        raise EvidenceError(f"criterion {criterion_id}: {path}: not a regular file")
    return path.stat().st_size


def load_identity(path: Path | None) -> SigningKey | None:
    from clearance.signing import SigningKey

    return SigningKey.load(path) if path is not None else None
