"""Concurrent writers for the concurrency tests: each runs in its own thread or fresh
interpreter with its own Workspace, starts at a shared barrier, and says what became of
every write (its receipt, or the error it raised)."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the role the quorum asks for
ROLE = "model-risk"
#: seconds a process waits for the others to be ready (a guard against hangs)
BARRIER_TIMEOUT = 300.0


@dataclass(frozen=True)
class Outcome:
    """One write: who made it and its receipt (event index, checkpoint), or its error (the
    traceback, and the Clearance error code; None for any other exception)."""

    kind: str
    who: str
    seq: int | None = None
    checkpoint: dict[str, Any] | None = None
    error: str | None = None
    code: str | None = None


def attempt(ws: Any, kind: str, who: str, write: Callable[[], object]) -> Outcome:
    """Run one write and read the receipt it left on `ws`."""
    from clearance.errors import ClearanceError

    ws.last_receipt = None
    try:
        write()
    except Exception as exc:
        code = exc.code if isinstance(exc, ClearanceError) else None
        return Outcome(kind, who, error=traceback.format_exc(), code=code)
    receipt = ws.last_receipt
    if receipt is None:
        return Outcome(kind, who, error="the write recorded nothing", code="no_receipt")
    return Outcome(kind, who, seq=receipt.seq, checkpoint=receipt.checkpoint.as_json())


Write = Callable[[], list[Outcome]]


def approvals(ws: Any, plan_path: Path, names: list[str], *, presigned: bool = False) -> Write:
    """Each of `names` approves the plan's candidate in ROLE, one after another. With
    `presigned`, every statement is signed before the race, so only the writes contend."""
    from clearance.services.approvals import sign
    from tests.builders import load, signoff, signoff_envelope

    local = load(ws, plan_path)
    envelopes = {n: signoff_envelope(ws, local, ROLE, n) for n in names} if presigned else {}

    def write(name: str) -> object:
        if presigned:
            return sign(ws, envelopes[name])
        return signoff(ws, local, ROLE, name)

    def run() -> list[Outcome]:
        return [attempt(ws, "approval", name, lambda name=name: write(name)) for name in names]

    return run


def replay(ws: Any, envelope: dict[str, Any], times: int) -> Write:
    """The same signed approval statement sent `times` times (as a client retrying would)."""
    from clearance.services.approvals import sign

    def run() -> list[Outcome]:
        return [attempt(ws, "replay", str(i), lambda: sign(ws, envelope)) for i in range(times)]

    return run


def people(ws: Any, names: list[str]) -> Write:
    """The administrator registers each of `names` in ROLE with a fresh key."""
    from clearance.services.people import add_person
    from clearance.signing import SigningKey, b64
    from tests.builders import ADMIN, acting

    admin = acting(ws, ADMIN)

    def add(name: str) -> None:
        key = SigningKey.generate()
        args = {"name": name, "roles": [ROLE], "public_key": b64(key.public_raw)}
        add_person(ws, admin.admin_statement("person.add", args))

    def run() -> list[Outcome]:
        return [attempt(ws, "person", name, lambda name=name: add(name)) for name in names]

    return run


def evidence(ws: Any, plan_path: Path, criterion: str, files: list[Path]) -> Write:
    """The administrator attaches each of `files` to `criterion` of the plan's candidate."""
    from tests.builders import ADMIN, add_file, load

    local = load(ws, plan_path)

    def run() -> list[Outcome]:
        return [
            attempt(
                ws,
                "evidence",
                path.name,
                lambda path=path: add_file(ws, local, criterion, path, ADMIN),
            )
            for path in files
        ]

    return run


def sign_in_process(
    settings: Any,
    plan_path: Path,
    signers: list[tuple[str, bytes]],
    barrier: Any,
    results: Any,
    presigned: bool = False,
) -> None:
    """Process entry point (spawn): open the workspace from `settings`, load each signer's
    private key (PEM), wait at `barrier`, approve, and put the outcomes on `results`."""
    try:
        from clearance.services.workspace import Workspace
        from clearance.signing import SigningKey

        ws = Workspace(settings)
        ws.keys = {name: SigningKey.from_pem(pem, name) for name, pem in signers}
        _ = ws.engine, ws.blobs, ws.signing_key  # open everything before the race
        run = approvals(ws, plan_path, [name for name, _ in signers], presigned=presigned)
    except BaseException:
        barrier.abort()  # the parent and the other writers stop waiting
        results.put([Outcome("setup", "process", error=traceback.format_exc())])
        return
    try:
        barrier.wait(BARRIER_TIMEOUT)
        results.put(run())
    except BaseException:
        results.put([Outcome("run", "process", error=traceback.format_exc())])
    finally:
        ws.close()
