"""Webhooks through the services: change systems report tickets (signed, fresh, once, for a
ticket a plan names) and the change criterion reads them; administrators subscribe loopback
or allowed URLs; each event's outbox row is written with it and delivered, signed, with
retries and a dead letter at the end."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from clearance.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UsageError,
)
from clearance.integrations import webhooks as wire
from clearance.services.delivery import deliver_due
from clearance.services.tickets import receive_change
from clearance.services.webhooks import add_subscription, overview, remove_subscription
from clearance.settings import WebhookSettings
from clearance.store import tables as t
from tests.builders import (
    ADMIN,
    SIGNERS,
    Clock,
    acting,
    check,
    load,
    open_workspace,
    plan_document,
    register_signers,
    write_plan_folder,
)

SECRET = "s3cret-shared-with-the-change-system"
OUT_SECRET = "s3cret-of-the-receiver"
DANA = "dana@example.com"

# A change_request as ServiceNow's Table API returns it (GET /api/now/table/change_request/
# {sys_id}), choice fields as stored values: state -2 is Scheduled.
SERVICENOW_SCHEDULED = {
    "result": {
        "sys_id": "c83c5e5347c12200e0ef563dbb9a7190",
        "sys_class_name": "change_request",
        "number": "CHG0042",
        "type": "normal",
        "state": "-2",
        "approval": "approved",
        "phase": "requested",
        "risk": "3",
        "impact": "2",
        "short_description": "Release credit-scoring 2.4.0 to production",
        "start_date": "2026-12-02 08:00:00",
        "end_date": "2026-12-02 10:00:00",
        "assignment_group": {
            "link": "https://example.service-now.com/api/now/table/sys_user_group/"
            "679434f053231300e321ddeeff7b12d8",
            "value": "679434f053231300e321ddeeff7b12d8",
        },
        "sys_updated_on": "2026-11-30 09:12:44",
        "sys_updated_by": "change.manager",
    }
}
# The same record with sysparm_display_value=all: each field as {display_value, value}.
SERVICENOW_ASSESS = {
    "result": {
        "sys_id": {"display_value": "c83c5e5347c12200e0ef563dbb9a7190", "value": "c83c5e5347c1"},
        "number": {"display_value": "CHG0042", "value": "CHG0042"},
        "state": {"display_value": "Assess", "value": "-4"},
        "approval": {"display_value": "Requested", "value": "requested"},
    }
}
SERVICENOW_REJECTED = {
    "result": {"number": "CHG0042", "state": "-4", "approval": "rejected", "type": "normal"}
}
# Jira Cloud's issue webhook (webhookEvent jira:issue_updated) after a status transition.
JIRA_APPROVED = {
    "timestamp": 1764580000000,
    "webhookEvent": "jira:issue_updated",
    "issue_event_type_name": "issue_generic",
    "user": {
        "self": "https://example.atlassian.net/rest/api/2/user?accountId=5b10a2844c20165700ede21g",
        "accountId": "5b10a2844c20165700ede21g",
        "displayName": "Mia Krystof",
        "active": True,
        "timeZone": "Europe/Berlin",
        "accountType": "atlassian",
    },
    "issue": {
        "id": "10042",
        "self": "https://example.atlassian.net/rest/api/2/issue/10042",
        "key": "CHG-42",
        "fields": {
            "summary": "Release credit-scoring 2.4.0",
            "issuetype": {"id": "10008", "name": "Change"},
            "project": {"id": "10000", "key": "CHG", "name": "Change management"},
            "status": {
                "self": "https://example.atlassian.net/rest/api/2/status/10005",
                "description": "",
                "name": "Approved",
                "id": "10005",
                "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"},
            },
        },
    },
    "changelog": {
        "id": "10123",
        "items": [
            {
                "field": "status",
                "fieldtype": "jira",
                "fieldId": "status",
                "from": "10004",
                "fromString": "Awaiting approval",
                "to": "10005",
                "toString": "Approved",
            }
        ],
    },
}
JIRA_COMMENT = {
    "timestamp": 1764580000000,
    "webhookEvent": "comment_created",
    "comment": {"id": "10200", "body": "Looks good"},
    "issue": {"id": "10042", "key": "CHG-42", "fields": {"status": {"name": "Approved"}}},
}


def hooks_on(ws: Any, **config: Any) -> None:
    given = {"hook_secret": SECRET, "backoff": 0.01, "timeout": 2.0, **config}
    ws.settings = dataclasses.replace(ws.settings, webhooks=WebhookSettings(**given))


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None) -> Iterator[Any]:
    workspace = open_workspace(tmp_path / ".clearance", database_url, Clock())
    register_signers(workspace, {**SIGNERS})
    hooks_on(workspace)
    yield workspace
    workspace.close()


def plan_with(tmp_path: Path, change: dict[str, str], mode: str = "blocking") -> Path:
    document = plan_document()
    document["release"]["change"] = change
    document["criteria"].append({"id": "change", "kind": "change", "mode": mode})
    return write_plan_folder(tmp_path / "project", document=document)


def deliver(
    ws: Any,
    source: str,
    payload: Any,
    *,
    delivery: str = "d-1",
    age: float = 0,
    secret: str = SECRET,
    body: bytes | None = None,
) -> Any:
    """POST-equivalent of a change system's signed delivery, signed `age` seconds ago."""
    raw = body if body is not None else json.dumps(payload).encode()
    stamp = int(ws.clock().timestamp() - age)
    headers = wire.signed_headers(secret, raw, stamp, delivery)
    return receive_change(ws, source, headers, raw)


def change_result(ws: Any, plan: Path) -> Any:
    checked = check(ws, load(ws, plan))
    return next(r for r in checked.evaluation.results if r.id == "change")


# -- inbound -----------------------------------------------------------------------------------


def test_servicenow_reports_move_the_blocking_change_criterion(ws: Any, tmp_path: Path) -> None:
    """Pending until ServiceNow reports the change scheduled and approved; a later rejection
    fails it; every report is a logged record."""
    plan = plan_with(tmp_path, {"system": "servicenow", "id": "CHG0042"})
    assert change_result(ws, plan).status.value == "pending"
    assessed = deliver(ws, "servicenow", SERVICENOW_ASSESS, delivery="d-1")
    assert (assessed.ticket, assessed.state, assessed.decision) == ("CHG0042", "Assess", "pending")
    assert "waits for approved" in change_result(ws, plan).reason
    ws.clock.now += timedelta(seconds=5)
    deliver(ws, "servicenow", SERVICENOW_SCHEDULED, delivery="d-2")
    passed = change_result(ws, plan)
    assert passed.status.value == "passed", passed.reason
    assert passed.observed == {"id": "CHG0042", "state": "Scheduled", "decision": "approved"}
    ws.clock.now += timedelta(seconds=5)
    deliver(ws, "servicenow", SERVICENOW_REJECTED, delivery="d-3")
    assert change_result(ws, plan).status.value == "failed"
    with ws.engine.connect() as conn:
        logged = conn.execute(
            sa.select(t.events.c.actor).where(t.events.c.type == "change.ticket_reported")
        ).scalars()
        assert list(logged) == ["webhook:servicenow"] * 3


def test_jira_issue_updated_is_read_and_other_jira_events_ignored(ws: Any, tmp_path: Path) -> None:
    """jira:issue_updated with status Approved passes the criterion; a comment event verifies
    but records nothing."""
    plan = plan_with(tmp_path, {"system": "jira", "id": "CHG-42"})
    assert change_result(ws, plan).status.value == "pending"
    ignored = deliver(ws, "jira", JIRA_COMMENT, delivery="j-0")
    assert not ignored.recorded and "comment_created" in ignored.reason
    done = deliver(ws, "jira", JIRA_APPROVED, delivery="j-1")
    assert (done.ticket, done.state, done.decision, done.systems) == (
        "CHG-42",
        "Approved",
        "approved",
        ("credit-scoring",),
    )
    assert change_result(ws, plan).status.value == "passed"
    with ws.engine.connect() as conn:
        payload = conn.execute(
            sa.select(t.events.c.payload).where(t.events.c.type == "change.ticket_reported")
        ).scalar_one()
    assert json.loads(payload)["changelog"] == {"from": "Awaiting approval", "to": "Approved"}


def test_record_mode_records_a_rejection_without_blocking(ws: Any, tmp_path: Path) -> None:
    plan = plan_with(tmp_path, {"system": "servicenow", "id": "CHG0042"}, mode="record")
    assert change_result(ws, plan).status.value == "passed"
    deliver(ws, "servicenow", SERVICENOW_REJECTED)
    result = change_result(ws, plan)
    assert result.status.value == "passed"
    assert "last reported it '-4'" not in result.reason  # the state's name, not its code
    assert "'Assess' (rejected)" in result.reason


def test_forged_or_stale_deliveries_record_nothing(ws: Any, tmp_path: Path) -> None:
    """A wrong secret, a stale or future timestamp, a body changed after signing and a
    missing signature are refused before anything is read into the record."""
    check(ws, load(ws, plan_with(tmp_path, {"system": "servicenow", "id": "CHG0042"})))
    for tamper, match in (
        ({"secret": "a guess"}, "does not verify"),
        ({"age": 301}, "outside the 300 s replay window"),
        ({"age": -120}, "in the future"),
    ):
        with pytest.raises(AuthenticationError, match=match):
            deliver(ws, "servicenow", SERVICENOW_SCHEDULED, **tamper)
    raw = json.dumps(SERVICENOW_REJECTED).encode()
    headers = wire.signed_headers(SECRET, raw, int(ws.clock().timestamp()), "d-1")
    forged = raw.replace(b"rejected", b"approved")
    with pytest.raises(AuthenticationError, match="does not verify"):
        receive_change(ws, "servicenow", headers, forged)
    unsigned = {k: v for k, v in headers.items() if k != wire.SIGNATURE}
    with pytest.raises(AuthenticationError, match="X-Clearance-Signature"):
        receive_change(ws, "servicenow", unsigned, raw)
    assert ticket_rows(ws) == 0


def test_a_replayed_delivery_is_refused(ws: Any, tmp_path: Path) -> None:
    """The same delivery id again, or the same signed payload under a new id, is a replay."""
    check(ws, load(ws, plan_with(tmp_path, {"system": "servicenow", "id": "CHG0042"})))
    raw = json.dumps(SERVICENOW_SCHEDULED).encode()
    headers = wire.signed_headers(SECRET, raw, int(ws.clock().timestamp()), "d-1")
    receive_change(ws, "servicenow", headers, raw)
    with pytest.raises(ConflictError, match="received already"):
        receive_change(ws, "servicenow", headers, raw)
    with pytest.raises(ConflictError, match="received already"):
        receive_change(ws, "servicenow", {**headers, wire.DELIVERY: "d-other"}, raw)
    assert ticket_rows(ws) == 1


def test_unknown_tickets_sources_and_a_server_without_secret_are_refused(
    ws: Any, tmp_path: Path
) -> None:
    check(ws, load(ws, plan_with(tmp_path, {"system": "servicenow", "id": "CHG0042"})))
    other = {"result": {**SERVICENOW_SCHEDULED["result"], "number": "CHG9999"}}
    with pytest.raises(NotFoundError, match="no plan names servicenow change CHG9999"):
        deliver(ws, "servicenow", other)
    with pytest.raises(NotFoundError, match="no plan names jira change CHG0042"):
        deliver(ws, "jira", {**JIRA_APPROVED, "issue": {"key": "CHG0042", "fields": {
            "status": {"name": "Approved"}}}})  # fmt: skip
    with pytest.raises(NotFoundError, match="no change system"):
        deliver(ws, "remedy", SERVICENOW_SCHEDULED)
    with pytest.raises(UsageError, match="no `number`"):
        deliver(ws, "servicenow", {"result": {"state": "-2"}})
    with pytest.raises(UsageError, match="not JSON"):
        deliver(ws, "servicenow", None, body=b"{not json")
    hooks_on(ws, hook_secret=None)
    with pytest.raises(AuthenticationError, match="CLEARANCE_HOOK_SECRET"):
        deliver(ws, "servicenow", SERVICENOW_SCHEDULED)
    assert ticket_rows(ws) == 0


def test_signatures_in_hex_or_base64_verify_with_any_header_case() -> None:
    """A ServiceNow script's base64 MAC verifies like a hex one; header names are
    case-insensitive as in HTTP."""
    import base64
    import hashlib
    import hmac

    body, stamp = b'{"result": {}}', 1_764_580_000
    mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).digest()
    for value in ("sha256=" + mac.hex(), "sha256=" + base64.b64encode(mac).decode()):
        headers = {"x-clearance-timestamp": str(stamp), "X-CLEARANCE-SIGNATURE": value,
                   "x-clearance-delivery": "d"}  # fmt: skip
        assert wire.verify(SECRET, headers, body, stamp + 10, 300) == (stamp, "d")
    with pytest.raises(AuthenticationError, match="Unix seconds"):
        wire.verify(SECRET, {**headers, "x-clearance-timestamp": "yesterday"}, body, stamp, 300)


def ticket_rows(ws: Any) -> int:
    with ws.engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(t.change_ticket_states)).scalar()
        )


# -- subscriptions -----------------------------------------------------------------------------


def subscribe(ws: Any, url: str, by: str = ADMIN, **args: Any) -> Any:
    given = {"url": url, "events": [], "secret_env": "HOOK_TEST_SECRET", **args}
    return add_subscription(ws, acting(ws, by).admin_statement("webhook.add", given))


def test_only_an_administrator_subscribes_or_lists(ws: Any) -> None:
    with pytest.raises(ForbiddenError, match="manage webhook subscriptions"):
        subscribe(ws, "http://127.0.0.1:9/hook", by=DANA)
    with pytest.raises(ForbiddenError, match="manage webhook subscriptions"):
        overview(ws, acting(ws, DANA).principal("webhooks.list", required=True))
    made = subscribe(ws, "http://127.0.0.1:9/hook", events=["decision,release"])
    assert made.events == ("decision", "release") and made.id is not None
    seen = overview(ws, acting(ws, ADMIN).principal("webhooks.list", required=True))
    assert [s.url for s in seen.subscriptions] == ["http://127.0.0.1:9/hook"]


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://169.254.169.254/latest/meta-data/", "not a host webhooks may call"),
        ("https://hooks.slack.com/services/T0/B0/X", "not a host webhooks may call"),
        ("http://10.0.0.8:8080/hook", "not a host webhooks may call"),
        ("file:///etc/passwd", "not an http"),
        ("http://user:pw@127.0.0.1/hook", "no user or password"),
        ("http://[::1", "is not a URL"),
    ],
)
def test_subscription_urls_outside_what_is_allowed_are_refused(
    ws: Any, url: str, match: str
) -> None:
    with pytest.raises(UsageError, match=match):
        subscribe(ws, url)


def test_hosts_listed_in_settings_may_be_called(ws: Any) -> None:
    hooks_on(ws, allowed_hosts=("hooks.slack.com",))
    assert subscribe(ws, "https://hooks.slack.com/services/T0/B0/X").url.startswith("https://")
    with pytest.raises(UsageError, match="no webhook event"):
        subscribe(ws, "http://127.0.0.1:9/", events=["everything"])
    with pytest.raises(UsageError, match="--secret-env"):
        subscribe(ws, "http://127.0.0.1:9/", secret_env="my secret")


def test_malformed_settings_subscriptions_say_what_is_wrong(ws: Any) -> None:
    hooks_on(ws, subscriptions='[{"name": "chat", "url": "http://example.org/x", '
             '"secret_env": "S"}]')  # fmt: skip
    with pytest.raises(UsageError, match=r"CLEARANCE_WEBHOOKS is malformed.*not a host"):
        overview(ws, acting(ws, ADMIN).principal("webhooks.list", required=True))


# -- the outbox and delivery ------------------------------------------------------------------


class Receiver:
    """A loopback HTTP receiver that answers with the next scripted status (200 once the
    script runs out) and keeps what it was sent."""

    def __init__(self, script: list[int] | None = None) -> None:
        self.script = list(script or [])
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                code = outer.script.pop(0) if outer.script else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("HOOK_TEST_SECRET", OUT_SECRET)
    made = Receiver()
    yield made
    made.close()


def test_a_decision_is_delivered_signed_in_a_slack_compatible_body(
    ws: Any, tmp_path: Path, receiver: Receiver
) -> None:
    """A NO-GO check enqueues `signoff.waiting` and `decision` in its own transaction; the
    worker POSTs them with a signature the receiver verifies and a `text` for chat."""
    subscribe(ws, receiver.url)
    check(ws, load(ws, write_plan_folder(tmp_path / "project")))
    with ws.engine.connect() as conn:
        rows = conn.execute(sa.select(t.webhook_outbox.c.event, t.webhook_outbox.c.state)).all()
    assert sorted(rows) == [("decision", "pending"), ("signoff.waiting", "pending")]
    done = deliver_due(ws)
    assert (done.delivered, done.retried, done.dead) == (2, 0, 0)
    bodies = {}
    for headers, body in receiver.received:
        _, event_id = wire.verify(OUT_SECRET, headers, body, ws.clock().timestamp(), 300)
        bodies[headers[wire.EVENT]] = json.loads(body)
        assert bodies[headers[wire.EVENT]]["event_id"] == event_id
    decision = bodies["decision"]
    assert decision["text"].startswith("credit-scoring 2.4.0 → production: NO-GO (")
    assert {"system", "version", "target", "candidate", "occurred_at", "details"} <= set(decision)
    assert "signoff" in decision["details"]["blocking"]
    waiting = bodies["signoff.waiting"]
    assert "waits for sign-off by eng-manager, model-risk" in waiting["text"]
    check(ws, load(ws, tmp_path / "project/plan.yaml"))  # the same sign-offs still missing
    with ws.engine.connect() as conn:
        events = conn.execute(sa.select(t.webhook_outbox.c.event)).scalars().all()
    assert sorted(events) == ["decision", "decision", "signoff.waiting"]


def test_a_rolled_back_write_leaves_no_outbox_row(ws: Any, receiver: Receiver) -> None:
    """The outbox row belongs to its event's transaction: no event, no notification."""
    subscribe(ws, receiver.url)
    with pytest.raises(RuntimeError), ws.transaction() as uow:
        uow.append("attestation.revoked", actor=ADMIN, subject="sha256:" + "0" * 64, payload={})
        raise RuntimeError("the use case failed after appending")
    with ws.transaction() as uow:
        uow.append(
            "attestation.revoked",
            actor=ADMIN,
            subject="sha256:" + "0" * 64,
            payload={"reason": "key compromised", "target": "production"},
        )
    with ws.engine.connect() as conn:
        bodies = conn.execute(sa.select(t.webhook_outbox.c.body)).scalars().all()
    assert len(bodies) == 1
    assert json.loads(bodies[0])["text"].endswith(
        "was revoked by admin@example.com: key compromised"
    )


def test_failures_are_retried_with_backoff_then_dead_and_listed(
    ws: Any, tmp_path: Path, receiver: Receiver
) -> None:
    hooks_on(ws, max_attempts=3, backoff=10.0)
    subscribe(ws, receiver.url, events=["decision"])
    check(ws, load(ws, write_plan_folder(tmp_path / "project")))
    receiver.script = [500, 503, 500]
    assert deliver_due(ws).retried == 1
    assert deliver_due(ws).attempts == 0  # not due for 10 s
    ws.clock.now += timedelta(seconds=10)
    assert deliver_due(ws).retried == 1
    ws.clock.now += timedelta(seconds=19)
    assert deliver_due(ws).attempts == 0  # the second wait is 20 s
    ws.clock.now += timedelta(seconds=1)
    final = deliver_due(ws)
    assert final.dead == 1 and "HTTP 500" in final.errors[0]
    seen = overview(ws, acting(ws, ADMIN).principal("webhooks.list", required=True), "dead")
    assert [(r.state, r.attempts) for r in seen.deliveries] == [("dead", 3)]
    assert seen.counts == {"dead": 1}
    with ws.engine.connect() as conn:
        attempts = conn.execute(sa.select(t.webhook_attempts.c.status_code)).scalars().all()
    assert attempts == [500, 503, 500]


def test_a_removed_subscription_gets_nothing_more(
    ws: Any, tmp_path: Path, receiver: Receiver
) -> None:
    made = subscribe(ws, receiver.url)
    check(ws, load(ws, write_plan_folder(tmp_path / "project")))
    remove_subscription(ws, acting(ws, ADMIN).admin_statement("webhook.remove", {"id": made.id}))
    done = deliver_due(ws)
    assert done.dead == 2 and receiver.received == []
    assert "was removed" in done.errors[0]
    with pytest.raises(ConflictError, match="removed already"):
        remove_subscription(
            ws, acting(ws, ADMIN).admin_statement("webhook.remove", {"id": made.id})
        )


def test_settings_subscriptions_are_delivered_without_a_record(
    ws: Any, tmp_path: Path, receiver: Receiver
) -> None:
    config = [
        {
            "name": "chat",
            "url": receiver.url,
            "events": ["decision"],
            "secret_env": "HOOK_TEST_SECRET",
        }
    ]
    hooks_on(ws, subscriptions=json.dumps(config))
    check(ws, load(ws, write_plan_folder(tmp_path / "project")))
    assert deliver_due(ws).delivered == 1
    assert json.loads(receiver.received[0][1])["event"] == "decision"


def test_delivery_attempts_cannot_be_rewritten(ws: Any, tmp_path: Path, receiver: Receiver) -> None:
    """The attempt log is insert-only: a failure cannot be erased to hide it."""
    subscribe(ws, receiver.url, events=["decision"])
    check(ws, load(ws, write_plan_folder(tmp_path / "project")))
    receiver.script = [500]
    deliver_due(ws)
    for statement in (
        "UPDATE webhook_attempts SET status_code = 200",
        "DELETE FROM webhook_attempts",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="insert-only"), ws.engine.begin() as conn:
            conn.execute(sa.text(statement))


# -- the command line --------------------------------------------------------------------------


def test_the_webhooks_commands_subscribe_deliver_and_show_dead_letters(
    ws: Any, tmp_path: Path, receiver: Receiver, database_url: str | None
) -> None:
    """`webhooks add` (administrators, allowed URLs), `deliver` once, `list` with the dead
    letter and why; exit codes 77 and 2 for the refusals."""
    from tests.cli.harness import invoke

    keys = {}
    for name in (ADMIN, DANA):
        keys[name] = str(tmp_path / f"{name}.pem")
        ws.keys[name].save(Path(keys[name]))
    env = {
        "CLEARANCE_WORKSPACE": str(ws.settings.workspace),
        "CLEARANCE_WEBHOOK_MAX_ATTEMPTS": "1",
        **({"CLEARANCE_DATABASE_URL": database_url} if database_url else {}),
    }
    add = (
        "webhooks",
        "add",
        receiver.url,
        "--events",
        "decision",
        "--secret-env",
        "HOOK_TEST_SECRET",
    )
    refused = invoke(tmp_path, *add, "--key", keys[DANA], env=env)
    assert refused.returncode == 77 and "manage webhook subscriptions" in refused.stderr
    outside = invoke(
        tmp_path, *add[:2], "http://10.1.2.3/hook", *add[3:], "--key", keys[ADMIN], env=env
    )
    assert outside.returncode == 2 and "CLEARANCE_WEBHOOK_HOSTS" in outside.stderr
    added = invoke(tmp_path, *add, "--key", keys[ADMIN], env=env)
    assert added.returncode == 0 and "subscription 1" in added.stdout, added.stderr
    check(ws, load(ws, write_plan_folder(tmp_path / "project")))
    receiver.script = [500]
    ran = invoke(tmp_path, "webhooks", "deliver", env=env)
    assert ran.returncode == 0 and "1 dead" in ran.stdout and "HTTP 500" in ran.stderr
    listed = invoke(tmp_path, "webhooks", "list", "--state", "dead", "--key", keys[ADMIN], env=env)
    assert listed.returncode == 0 and "dead" in listed.stdout and "HTTP 500" in listed.stdout
    as_json = invoke(
        tmp_path, "webhooks", "list", "--format", "json", "--key", keys[ADMIN], env=env
    )
    shown = json.loads(as_json.stdout)
    assert shown["counts"] == {"dead": 1}
    assert [(d["event"], d["state"], d["attempts"]) for d in shown["deliveries"]] == [
        ("decision", "dead", 1)
    ]
    hidden = invoke(tmp_path, "webhooks", "list", "--key", keys[DANA], env=env)
    assert hidden.returncode == 77
    malformed = {**env, "CLEARANCE_WEBHOOKS": "not json"}
    refused = invoke(tmp_path, "serve", "--port", "0", env=malformed)  # before listening
    assert refused.returncode == 2 and "CLEARANCE_WEBHOOKS is malformed" in refused.stderr
