"""Two `clearance serve` processes on one PostgreSQL database and one S3-compatible blob
store (moto's server on loopback): what one writes, the other serves; 100 concurrent
sign-offs through both lose nothing, duplicate nothing, and the log verifies."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.builders import ADMIN, declare, register_signers, write_plan_folder

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
CI = "ci@example.com"


@dataclass
class Deployment:
    ws: Any
    servers: list[Any]
    tokens: dict[str, str]
    plan: Path

    def client(self, person: str, server: int, *, key: bool = True) -> Any:
        import httpx

        from clearance.client.remote import RemoteClient

        http = httpx.Client(
            base_url=self.servers[server].url,
            headers={"Authorization": f"Bearer {self.tokens[person]}"},
            timeout=120,
        )
        return RemoteClient(self.ws.settings, http, self.ws.keys.get(person) if key else None)


@pytest.fixture
def deployment(
    tmp_path: Path,
    postgres_admin: Any,
    postgres_url: str,
    s3_endpoint: str,
    s3_bucket: str,
    s3_environment: None,
) -> Iterator[Deployment]:
    from clearance.services.people import bootstrap_admin
    from clearance.services.workspace import Workspace
    from clearance.settings import Settings
    from clearance.signing import SigningKey
    from tests.api.conftest import add_service_account, make_token
    from tests.conftest import _pg_schema_url
    from tests.live import ServeProcess

    schema = _pg_schema_url(postgres_admin, postgres_url)
    database_url = next(schema)
    key_file = tmp_path / "secrets" / "workspace.pem"
    SigningKey.generate().save(key_file)
    env = {
        **{k: v for k, v in os.environ.items() if k.startswith("AWS_") or k in ("PATH", "HOME")},
        "CLEARANCE_DATABASE_URL": database_url,
        "CLEARANCE_BLOB_URL": f"s3://{s3_bucket}/team",
        "CLEARANCE_S3_ENDPOINT_URL": s3_endpoint,
        "CLEARANCE_WORKSPACE_KEY": str(key_file),
        "CLEARANCE_WORKSPACE": str(tmp_path / "operator"),
    }
    ws = Workspace(Settings.from_env(env))
    ws.create()
    admin = SigningKey.generate()
    bootstrap_admin(ws, ADMIN, admin.public_raw)
    ws.keys = {ADMIN: admin}
    declare(ws, "production")
    approvers = {f"approver{i}@example.com": ["model-risk"] for i in range(25)}
    register_signers(ws, {**approvers, "carol@example.com": ["product-owner"]})
    add_service_account(ws, CI, ["credit-scoring:ci"])
    tokens = {n: make_token(ws, n, f"t-{i}") for i, n in enumerate([ADMIN, CI, *ws.keys])}
    servers = []
    try:
        servers = [ServeProcess(env, tmp_path), ServeProcess(env, tmp_path)]
        yield Deployment(ws, servers, tokens, write_plan_folder(tmp_path / "project"))
    finally:
        for server in servers:
            server.stop()
        ws.close()
        next(schema, None)


def test_what_one_process_writes_the_other_serves(deployment: Deployment) -> None:
    first, second = (deployment.client(CI, n, key=False) for n in (0, 1))
    outcome = first.check(first.plan(deployment.plan))
    assert outcome.evaluation.decision == "NO-GO"
    seen = second.call("GET", f"/candidates/{outcome.candidate}/evaluation")
    assert seen == outcome.evaluation.as_json()
    evidence = second.call("GET", f"/candidates/{outcome.candidate}/evidence")["items"]
    metrics = next(e for e in evidence if e["name"] == "eval/metrics.json")
    body = second.http.get(f"/api/v1/evidence/{metrics['id']}/content")
    assert body.content == (deployment.plan.parent / "eval/metrics.json").read_bytes()
    # a small file is held in the shared database with its record; large ones go to the bucket
    blobs = deployment.ws.blobs
    assert blobs.exists(metrics["digest"])
    assert type(blobs.files).__name__ == "S3BlobStore"
    assert metrics["size"] < blobs.threshold and not blobs.files.exists(metrics["digest"])
    assert first.log_checkpoint() == second.log_checkpoint()


def test_100_concurrent_sign_offs_through_both_processes(deployment: Deployment) -> None:
    from clearance.services.log import verify_log
    from clearance.store import repository as repo

    ci = deployment.client(CI, 0, key=False)
    candidate = ci.check(ci.plan(deployment.plan)).candidate
    approvers = sorted(n for n in deployment.ws.keys if n.startswith("approver"))
    statements = []
    for person in approvers:
        me = deployment.client(person, 0)
        statements.append(
            (person, me.approval(me.plan(deployment.plan), "model-risk", "approve", ""))
        )
        me.http.close()
    requests = [(person, envelope, n % 2) for n in range(4) for person, envelope in statements]

    def send(request: tuple[str, Any, int]) -> int:
        import httpx

        person, envelope, server = request
        with httpx.Client(base_url=deployment.servers[server].url, timeout=120) as http:
            answer = http.post(
                "/api/v1/approvals",
                json={"envelope": envelope},
                headers={"Authorization": f"Bearer {deployment.tokens[person]}"},
            )
        return answer.status_code

    with ThreadPoolExecutor(max_workers=32) as pool:
        codes = list(pool.map(send, requests))
    assert len(codes) == 100 and set(codes) == {201}, codes
    with deployment.ws.engine.connect() as conn:
        rows = [
            a
            for a in repo.approvals_of(conn, "credit-scoring", "2.4.0")
            if a.candidate == candidate
        ]
    assert sorted(a.person for a in rows) == approvers  # none lost, none twice
    report = verify_log(deployment.ws, None)
    assert report.failures == []
    remote = ci.call("POST", "/log/verifications")
    assert remote["failures"] == [] and remote["events"] == report.events


def test_two_edits_from_one_revision_at_once_one_wins(deployment: Deployment) -> None:
    """Two writers, one per process, submit different edits of the same revision at the
    same moment: one is recorded, the other gets 409; never both, never neither."""
    import threading

    from clearance.errors import ConflictError

    carol = deployment.client("carol@example.com", 0)
    text = deployment.plan.read_text()
    base = carol.submit(carol.plan(deployment.plan), "First release").revision
    bodies = []
    for n, threshold in enumerate(("0.81", "0.79")):
        variant = deployment.plan.with_name(f"plan-{n}.yaml")
        variant.write_text(text.replace("threshold: 0.8", f"threshold: {threshold}"))
        me = deployment.client("carol@example.com", n)
        bodies.append((me, me.plan(variant)))
    barrier, results = threading.Barrier(2), []

    def edit(n: int) -> None:
        me, local = bodies[n]
        barrier.wait()
        try:
            results.append(me.submit(local, f"edit {n}", parent=base))
        except ConflictError as exc:
            results.append(exc)

    threads = [threading.Thread(target=edit, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(type(r).__name__ for r in results) == ["ConflictError", "Submission"]
