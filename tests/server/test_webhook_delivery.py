"""Webhook delivery under faults, by `clearance serve` itself: a receiver on loopback that
fails, times out, and hangs while the server is killed still gets every event, and a
receiver that de-duplicates on the event id sees each exactly once; nothing is lost across
the restart. Concurrent workers never send one event twice at once."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from clearance.integrations import webhooks as wire
from clearance.settings import WORKSPACE_DIRNAME, WebhookSettings
from clearance.store import tables as t
from tests.builders import ADMIN, acting, open_workspace, register_signers, write_plan_folder

SECRET = "receiver-secret"
ENV_VAR = "CLEARANCE_TEST_HOOK_SECRET"
TIMEOUT = 0.5


class DedupReceiver:
    """Verifies each delivery's signature and accepts each event id once. Its script, by
    request number: 500, 500, a slow answer after the client gave up, then a hang while the
    test kills the server; every other request is answered 200."""

    def __init__(self, script: dict[int, str]) -> None:
        self.script = script
        self.requests = 0
        self.raw: Counter[str] = Counter()
        self.accepted: list[str] = []
        self.bad: list[str] = []
        #: fault -> the event id it was played on
        self.faulted: dict[str, str] = {}
        self.hanging = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers["Content-Length"]))
        try:
            _, event_id = wire.verify(SECRET, dict(request.headers), body, time.time(), 300)
        except Exception as exc:
            self.bad.append(str(exc))
            return self.answer(request, 401)
        with self.lock:
            self.requests += 1
            number = self.requests
            self.raw[event_id] += 1
            fault = self.script.get(number, "ok")
            self.faulted.setdefault(fault, event_id)
            if fault != "500" and event_id not in self.accepted:
                self.accepted.append(event_id)  # processed, whatever happens to the answer
        if fault == "500":
            return self.answer(request, 500)
        if fault == "slow":
            time.sleep(TIMEOUT * 3)
        if fault == "hang":
            self.hanging.set()
            self.release.wait(30)
        return self.answer(request, 200)

    @staticmethod
    def answer(request: BaseHTTPRequestHandler, code: int) -> None:
        try:
            request.send_response(code)
            request.send_header("Content-Length", "0")
            request.end_headers()
        except OSError:
            pass  # the client is gone (timed out or killed)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None) -> Iterator[Any]:
    workspace = open_workspace(tmp_path / WORKSPACE_DIRNAME, database_url)
    register_signers(workspace)
    yield workspace
    workspace.close()


def make_events(ws: Any, tmp_path: Path, receiver_url: str, revocations: int) -> int:
    """Subscribe the receiver, then cause events: one NO-GO check (signoff.waiting and
    decision) and `revocations` attestation revocations; returns how many."""
    from clearance.services.webhooks import add_subscription
    from tests.builders import check, load

    args = {"url": receiver_url, "events": [], "secret_env": ENV_VAR}
    add_subscription(ws, acting(ws, ADMIN).admin_statement("webhook.add", args))
    check(ws, load(ws, write_plan_folder(tmp_path / "project")))
    for i in range(revocations):
        with ws.transaction() as uow:
            uow.append(
                "attestation.revoked",
                actor=ADMIN,
                subject="sha256:" + f"{i:064x}",
                payload={"reason": f"revocation {i}", "target": "production"},
            )
    return 2 + revocations


def outbox(ws: Any) -> list[tuple[str, str]]:
    with ws.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(sa.select(t.webhook_outbox.c.event_id, t.webhook_outbox.c.state))
        ]


@pytest.mark.slow
def test_every_event_arrives_once_through_failures_timeouts_and_a_killed_server(
    ws: Any, tmp_path: Path, database_url: str | None
) -> None:
    from tests.live import ServeProcess

    receiver = DedupReceiver({1: "500", 2: "500", 3: "slow", 5: "hang"})
    expected = make_events(ws, tmp_path, receiver.url, revocations=6)
    env = {
        "PATH": os.environ["PATH"],
        "CLEARANCE_WORKSPACE": str(ws.settings.workspace),
        ENV_VAR: SECRET,
        "CLEARANCE_WEBHOOK_TIMEOUT": str(TIMEOUT),
        "CLEARANCE_WEBHOOK_BACKOFF": "0.05",
        "CLEARANCE_WEBHOOK_POLL": "0.1",
        "CLEARANCE_WEBHOOK_MAX_ATTEMPTS": "20",
        **({"CLEARANCE_DATABASE_URL": database_url} if database_url else {}),
    }
    server = ServeProcess(env, tmp_path)
    try:
        assert receiver.hanging.wait(30), server.output()
        os.killpg(server.process.pid, signal.SIGKILL)  # mid-delivery: its answer is never recorded
        server.process.wait()
        receiver.release.set()
        before = dict(outbox(ws))
        assert "pending" in before.values()  # the killed server left work behind
        server = ServeProcess(env, tmp_path)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(s != "delivered" for _, s in outbox(ws)):
            time.sleep(0.1)
    finally:
        server.stop()
        receiver.close()
    states = dict(outbox(ws))
    assert len(states) == expected and set(states.values()) == {"delivered"}, states
    assert sorted(receiver.accepted) == sorted(states)  # each event seen, none lost
    assert len(receiver.accepted) == len(set(receiver.accepted))  # and accepted once
    # the answer lost to the client's timeout, and the one lost with the killed server, were
    # sent again: at least once, with the same event id
    assert receiver.raw[receiver.faulted["slow"]] >= 2
    assert receiver.raw[receiver.faulted["hang"]] >= 2
    assert receiver.bad == []


def test_concurrent_workers_claim_each_delivery_once(
    ws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four workers at once (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite): without
    faults, each event is sent exactly once, not merely accepted once."""
    import dataclasses

    from clearance.services.delivery import deliver_due
    from clearance.services.workspace import Workspace

    monkeypatch.setenv(ENV_VAR, SECRET)
    receiver = DedupReceiver({})
    try:
        expected = make_events(ws, tmp_path, receiver.url, revocations=20)
        settings = dataclasses.replace(
            ws.settings, webhooks=WebhookSettings(timeout=5.0, backoff=0.05)
        )
        workers = [Workspace(settings) for _ in range(4)]
        threads = [threading.Thread(target=deliver_due, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for w in workers:
            w.close()
    finally:
        receiver.close()
    assert len(receiver.raw) == expected
    assert set(receiver.raw.values()) == {1}
    assert {s for _, s in outbox(ws)} == {"delivered"}
