"""Webhooks over HTTP: a change system's signed delivery needs no token and moves the change
criterion; forged, stale, replayed and unknown-ticket deliveries are refused in the one
error shape; only administrators subscribe and see deliveries."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from clearance.integrations import webhooks as wire
from clearance.settings import WebhookSettings
from tests.api.conftest import AUDITOR, CI, Team
from tests.builders import ADMIN, plan_document, write_plan_folder
from tests.services.test_webhooks import JIRA_COMMENT, SERVICENOW_ASSESS, SERVICENOW_SCHEDULED

SECRET = "shared-with-servicenow"
DANA = "dana@example.com"
HOOK = "/api/v1/hooks/changes"


@pytest.fixture
def hooked(team: Team, tmp_path: Path) -> tuple[Team, str]:
    """The team with inbound webhooks on and a checked candidate whose plan names CHG0042."""
    team.ws.settings = dataclasses.replace(
        team.ws.settings, webhooks=WebhookSettings(hook_secret=SECRET)
    )
    document = plan_document()
    document["criteria"].append({"id": "change", "kind": "change"})
    plan = write_plan_folder(tmp_path / "project", document=document)
    ci = team.remote(CI, key=False)
    assert change_status(ci, plan) == "pending"
    return team, str(plan)


def change_status(ci: Any, plan: Any) -> str:
    checked = ci.check(ci.plan(Path(plan)))
    return next(r.status.value for r in checked.evaluation.results if r.id == "change")


def post(
    team: Team, payload: Any, *, source: str = "servicenow", delivery: str = "d-1", **kw: Any
) -> Any:
    body = json.dumps(payload).encode()
    stamp = int(team.ws.clock().timestamp()) - kw.pop("age", 0)
    headers = wire.signed_headers(kw.pop("secret", SECRET), body, stamp, delivery)
    headers |= kw.pop("headers", {})
    return team.http.post(f"{HOOK}/{source}", content=kw.pop("body", body), headers=headers)


def test_a_signed_delivery_moves_the_change_criterion(hooked: tuple[Team, str]) -> None:
    team, plan = hooked
    ci = team.remote(CI, key=False)
    assessed = post(team, SERVICENOW_ASSESS, delivery="sn-1")
    assert assessed.status_code == 201, assessed.text
    assert assessed.json() | {"systems": None} == {
        "recorded": True,
        "source": "servicenow",
        "ticket": "CHG0042",
        "state": "Assess",
        "decision": "pending",
        "systems": None,
        "reason": "",
    }
    assert change_status(ci, plan) == "pending"
    team.ws.clock.now += timedelta(seconds=2)  # a later report: the newest wins
    assert post(team, SERVICENOW_SCHEDULED, delivery="sn-2").status_code == 201
    assert change_status(ci, plan) == "passed"


ATTACKS = [
    ("bad signature", {"secret": "guessed"}, 401, "unauthenticated", "does not verify"),
    ("stale", {"age": 600}, 401, "unauthenticated", "outside the 300 s replay window"),
    ("unsigned", {"headers": {wire.SIGNATURE: ""}}, 401, "unauthenticated", "not signed"),
    ("body swapped", {"body": b'{"result": {"number": "CHG0042", "approval": "approved"}}'},
     401, "unauthenticated", "does not verify"),
    ("unknown source", {"source": "remedy"}, 404, "not_found", "no change system"),
    ("oversized", {"payload": {"result": {"number": "CHG0042", "pad": "x" * (1 << 20)}}}, 400,
     "usage", "at most"),
    ("unknown ticket", {"payload": {"result": {"number": "CHG7777", "approval": "approved"}}},
     404, "not_found", "no plan names servicenow change CHG7777"),
]  # fmt: skip


def test_forged_stale_replayed_and_unknown_deliveries_record_nothing(
    hooked: tuple[Team, str],
) -> None:
    """Each attack gets its status in the one error shape, and no ticket state is recorded;
    an API token is no substitute for the signature; a Jira event without an issue state
    is accepted (202) and ignored."""
    team, plan = hooked
    for name, given, status, code, fragment in ATTACKS:
        kw = dict(given)
        answer = post(team, kw.pop("payload", SERVICENOW_SCHEDULED), delivery=name, **kw)
        assert answer.status_code == status, (name, answer.text)
        error = answer.json()["error"]
        assert error["code"] == code and fragment in error["message"], (name, error)
    token_only = team.http.post(
        f"{HOOK}/servicenow", json=SERVICENOW_SCHEDULED, headers=team.as_(ADMIN)
    )
    assert token_only.status_code == 401
    ignored = post(team, JIRA_COMMENT, source="jira")
    assert ignored.status_code == 202 and ignored.json()["recorded"] is False
    assert change_status(team.remote(CI, key=False), plan) == "pending"
    assert post(team, SERVICENOW_SCHEDULED, delivery="sn-9").status_code == 201
    replay = post(team, SERVICENOW_SCHEDULED, delivery="sn-9")
    assert replay.status_code == 409 and "received already" in replay.json()["error"]["message"]


def test_only_administrators_see_deliveries_and_subscribe(team: Team) -> None:
    for person, status in ((ADMIN, 200), (DANA, 403), (AUDITOR, 403), (None, 401)):
        answer = team.http.get("/api/v1/webhooks/deliveries", headers=team.as_(person))
        assert answer.status_code == status, (person, answer.text)
    assert team.http.get(
        "/api/v1/webhooks/deliveries?state=dead", headers=team.as_(ADMIN)
    ).json() == {"counts": {}, "items": [], "next_cursor": None}
    for person, args, status in (
        (DANA, _args(), 403),
        (ADMIN, _args(url="http://169.254.169.254/latest"), 400),
        (ADMIN, _args(), 201),
    ):
        envelope = team.remote(person).admin_statement("webhook.add", args)
        answer = team.http.post(
            "/api/v1/webhooks/subscriptions", json={"envelope": envelope}, headers=team.as_(person)
        )
        assert answer.status_code == status, (person, answer.text)
    listed = team.http.get("/api/v1/webhooks/subscriptions", headers=team.as_(ADMIN)).json()
    assert [s["url"] for s in listed["items"]] == ["http://127.0.0.1:9/hook"]


def _args(url: str = "http://127.0.0.1:9/hook") -> dict[str, Any]:
    return {"url": url, "events": ["decision"], "secret_env": "CHAT_SECRET"}


def test_deliveries_page_newest_first_with_a_cursor(team: Team) -> None:
    from clearance.services.webhooks import add_subscription
    from tests.builders import acting

    add_subscription(
        team.ws, acting(team.ws, ADMIN).admin_statement("webhook.add", {**_args(), "events": []})
    )
    for i in range(5):
        with team.ws.transaction() as uow:
            uow.append("attestation.revoked", actor=ADMIN, subject=f"sha256:{i:064x}", payload={})
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        answer = team.http.get(
            "/api/v1/webhooks/deliveries", params=params, headers=team.as_(ADMIN)
        ).json()
        seen += [item["id"] for item in answer["items"]]
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 5
    assert answer["counts"] == {"pending": 5}
