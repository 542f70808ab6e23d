"""Every endpoint × every kind of caller × an object of another system: no unauthorised
2xx. Requests are ones the right caller gets a 2xx for, so a refusal is the authorisation
speaking, not a malformed request; each endpoint is tried by the wrong callers first."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import AUDITOR, CI, OUTSIDER, Team
from tests.builders import ADMIN, acting, set_policy, write_plan_folder

ALICE, DANA, ERIK, CAROL = (f"{n}@example.com" for n in ("alice", "dana", "erik", "carol"))
PERSONS = [ADMIN, ALICE, DANA, ERIK, CAROL, AUDITOR, CI, OUTSIDER]
BAD = ["no token", "expired", "revoked", "garbage"]
#: who sees credit-scoring: an organisation-wide role, or a role for it
SEES = {ADMIN, ALICE, DANA, ERIK, CAROL, AUDITOR, CI}
WRITERS = SEES - {AUDITOR}  # the auditor's token is read-only
POLICY = """
apiVersion: clearance/v1
kind: Policy
targets:
  production:
    waivers:
      - {roles: [eng-manager], criteria: [uat]}
"""


def _bad_tokens(team: Team) -> dict[str, dict[str, str]]:
    """Headers of an expired, a revoked, a malformed token, and of none."""
    import sqlalchemy as sa

    from clearance.services.tokens import revoke_token, token_hash
    from clearance.store import tables as t
    from clearance.store.records import to_time
    from tests.api.conftest import make_token

    revoked = make_token(team.ws, DANA, "soon-revoked")
    revoke_token(
        team.ws, acting(team.ws, ADMIN).admin_statement("token.revoke", {"name": "soon-revoked"})
    )
    expired = "clr_" + "e" * 43
    past = to_time(team.ws.clock() - timedelta(days=1))
    with team.ws.engine.begin() as conn:  # a token whose time has passed
        conn.execute(
            sa.insert(t.api_tokens).values(
                name="expired", person=DANA, scopes='["read", "sign", "write"]',
                token_hash=token_hash(expired), created_by=ADMIN, created_at=past,
                expires_at=past,
            )
        )  # fmt: skip
    return {
        "no token": {},
        "expired": {"Authorization": f"Bearer {expired}"},
        "revoked": {"Authorization": f"Bearer {revoked}"},
        "garbage": {"Authorization": "Bearer clr_not-a-token"},
    }


def _state(team: Team, tmp_path: Path) -> dict[str, Any]:
    """A checked candidate of credit-scoring with evidence, and statements to send."""
    from clearance.signing import SigningKey, b64

    set_policy(team.ws, POLICY)
    plan_path = write_plan_folder(tmp_path / "project")
    ci = team.remote(CI, key=False)
    local = ci.plan(plan_path)
    outcome = ci.check(local)
    candidate = outcome.candidate
    evidence = ci.call("GET", f"/candidates/{candidate}/evidence")["items"][0]
    revision = ci.call("GET", f"/candidates/{candidate}")["revision"]
    event = ci.call("GET", "/log/events", params={"subject": candidate})["items"][0]["seq"]
    dana, erik = team.remote(DANA), team.remote(ERIK)
    admin = team.remote(ADMIN)
    new_key = SigningKey.generate()
    body = {**ci._plan_body(local), "files": ci.upload_named_files(local, None)}
    return {
        "candidate": candidate,
        "revision": revision,
        "evidence": evidence["id"],
        "digest": evidence["digest"],
        "event": event,
        "plan": body,
        "share": {"releases": [{"system": "credit-scoring", "version": "2.4.0"}]},
        "evidence_body": {
            **ci._plan_body(local),
            "criterion": "uat",
            "name": "docs/uat.md",
            "digest": evidence["digest"],
            "size": evidence["size"],
        },
        "approval": dana.approval(dana.plan(plan_path), "model-risk", "approve", "ok"),
        "waiver": erik.waiver(
            erik.plan(plan_path), "uat", "eng-manager", "pilot", team.ws.clock() + timedelta(days=7)
        ),
        "person": admin.admin_statement(
            "person.add", {"name": "new@example.com", "roles": ["auditor"]}
        ),
        "role": admin.admin_statement("role.grant", {"name": CAROL, "role": "auditor"}),
        "target": admin.admin_statement("target.declare", {"name": "staging"}),
        "policy": admin.admin_statement(
            "policy.set", {"policy": __import__("yaml").safe_load(POLICY)}
        ),
        "token": admin.admin_statement(
            "token.create",
            {"name": "made-here", "person": CAROL, "scopes": ["read"], "expires": _later(team)},
        ),
        "token_revoke": admin.admin_statement("token.revoke", {"name": "t-1"}),
        "webhook": admin.admin_statement(
            "webhook.add", {"url": "http://127.0.0.1:9/hook", "events": [], "secret_env": "S"}
        ),
        "key": dana.admin_statement(
            "key.add", {"name": DANA, "public_key": b64(new_key.public_raw)}
        ),
    }


def _later(team: Team) -> str:
    from clearance.store.records import to_time

    return to_time(team.ws.clock() + timedelta(days=3))


def _endpoints(s: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], set[str]]]:
    """(method, path, request keywords, callers allowed a 2xx)."""
    c, r, everyone = s["candidate"], s["revision"], set(PERSONS)
    signed = lambda name: {"json": {"envelope": s[name]}}  # noqa: E731
    return [
        ("GET", "/context", {}, everyone),
        ("GET", "/whoami", {}, everyone),
        ("GET", "/systems", {}, everyone),
        ("GET", "/systems/credit-scoring", {}, SEES),
        ("GET", "/systems/credit-scoring/revisions", {}, SEES),
        ("GET", f"/revisions/{r}", {}, SEES),
        ("GET", f"/revisions/{r}/diff/{r}", {}, SEES),
        ("GET", f"/candidates/{c}", {}, SEES),
        ("GET", f"/candidates/{c}/evaluation", {}, SEES),
        ("GET", f"/candidates/{c}/evidence-set", {}, SEES),
        ("GET", f"/candidates/{c}/evidence", {}, SEES),
        ("GET", f"/candidates/{c}/approvals", {}, SEES),
        ("GET", f"/candidates/{c}/waivers", {}, SEES),
        ("GET", f"/candidates/{c}/decisions", {}, SEES),
        ("GET", f"/evidence/{s['evidence']}", {}, SEES),
        ("GET", f"/evidence/{s['evidence']}/content", {}, SEES),
        ("GET", "/releases", {}, everyone),
        ("GET", "/status", {}, everyone),
        ("GET", "/log/events", {}, everyone),
        ("GET", "/log/checkpoint", {}, everyone),
        ("GET", "/log/consistency", {"params": {"old": 1}}, everyone),
        ("GET", f"/log/events/{s['event']}/proof", {}, SEES),
        ("POST", "/log/verifications", {}, everyone),
        ("GET", "/people", {}, everyone),
        ("GET", "/tokens", {}, everyone),
        ("POST", "/approvals", signed("approval"), {DANA}),
        ("POST", "/waivers", signed("waiver"), {ERIK}),  # before the evidence changes
        ("POST", "/packs", {"json": {"candidate": c}}, SEES),
        ("HEAD", f"/blobs/{s['digest']}", {}, WRITERS | {OUTSIDER}),
        ("POST", "/blobs", {"content": b"new evidence"}, WRITERS | {OUTSIDER}),
        ("POST", "/plans", {"json": {**s["plan"], "message": "m"}}, WRITERS),
        ("POST", "/checks", {"json": s["plan"]}, WRITERS),
        ("POST", "/evidence", {"json": s["evidence_body"]}, WRITERS),
        ("POST", "/releases", {"json": s["plan"]}, set()),  # NO-GO: refused for everyone
        ("POST", "/waiver-revocations", signed("approval"), set()),  # not a revocation
        # plan has no findings criterion; the flows are in tests/behaviour
        ("GET", f"/candidates/{c}/findings", {"params": {"criterion": "auc"}}, set()),
        ("POST", "/finding-acceptances", signed("approval"), set()),  # not an acceptance
        ("POST", "/acknowledgements", signed("approval"), set()),  # nor an acknowledgement
        # reviewer links: the system's owner (alice) or an administrator; link 1 is the
        # administrator's (the first allowed caller), and its owner may read its access log
        ("POST", "/shares", {"json": s["share"]}, {ALICE, ADMIN}),
        ("GET", "/shares", {}, everyone),  # each sees only the links they manage
        ("GET", "/shares/1/access", {}, {ALICE, ADMIN}),
        ("POST", "/people", signed("person"), {ADMIN}),
        ("POST", "/roles", signed("role"), {ADMIN}),
        ("POST", "/targets", signed("target"), {ADMIN}),
        ("POST", "/policy", signed("policy"), {ADMIN}),
        ("POST", "/tokens", signed("token"), {ADMIN}),
        ("POST", "/tokens/revocations", signed("token_revoke"), {ADMIN}),
        ("POST", "/keys", signed("key"), {DANA}),
        ("POST", "/keys/retirements", signed("key"), set()),  # not a retirement
        ("GET", "/webhooks/deliveries", {}, {ADMIN}),
        ("GET", "/webhooks/subscriptions", {}, {ADMIN}),
        ("POST", "/webhooks/subscriptions", signed("webhook"), {ADMIN}),
        # reviewer link 1 (the administrator's) is revoked once: alice, its system's owner,
        # has lost her token to /tokens/revocations above
        ("POST", "/shares/1/revocation", {}, {ADMIN}),
        # a change system signs with the shared secret, never a token: unsigned, refused
        ("POST", "/hooks/changes/servicenow", {"json": {"result": {}}}, set()),
    ]


def test_no_unauthorised_2xx_anywhere(team: Team, tmp_path: Path) -> None:
    bad = _bad_tokens(team)
    state = _state(team, tmp_path)
    leaks = []
    for method, path, kw, allowed in _endpoints(state):
        callers = [*BAD, *(p for p in PERSONS if p not in allowed), *sorted(allowed)]
        for who in callers:
            headers = bad[who] if who in BAD else team.as_(who)
            answer = team.http.request(method, f"/api/v1{path}", headers=headers, **kw)
            if who in BAD:
                assert answer.status_code == 401, (method, path, who, answer.text)
                continue
            if who not in allowed:
                assert not 200 <= answer.status_code < 300, (method, path, who, answer.text)
                if (
                    who == OUTSIDER
                    and method == "GET"
                    and path.startswith(("/candidates", "/revisions", "/evidence", "/systems/"))
                ):
                    assert answer.status_code == 404, (path, answer.text)
                continue
            assert 200 <= answer.status_code < 300, (method, path, who, answer.text)
            if who == OUTSIDER and answer.content and method != "HEAD":
                text = answer.text
                if "credit-scoring" in text or state["candidate"] in text:
                    leaks.append((path, text[:200]))
    assert leaks == []
    # every operation of the API is in the matrix
    spec = team.http.get("/api/v1/openapi.json").json()
    operations = {
        (method.upper(), _shape(path.removeprefix("/api/v1")))
        for path, item in spec["paths"].items()
        for method in item
        if path not in ("/api/v1/health", "/api/v1/ready")
    }
    tried = {(m, _shape(p)) for m, p, _kw, _allowed in _endpoints(state)}
    assert operations - tried == set()


def _shape(path: str) -> str:
    """A path with its parameters blanked: /candidates/{digest} and /candidates/sha256:… match."""
    import re

    parts = path.split("?")[0].strip("/").split("/")
    fixed = {"candidates", "revisions", "evidence", "systems", "log", "events", "blobs", "keys",
             "tokens", "diff", "proof", "evaluation", "evidence-set", "approvals", "waivers",
             "decisions", "content", "revocations", "retirements", "consistency", "checkpoint",
             "verifications", "context", "whoami", "releases", "status", "people", "roles",
             "targets", "policy", "plans", "checks", "packs", "waiver-revocations", "findings",
             "finding-acceptances", "acknowledgements"}  # fmt: skip
    return "/" + "/".join(p if p in fixed else re.sub(r".+", "*", p) for p in parts)


def test_error_answers_have_one_shape(team: Team) -> None:
    """Every 4xx and 5xx answer is {"error": {"code", "message", "details"}} and no more."""
    auditor = team.as_(AUDITOR)
    answers = [
        team.http.get("/api/v1/systems"),  # 401
        team.http.get("/api/v1/systems", headers={"Authorization": "Basic abc"}),  # 401
        team.http.get("/api/v1/nowhere", headers=auditor),  # 404 route
        team.http.delete("/api/v1/systems", headers=auditor),  # 405
        team.http.get("/api/v1/systems/nope", headers=auditor),  # 404 record
        team.http.get("/api/v1/systems?limit=0", headers=auditor),  # 422 validation
        team.http.get("/api/v1/systems?cursor=%%%", headers=auditor),  # 400 cursor
        team.http.post(
            "/api/v1/checks", json={"text": "a: [", "digests": {}}, headers=team.as_(CI)
        ),
        team.http.post("/api/v1/checks", content=b"{not json", headers=team.as_(CI)),
        team.http.post("/api/v1/plans", json={"text": "x", "message": "m"}, headers=auditor),  # 403
    ]
    assert [a.status_code for a in answers] == [401, 401, 404, 405, 404, 422, 400, 422, 422, 403]
    for answer in answers:
        body = answer.json()
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"code", "message", "details"}, body
        assert isinstance(body["error"]["details"].get("exit_code"), int)
        assert body["error"]["message"] and "Traceback" not in answer.text
    assert answers[0].headers["WWW-Authenticate"] == "Bearer"
    problems = answers[7].json()["error"]["details"]["problems"]
    assert problems[0]["line"] == 2 and problems[0]["file"] == "plan.yaml"  # as the CLI shows


def test_a_bug_is_a_500_in_the_same_shape(team: Team, monkeypatch) -> None:
    from clearance.services import queries

    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(queries, "systems", broken)
    answer = team.http.get("/api/v1/systems", headers=team.as_(AUDITOR))
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal"
    assert answer.json()["error"]["details"]["exit_code"] == 70


@pytest.mark.parametrize("limit", [1, 2, 7])
def test_every_list_pages_with_a_cursor(team: Team, limit: int) -> None:
    """Walking the cursor gives every item once, in order, for any page size."""
    headers = team.as_(ADMIN)
    whole = team.http.get("/api/v1/log/events", params={"limit": 500}, headers=headers).json()
    walked, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        got = team.http.get("/api/v1/log/events", params=params, headers=headers).json()
        walked += got["items"]
        cursor = got["next_cursor"]
        if cursor is None:
            break
    assert [e["seq"] for e in walked] == [e["seq"] for e in whole["items"]]
    people = team.http.get("/api/v1/people", params={"limit": limit}, headers=headers).json()
    assert len(people["items"]) == limit and people["next_cursor"]
    rest = team.http.get(
        "/api/v1/people", params={"limit": 500, "cursor": people["next_cursor"]}, headers=headers
    ).json()
    names = [p["name"] for p in people["items"] + rest["items"]]
    assert names == sorted(names) and len(names) == len(set(names)) == 8


def test_openapi_is_3_1_and_names_the_error_shape(team: Team) -> None:
    spec = team.http.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "ErrorResponse" in spec["components"]["schemas"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_health_and_readiness_need_no_token_and_say_nothing_of_the_data(team: Team) -> None:
    assert team.http.get("/api/v1/health").json() == {"status": "ok"}
    ready = team.http.get("/api/v1/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
