"""The caller's side against a Clearance server (`CLEARANCE_SERVER`, `CLEARANCE_TOKEN`):
the same methods as `LocalClient`, over HTTP. Plans are read and checked, artifacts hashed,
and statements signed here, with the caller's own key; files are uploaded once (a blob the
server has is not sent again), and the server runs the same use cases.

Answers come back as the same errors and exit codes as locally: the server's error carries
`details.exit_code`. A server that cannot be reached is UnreachableError (exit 69); a
missing, unknown, expired or revoked token is AuthenticationError (exit 77).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clearance.client.base import (
    Attachment,
    Client,
    LocalPlan,
    LogChecked,
    Outcome,
    PackWritten,
    Progress,
    ReleaseDone,
    Submission,
    regular_file,
)
from clearance.errors import (
    AuthenticationError,
    ClearanceError,
    ConflictError,
    EvidenceError,
    ForbiddenError,
    IntegrityError,
    NotFoundError,
    PlanError,
    Problem,
    StoreError,
    UnreachableError,
    UsageError,
)

if TYPE_CHECKING:
    import httpx

    from clearance.blobs import DigestCache, StoredBlob
    from clearance.core.checkpoint import Checkpoint
    from clearance.core.identity import Person
    from clearance.services.plans import LoadedPlan
    from clearance.services.releases import Status
    from clearance.settings import Settings
    from clearance.signing import SigningKey

API = "/api/v1"
CHUNK = 1 << 20
TIMEOUT = 300.0
#: how often a write whose answer was lost is sent again (with the same Idempotency-Key)
RETRIES = 2
BY_CODE: dict[str, type[ClearanceError]] = {
    "usage": UsageError,
    "invalid_request": UsageError,
    "invalid_evidence": EvidenceError,
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "integrity": IntegrityError,
    "forbidden": ForbiddenError,
    "unauthenticated": AuthenticationError,
    "store": StoreError,
    "store_busy": StoreError,
}


class ServerError(ClearanceError):
    """An answer that is not a Clearance server's (a wrong CLEARANCE_SERVER, a proxy's own
    page): say what it was. A Clearance error the client does not know keeps the exit code
    the server gave it."""

    code = "server"


class RemoteNoGo(ConflictError):
    """A refused release, with the evaluation the server sent (the CLI shows its reasons)."""

    def __init__(self, message: str, evaluation: Any) -> None:
        super().__init__(message)
        self.evaluation = evaluation


def connect(settings: Settings, *, transport: Any = None) -> httpx.Client:
    """An HTTP client for the server in `settings`, with its token."""
    import httpx

    if not settings.server:
        raise UsageError("no server: set CLEARANCE_SERVER=URL or pass --server URL")
    if not settings.token:
        raise AuthenticationError(
            f"no API token for {settings.server}: set CLEARANCE_TOKEN (an administrator "
            "creates one with `clearance tokens create`)"
        )
    headers = {"Authorization": f"Bearer {settings.token}", "User-Agent": "clearance-cli"}
    return httpx.Client(
        base_url=settings.server.rstrip("/"),
        headers=headers,
        timeout=TIMEOUT,
        transport=transport,
        follow_redirects=False,
    )


class RemoteClient(Client):
    """One person or service account, known to the server by its token, signing with its
    own key when it signs."""

    def __init__(self, settings: Settings, http: httpx.Client, key: SigningKey | None = None):
        super().__init__(settings, key)
        self.http = http
        self._context: dict[str, Any] | None = None

    # -- HTTP -----------------------------------------------------------------------------

    def call(self, method: str, path: str, **kw: Any) -> Any:
        """The JSON answer of one request; the server's error as our own error."""
        import uuid

        import httpx

        retries = RETRIES if method == "POST" and "json" in kw else 0
        if retries:  # a retry after a lost answer gets the first answer, not a second record
            kw["headers"] = {"Idempotency-Key": uuid.uuid4().hex, **kw.get("headers", {})}
        for attempt in range(retries + 1):
            try:
                response = self.http.request(method, API + path, **kw)
                break
            except httpx.TransportError as exc:
                if attempt < retries and not isinstance(exc, httpx.ConnectError):
                    continue
                raise UnreachableError(
                    f"cannot reach the Clearance server at {self.http.base_url} "
                    f"({type(exc).__name__}: {exc}); check CLEARANCE_SERVER and that the "
                    "server runs"
                ) from None
        if response.status_code >= 400:
            raise _error(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ServerError(
                f"the server at {self.http.base_url} answered {method} {path} with something "
                "that is not JSON; is CLEARANCE_SERVER a Clearance server?"
            ) from None

    def context(self) -> dict[str, Any]:
        if self._context is None:
            self._context = self.call("GET", "/context")
        return self._context

    def whoami(self) -> Person:
        from clearance.core.identity import Person, PersonKey, RoleGrant
        from clearance.signing import unb64

        data = self.call("GET", "/whoami")
        keys = [
            PersonKey(k["key_id"], unb64(k["public_key"]), k["valid_from"], k["retired_at"])
            for k in data["keys"]
        ]
        roles = [RoleGrant.parse(r) for r in data["roles"]]
        return Person(data["name"], data["identity"], roles, keys, kind=data["kind"])

    # -- transport hooks ------------------------------------------------------------------

    def clock(self) -> datetime:
        return datetime.now(UTC)

    @property
    def digest_cache(self) -> DigestCache | None:
        return None

    def _person_by_key(self, key_id: str) -> Person | None:
        """The token's person, if the key is theirs: the server accepts statements only
        from the token's own person."""
        me = self.whoami()
        if me.key(key_id) is None:
            raise ForbiddenError(
                f"your API token is {me.name}'s, but the key {key_id[:19]}… is not registered "
                f"to {me.name}; sign with your own key (--identity) or use your own token"
            )
        return me

    def _read_plan(self, text: str, filename: str) -> LoadedPlan:
        """The plan validated here as the server will: its target declared there, and the
        server's current policy merged in (the server validates it again)."""
        from clearance.services.plans import read_plan_with

        ctx = self.context()
        policy = ctx.get("policy")
        return read_plan_with(
            text,
            filename,
            set(ctx["targets"]),
            (policy["document"], policy["digest"]) if policy else None,
        )

    def evidence_set(self, local: LocalPlan, candidate: str) -> str:
        found = self.call("GET", f"/candidates/{candidate}/evidence-set")
        return str(found["evidence_set"])

    def recorded_candidate(self, local: LocalPlan) -> str:
        digest = self.candidate(local)
        try:
            self.call("GET", f"/candidates/{digest}")
        except NotFoundError:
            raise UsageError(
                f"candidate {digest} of {local.path.name} has not been submitted; run "
                "`clearance check` or `clearance plan submit` first, then act on what it shows"
            ) from None
        return digest

    # -- files ----------------------------------------------------------------------------

    def upload(self, path: Path, criterion_id: str, progress: Progress | None) -> StoredBlob:
        """Send one file unless the server has it already (by digest)."""
        import httpx

        from clearance.blobs import StoredBlob, file_digest

        size = regular_file(path, criterion_id)
        digest = file_digest(path)
        try:
            head = self.http.head(f"{API}/blobs/{digest}")
        except httpx.TransportError:
            head = None
        if head is not None and head.status_code == 200:
            return StoredBlob(digest, size)

        def chunks() -> Any:
            done = 0
            with path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    done += len(chunk)
                    if progress is not None:
                        progress(path, done, size)
                    yield chunk

        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        found = self.call("POST", "/blobs", content=chunks(), headers=headers)
        if found["digest"] != digest:
            raise EvidenceError(
                f"criterion {criterion_id}: {path} changed while it was uploaded; run again"
            )
        return StoredBlob(found["digest"], int(found["size"]))

    def upload_named_files(
        self, local: LocalPlan, progress: Progress | None
    ) -> list[dict[str, Any]]:
        files = []
        for path, uses in self.named_files(local).items():
            blob = self.upload(path, uses[0][0], progress)
            files += [
                {"criterion": c, "name": n, "digest": blob.digest, "size": blob.size}
                for c, n in uses
            ]
        return files

    def _plan_body(self, local: LocalPlan) -> dict[str, Any]:
        return {
            "text": local.path.read_text(encoding="utf-8"),
            "filename": local.path.name,
            "digests": self.digests(local),
        }

    # -- use cases ------------------------------------------------------------------------

    def check(self, local: LocalPlan, progress: Progress | None = None) -> Outcome:
        from clearance.core.decision import Evaluation

        files = self.upload_named_files(local, progress)
        found = self.call("POST", "/checks", json={**self._plan_body(local), "files": files})
        return Outcome(Evaluation.from_json(found["evaluation"]), found["candidate"])

    def submit(self, local: LocalPlan, message: str, parent: str | None = None) -> Submission:
        body = {**self._plan_body(local), "message": message, "parent": parent}
        found = self.call("POST", "/plans", json=body)
        return Submission(found["revision"], found["candidate"], found["new_revision"])

    def add_evidence(
        self,
        local: LocalPlan,
        criterion: str,
        path: Path,
        role: str | None,
        source: str | None,
        progress: Progress | None = None,
    ) -> Attachment:
        from clearance.services.evidence import criterion_of

        criterion_of(local.loaded, criterion)
        blob = self.upload(path, criterion, progress)
        body = {
            **self._plan_body(local),
            "criterion": criterion,
            "name": path.name,
            "digest": blob.digest,
            "size": blob.size,
            "source": source,
            "attestation": self.attestation(local, criterion, path.name, blob, role)
            if role
            else None,
        }
        found = self.call("POST", "/evidence", json=body)
        return Attachment(found["name"], found["digest"], found["size"], found["new"])

    def sign_off(self, local: LocalPlan, role: str, decision: str, comment: str) -> str:
        envelope = self.approval(local, role, decision, comment)
        return str(self.call("POST", "/approvals", json={"envelope": envelope})["candidate"])

    def waive(
        self, local: LocalPlan, criterion: str, role: str, justification: str, until: datetime
    ) -> str:
        envelope = self.waiver(local, criterion, role, justification, until)
        self.call("POST", "/waivers", json={"envelope": envelope})
        return self.recorded_candidate(local)

    def revoke_waiver(self, local: LocalPlan, criterion: str, reason: str) -> str:
        candidate = self.recorded_candidate(local)
        found = self.call("GET", f"/candidates/{candidate}/waivers", params={"limit": 500})
        waivers = [w for w in found["items"] if w["criterion_id"] == criterion]
        if not waivers:
            raise NotFoundError(f"no waiver of {criterion} on candidate {candidate[7:19]}")
        envelope = self.revocation(local, waivers[-1]["envelope"], criterion, reason)
        self.call("POST", "/waiver-revocations", json={"envelope": envelope})
        return str(waivers[-1]["person"])

    def accept_finding(
        self,
        local: LocalPlan,
        criterion: str,
        finding: tuple[str, str, str],
        role: str,
        justification: str,
        until: datetime,
    ) -> Any:
        from clearance.services.findings import Accepted
        from clearance.store.records import from_time

        envelope = self.acceptance(local, criterion, finding, role, justification, until)
        found = self.call("POST", "/finding-acceptances", json={"envelope": envelope})
        return Accepted(
            **{
                **found,
                "findings": tuple(_finding(f) for f in found["findings"]),
                "expires_at": from_time(found["expires_at"]),
            }
        )

    def acknowledge(self, local: LocalPlan, party: str, comment: str) -> Any:
        from clearance.services.findings import Acknowledged

        envelope = self.acknowledgement(local, party, comment)
        return Acknowledged(**self.call("POST", "/acknowledgements", json={"envelope": envelope}))

    def findings(self, local: LocalPlan, criterion: str) -> list[Any]:
        candidate = self.recorded_candidate(local)
        found, cursor = [], None
        while True:
            params = {
                "criterion": criterion,
                "limit": 500,
                **({"cursor": cursor} if cursor else {}),
            }
            page = self.call("GET", f"/candidates/{candidate}/findings", params=params)
            found += [_finding(f) for f in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return found

    def release(self, local: LocalPlan) -> ReleaseDone:
        from clearance.services.aliases import require_mover

        require_mover(local.loaded, None)  # refused before anything is uploaded or recorded
        files = self.upload_named_files(local, None)
        found = self.call("POST", "/releases", json={**self._plan_body(local), "files": files})
        return ReleaseDone(
            found["release_id"], found["already"], found["candidate"], found["components"]
        )

    def export(self, local: LocalPlan, out: Path) -> PackWritten:
        """Download the pack to `out` (written whole or not at all)."""
        import zipfile

        candidate = self.candidate(local)
        tmp = out.with_name(f".{out.name}.part")
        try:
            with self.http.stream("POST", f"{API}/packs", json={"candidate": candidate}) as r:
                if r.status_code >= 400:
                    r.read()
                    raise _error(r)
                with tmp.open("wb") as f:
                    for chunk in r.iter_bytes(CHUNK):
                        f.write(chunk)
            with zipfile.ZipFile(tmp) as z:
                files = len(z.namelist())
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
        return PackWritten(out, files, candidate)

    def status(self) -> Status:
        from clearance.services.releases import Deployed, Status
        from clearance.store.records import ComponentPin, DecisionRecord, from_time

        found = self.call("GET", "/status")
        inventory = [
            Deployed(
                d["system_id"],
                d["target"],
                ComponentPin(**d["component"]),
                d["release_version"],
                from_time(d["released_at"]),
                d["released_by"],
            )
            for d in found["inventory"]
        ]
        pending = [
            DecisionRecord(**{**p, "evaluated_at": from_time(p["evaluated_at"])})
            for p in found["pending"]
        ]
        return Status(inventory, pending)

    def log_checkpoint(self) -> Checkpoint:
        from clearance.core.checkpoint import Checkpoint

        latest = Checkpoint.from_json(self.call("GET", "/log/checkpoint"))
        problem = self._signature_problem(latest)
        if problem:
            raise IntegrityError(f"the server's latest checkpoint does not verify: {problem}")
        return latest

    def log_verify(self, since: Checkpoint | None, *, incremental: bool = False) -> LogChecked:
        """The server recomputes its log; here the latest checkpoint's signature is checked
        with the workspace key, and a kept checkpoint is proven a prefix of the log with a
        consistency proof checked here. `incremental` is a local-workspace reading: the
        server verifies its whole log either way."""
        from clearance.core.merkle import verify_consistency

        report = self.call("POST", "/log/verifications")
        failures = list(report["failures"])
        latest = self.log_checkpoint()
        if since is not None:
            problem = self._signature_problem(since)
            if problem:
                failures.append(f"the kept checkpoint does not verify: {problem}")
            elif since.size > latest.size:
                failures.append(
                    f"the log holds {latest.size} events, fewer than the kept checkpoint's "
                    f"{since.size}: events were cut from its end"
                )
            else:
                proof = self.call("GET", "/log/consistency", params={"old": since.size})
                ok = proof["tree_size"] == latest.size and verify_consistency(
                    since.size,
                    latest.size,
                    bytes.fromhex(since.root),
                    bytes.fromhex(latest.root),
                    [bytes.fromhex(h) for h in proof["proof"]],
                )
                if not ok:
                    failures.append(
                        f"the log is not consistent with the kept checkpoint of size {since.size}"
                    )
        return LogChecked(report["events"], report["checkpoints"], failures)

    def log_prove(self, seq: int) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", f"/log/events/{seq}/proof")
        return found

    def log_consistency(self, old: int, new: int | None) -> dict[str, Any]:
        params = {"old": old, **({"new": new} if new is not None else {})}
        found: dict[str, Any] = self.call("GET", "/log/consistency", params=params)
        return found

    def _signature_problem(self, cp: Checkpoint) -> str | None:
        from clearance.services.log import checkpoint_signature_problem

        key = self.context()["workspace_key"]
        keys = {key["key_id"]: {**key, "valid_from": "", "valid_until": None}}
        return checkpoint_signature_problem(cp, keys)


def _finding(data: dict[str, Any]) -> Any:
    from clearance.core.findings import Finding

    return Finding(**{**data, "aliases": tuple(data.get("aliases") or ())})


def _error(response: httpx.Response) -> ClearanceError:
    """The server's error answer as the error it stands for."""
    try:
        body = response.json()["error"]
        code, message, details = str(body["code"]), str(body["message"]), body.get("details") or {}
    except (ValueError, KeyError, TypeError):
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        said = f"{response.status_code} {response.reason_phrase}" + (f": {text}" if text else "")
        if response.status_code >= 500:  # a proxy or gateway with no server behind it
            return UnreachableError(
                f"the Clearance server behind {response.url.host} did not answer ({said}); "
                "retry, or check that it runs"
            )
        return ServerError(
            f"{response.url} answered {said}; is CLEARANCE_SERVER a Clearance server?"
        )
    if code == "invalid_plan":
        problems = [Problem(**p) for p in details.get("problems", [])]
        return PlanError(problems) if problems else UsageError(message)
    if code == "conflict" and "evaluation" in details:
        from clearance.core.decision import Evaluation

        return RemoteNoGo(message, Evaluation.from_json(details["evaluation"]))
    if code == "integrity":
        return IntegrityError(message, list(details.get("failures", [])))
    kind = BY_CODE.get(code)
    if kind is None:
        error = ServerError(f"the server answered {response.status_code}: {message}")
        if isinstance(details.get("exit_code"), int):
            error.exit_code = details["exit_code"]
        return error
    return kind(message)
