"""The release story through the API, driven by the CLI's RemoteClient: the same results,
reasons and records as locally, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from clearance.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    PlanError,
    UsageError,
)
from tests.api.conftest import AUDITOR, CI, Team
from tests.builders import ADMIN, write_plan_folder

DANA, ERIK, CAROL, ALICE = (f"{n}@example.com" for n in ("dana", "erik", "carol", "alice"))


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    return write_plan_folder(tmp_path / "project")


def go(team: Team, plan_path: Path) -> str:
    """CI checks; carol attests user testing; dana and erik sign off; CI checks again."""
    ci = team.remote(CI, key=False)
    first = ci.check(ci.plan(plan_path))
    assert first.evaluation.decision == "NO-GO"
    assert {r.id for r in first.evaluation.blocking()} == {"uat", "signoff"}
    carol = team.remote(CAROL)
    local = carol.plan(plan_path)
    carol.add_evidence(local, "uat", local.resolve("docs/uat.md"), "product-owner", None)
    for person, role in ((DANA, "model-risk"), (ERIK, "eng-manager")):
        me = team.remote(person)
        me.sign_off(me.plan(plan_path), role, "approve", "fine")
    second = ci.check(ci.plan(plan_path))
    assert second.evaluation.decision == "GO", [(r.id, r.reason) for r in second.evaluation.results]
    return second.candidate


def test_remote_release_story_matches_local_results(team: Team, plan_path: Path, tmp_path: Path):
    from clearance.exports.pack import verify_pack
    from clearance.services.gate import evaluate
    from clearance.services.plans import stored_plan
    from clearance.store import repository as repo

    candidate = go(team, plan_path)
    with team.ws.engine.connect() as conn:
        record = repo.get_candidate(conn, candidate)
        local = evaluate(conn, team.ws, stored_plan(conn, record), record)
    remote = team.remote(AUDITOR).call("GET", f"/candidates/{candidate}/evaluation")
    assert remote == local.as_json()  # the same results and reasons as `check`

    ci = team.remote(CI, key=False)
    done = ci.release(ci.plan(plan_path))
    assert not done.already and done.candidate == candidate
    assert {c["name"] for c in done.components} == {"scorer"}
    state = ci.status()
    assert [(d.system_id, d.target, d.component.name) for d in state.inventory] == [
        ("credit-scoring", "production", "scorer")
    ]
    auditor = team.remote(AUDITOR)
    pack = auditor.export(auditor.plan(plan_path), tmp_path / "pack.zip")
    assert pack.candidate == candidate and zipfile.is_zipfile(pack.path)
    assert verify_pack(pack.path, trusted=[team.ws.signing_key.public_raw]) == []

    checked = auditor.log_verify(auditor.log_checkpoint())
    assert checked.failures == [] and checked.events > 20


def test_service_account_cannot_sign_off_or_hold_a_key(team: Team, plan_path: Path) -> None:
    from clearance.services.people import add_key
    from clearance.signing import SigningKey, b64
    from tests.builders import acting

    ci = team.remote(CI, key=False)
    ci.check(ci.plan(plan_path))
    # CI's token carrying dana's statement: signed by someone else, refused
    dana = team.remote(DANA)
    envelope = dana.approval(dana.plan(plan_path), "model-risk", "approve", "ok")
    with pytest.raises(ForbiddenError, match="sign"):
        ci.call("POST", "/approvals", json={"envelope": envelope})
    # and no key can be registered for a service account, by anyone
    statement = acting(team.ws, ADMIN).admin_statement(
        "key.add", {"name": CI, "public_key": b64(SigningKey.generate().public_raw)}
    )
    with pytest.raises(UsageError, match="service account"):
        add_key(team.ws, statement)


def test_a_token_signs_only_with_its_own_persons_key(team: Team, plan_path: Path) -> None:
    """Erik's token with dana's key: the client refuses, and so does the server."""
    ci = team.remote(CI, key=False)
    ci.check(ci.plan(plan_path))
    erik_with_danas_key = team.remote(ERIK)
    erik_with_danas_key.key = team.ws.keys[DANA]
    with pytest.raises(ForbiddenError, match="not registered to erik"):
        erik_with_danas_key.plan(plan_path) and erik_with_danas_key.sign_off(
            erik_with_danas_key.plan(plan_path), "model-risk", "approve", "ok"
        )
    dana = team.remote(DANA)
    envelope = dana.approval(dana.plan(plan_path), "model-risk", "approve", "ok")
    erik = team.remote(ERIK)
    with pytest.raises(ForbiddenError, match="signed by dana"):
        erik.call("POST", "/approvals", json={"envelope": envelope})


def test_owner_cannot_approve_remotely_either(team: Team, plan_path: Path) -> None:
    ci = team.remote(CI, key=False)
    ci.check(ci.plan(plan_path))
    alice = team.remote(ALICE)
    with pytest.raises(ForbiddenError, match="separation of duties"):
        alice.sign_off(alice.plan(plan_path), "model-risk", "approve", "mine")


def test_a_no_go_release_is_refused_with_its_reasons(team: Team, plan_path: Path) -> None:
    from clearance.client.remote import RemoteNoGo

    ci = team.remote(CI, key=False)
    with pytest.raises(RemoteNoGo) as refused:
        ci.release(ci.plan(plan_path))
    assert isinstance(refused.value, ConflictError) and refused.value.exit_code == 1
    assert {r.id for r in refused.value.evaluation.blocking()} == {"uat", "signoff"}


def test_a_bad_plan_gets_its_problems_with_positions(team: Team, plan_path: Path) -> None:
    ci = team.remote(CI, key=False)
    text = plan_path.read_text().replace("target: production", "target: mars")
    plan_path.write_text(text)
    with pytest.raises(PlanError) as bad:
        ci.plan(plan_path)  # validated here against the server's declared targets
    assert bad.value.problems[0].line is not None and "mars" in bad.value.problems[0].message
    body = {"text": text, "filename": "plan.yaml", "digests": {}, "files": []}
    with pytest.raises(PlanError) as again:
        ci.call("POST", "/checks", json=body)  # and validated again by the server
    assert again.value.problems[0].field == "release.target"


def test_evidence_is_uploaded_once_and_downloads_as_stored(team: Team, plan_path: Path) -> None:
    ci = team.remote(CI, key=False)
    first = ci.check(ci.plan(plan_path))
    found = ci.call("GET", f"/candidates/{first.candidate}/evidence")["items"]
    metrics = next(e for e in found if e["name"] == "eval/metrics.json")
    assert set(metrics) >= {"id", "digest", "size", "added_by", "criterion_id"}
    assert "envelope" in metrics and "row_digest" not in metrics
    content = ci.http.get(f"/api/v1/evidence/{metrics['id']}/content")
    assert content.status_code == 200
    assert content.content == (plan_path.parent / "eval/metrics.json").read_bytes()
    from tests.services.test_small_blobs import held_in_database

    assert metrics["digest"] in held_in_database(team.ws)  # a small upload: in the database
    uploads = []
    ci.http.event_hooks["request"].append(lambda r: uploads.append(r.url.path))
    ci.check(ci.plan(plan_path))
    assert "/api/v1/blobs" not in uploads  # every blob was there already (HEAD said so)


def test_upload_limit_is_enforced(team: Team, tmp_path: Path) -> None:
    import dataclasses

    team.ws.settings = dataclasses.replace(team.ws.settings, max_upload_bytes=1000)
    headers = team.as_(CI)
    answer = team.http.post("/api/v1/blobs", content=b"x" * 2000, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_evidence"

    def chunks():  # no Content-Length: counted while streaming
        for _ in range(4):
            yield b"y" * 600

    answer = team.http.post("/api/v1/blobs", content=chunks(), headers=headers)
    assert answer.status_code == 422


def test_idempotency_key_gives_the_first_answer_and_no_second_record(
    team: Team, plan_path: Path
) -> None:
    from clearance.store import repository as repo

    ci = team.remote(CI, key=False)
    local = ci.plan(plan_path)
    body = {**ci._plan_body(local), "files": ci.upload_named_files(local, None)}
    key = {"Idempotency-Key": "check-1"}
    first = ci.http.post("/api/v1/checks", json=body, headers=key)
    again = ci.http.post("/api/v1/checks", json=body, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    with team.ws.engine.connect() as conn:
        assert len(repo.decisions_of(conn, first.json()["candidate"])) == 1
    other = ci.http.post("/api/v1/checks", json={**body, "filename": "x.yaml"}, headers=key)
    assert other.status_code == 400 and "another request" in other.json()["error"]["message"]
    # another caller's same key is another request
    auditor = team.remote(CI, key=False)
    assert auditor.http.post("/api/v1/checks", json=body, headers=key).status_code == 200


def test_expired_and_revoked_tokens_are_refused(team: Team, clock) -> None:
    from datetime import timedelta

    from clearance.services.tokens import revoke_token
    from tests.builders import acting

    assert team.http.get("/api/v1/systems", headers=team.as_(CI)).status_code == 200
    revoke_token(team.ws, acting(team.ws, ADMIN).admin_statement("token.revoke", {"name": "t-7"}))
    refused = team.remote(CI)
    with pytest.raises(AuthenticationError, match="revoked"):
        refused.call("GET", "/systems")
    clock.now += timedelta(days=31)
    with pytest.raises(AuthenticationError, match="expired"):
        team.remote(AUDITOR).call("GET", "/systems")


def test_tokens_are_stored_only_as_hashes(team: Team) -> None:
    import sqlalchemy as sa

    with team.ws.engine.connect() as conn:
        dump = json.dumps(
            [list(map(str, r)) for r in conn.execute(sa.text("SELECT * FROM api_tokens"))]
        )
        log = json.dumps([list(map(str, r)) for r in conn.execute(sa.text("SELECT * FROM events"))])
    for token in team.tokens.values():
        assert token not in dump and token not in log
        assert token.removeprefix("clr_") not in dump


def test_conflicting_plan_edits_get_409(team: Team, plan_path: Path) -> None:
    """Two people edit from the same revision; the second submit is refused, not lost."""
    alice = team.remote(ALICE)
    first = alice.submit(alice.plan(plan_path), "First release")
    text = plan_path.read_text()
    plan_path.write_text(text.replace("threshold: 0.8", "threshold: 0.81"))
    mine = alice.submit(alice.plan(plan_path), "Raise AUC", parent=first.revision)
    assert mine.new_revision
    plan_path.write_text(text.replace("threshold: 0.8", "threshold: 0.79"))
    erik = team.remote(ERIK)
    with pytest.raises(ConflictError, match="changed since") as refused:
        erik.submit(erik.plan(plan_path), "Lower AUC", parent=first.revision)
    assert refused.value.exit_code == 1
    answer = erik.http.post(
        "/api/v1/plans",
        json={**erik._plan_body(erik.plan(plan_path)), "message": "m", "parent": first.revision},
    )
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "conflict"


def test_a_write_whose_answer_is_lost_is_retried_without_a_second_record(
    team: Team, plan_path: Path
) -> None:
    """The first answer is lost on the way back; the client sends the same request with the
    same Idempotency-Key and gets the first answer; one decision is recorded."""
    import httpx

    from clearance.store import repository as repo

    ci = team.remote(CI, key=False)
    local = ci.plan(plan_path)
    real = ci.http.send
    keys: list[str] = []

    def lossy(request: httpx.Request, **kw):
        answer = real(request, **kw)
        if request.url.path == "/api/v1/checks":
            keys.append(request.headers["Idempotency-Key"])
            if len(keys) == 1:
                raise httpx.ReadError("connection reset", request=request)
        return answer

    ci.http.send = lossy  # type: ignore[method-assign]
    outcome = ci.check(local)
    assert len(keys) == 2 and keys[0] == keys[1]
    with team.ws.engine.connect() as conn:
        assert len(repo.decisions_of(conn, outcome.candidate)) == 1


def test_a_token_is_shown_once_even_to_a_retry(team: Team) -> None:
    """A retry of token creation with the same Idempotency-Key is refused: the answer held
    the secret, which is never kept; no second token is made."""
    from datetime import timedelta

    from clearance.store import tokens as repo
    from clearance.store.records import to_time
    from tests.builders import acting

    args = {"name": "retry", "person": CAROL, "scopes": ["read"], "expires": None}
    args["expires"] = to_time(team.ws.clock() + timedelta(days=1))
    body = {"envelope": acting(team.ws, ADMIN).admin_statement("token.create", args)}
    headers = {**team.as_(ADMIN), "Idempotency-Key": "make-retry"}
    first = team.http.post("/api/v1/tokens", json=body, headers=headers)
    assert first.status_code == 201 and first.json()["token"].startswith("clr_")
    again = team.http.post("/api/v1/tokens", json=body, headers=headers)
    assert again.status_code == 400 and "not kept" in again.json()["error"]["message"]
    assert "clr_" not in again.text
    with team.ws.engine.connect() as conn:
        assert [t.name for t in repo.tokens(conn)].count("retry") == 1
