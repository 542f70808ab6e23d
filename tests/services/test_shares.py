"""Reviewer links: only an owner or an administrator shares a release, for at most 30 days;
the token is random and stored only as its hash; a revoked, expired, guessed or
out-of-scope use is refused alike; every use is an event on the log that still verifies."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from clearance.errors import ForbiddenError, NotFoundError, UsageError
from clearance.services.reviewer import (
    LinkRefused,
    download_evidence,
    download_pack,
    open_link,
    view_release,
)
from clearance.services.shares import (
    create_share,
    list_shares,
    release_shares,
    revoke_share,
    share_access_log,
    token_hash,
)
from tests.builders import (
    ADMIN,
    Clock,
    acting,
    attest,
    check,
    load,
    open_workspace,
    plan_document,
    register_signers,
    signoff,
    submit,
    write_plan_folder,
)

OWNER, DANA = "alice@example.com", "dana@example.com"
SYSTEM, VERSION = "credit-scoring", "2.4.0"


@dataclass
class Shared:
    """A workspace with two checked releases of one system (A: 2.4.0, B: 2.5.0)."""

    ws: Any
    clock: Clock
    a: Any
    b: Any

    def principal(self, person: str | None) -> Any:
        return acting(self.ws, person).principal("share", required=person is not None)

    def share(self, by: str = OWNER, days: int = 7, **kw: Any) -> Any:
        releases = kw.pop("releases", [(SYSTEM, VERSION)])
        until = self.clock() + timedelta(days=days)
        return create_share(self.ws, self.principal(by), releases, until, **kw)

    def evidence_of(self, local: Any) -> list[Any]:
        from clearance.store import repository as repo

        digest = acting(self.ws, None).candidate(local)
        with self.ws.engine.connect() as conn:
            return repo.evidence_of(conn, digest)


def shared_workspace(
    root: Path, database_url: str | None = None, clock: Clock | None = None
) -> Shared:
    """Two releases of credit-scoring, checked, with evidence; A also attested and signed."""
    clock = clock or Clock()
    ws = open_workspace(root / ".clearance", database_url, clock=clock)
    register_signers(ws)
    a = load(ws, write_plan_folder(root / "a"))
    submit(ws, a, OWNER, "First")
    check(ws, a)
    attest(ws, a, "uat", a.resolve("docs/uat.md"), "carol@example.com", "product-owner")
    signoff(ws, a, "model-risk", DANA, "approve", "Looks <b>right</b>")
    doc = plan_document()
    doc["release"] = {**doc["release"], "version": "2.5.0"}
    b = load(ws, write_plan_folder(root / "b", auc=0.91, document=doc))
    submit(ws, b, OWNER, "Next")
    check(ws, b)
    return Shared(ws, clock, a, b)


@pytest.fixture
def env(tmp_path: Path, database_url: str | None) -> Iterator[Shared]:
    shared = shared_workspace(tmp_path, database_url)
    yield shared
    shared.ws.close()


def latest_seq(ws: Any) -> int:
    import sqlalchemy as sa

    from clearance.store import tables as t

    with ws.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.max(t.events.c.seq))).scalar() or 0)


# -- creating ---------------------------------------------------------------------------


def test_the_owner_shares_a_release_and_the_url_carries_256_random_bits(env: Shared) -> None:
    made = env.share(note="Q4 audit")
    assert made.url == f"http://127.0.0.1:8000/r/{made.secret}"
    assert made.secret.startswith("crv_") and len(made.secret) == 4 + 43  # 32 bytes, base64url
    assert made.link.releases[0].label == f"{SYSTEM}@{VERSION}"
    assert made.link.releases[0].candidate == acting(env.ws, None).candidate(env.a)
    assert (made.link.created_by, made.link.note) == (OWNER, "Q4 audit")
    assert env.share().secret != made.secret


def test_only_the_token_hash_is_stored(env: Shared) -> None:
    """No column of any table, nor any event, holds the token or its random part."""
    import sqlalchemy as sa

    from clearance.store import tables as t

    made = env.share()
    random_part = made.secret.removeprefix("crv_")
    with env.ws.engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                assert random_part not in repr(tuple(row)), table.name
        stored = conn.execute(sa.select(t.share_links.c.token_hash)).scalars().all()
    assert stored == [token_hash(made.secret)]


def test_an_administrator_may_share_but_not_another_person(env: Shared) -> None:
    assert env.share(by=ADMIN).link.created_by == ADMIN
    with pytest.raises(ForbiddenError, match="only its owner"):
        env.share(by=DANA)
    with pytest.raises(ForbiddenError, match="signed identity"):
        env.share(by=None)


@pytest.mark.parametrize("days", [31, 365])
def test_a_link_lives_at_most_30_days(env: Shared, days: int) -> None:
    with pytest.raises(UsageError, match="within 30 days"):
        env.share(days=days)
    assert env.share(days=30).link.expires_at == env.clock() + timedelta(days=30)


def test_a_link_expires_after_now(env: Shared) -> None:
    with pytest.raises(UsageError, match="expires after now"):
        env.share(days=0)


def test_unknown_releases_and_bad_notes_are_refused_with_what_to_do(env: Shared) -> None:
    with pytest.raises(NotFoundError, match=r"releases: 2\.4\.0, 2\.5\.0"):
        env.share(releases=[(SYSTEM, "9.9.9")])
    with pytest.raises(NotFoundError, match="no system"):
        env.share(releases=[("fraud", "1.0")])
    with pytest.raises(UsageError, match="at least one release"):
        env.share(releases=[])
    with pytest.raises(UsageError, match="not a release"):
        env.share(releases=[(SYSTEM, "2.4.0\x00")])  # PostgreSQL refuses NUL in text
    with pytest.raises(UsageError, match="note"):
        env.share(note="two\nlines")


def test_creation_and_revocation_are_logged_events(env: Shared) -> None:
    from clearance.store import repository as repo

    made = env.share()
    revoke_share(env.ws, env.principal(OWNER), str(made.link.id))
    with env.ws.engine.connect() as conn:
        events = repo.events(conn, subjects=[f"share:{made.link.id}"], after=0, limit=10)
    assert [(e.type, e.actor) for e in events] == [
        ("share.created", OWNER),
        ("share.revoked", OWNER),
    ]
    assert "records" in events[0].payload and "records" in events[1].payload
    assert made.secret not in repr([e.payload for e in events])


# -- revoking ---------------------------------------------------------------------------


def test_revocation_takes_effect_at_once_by_url_or_id(env: Shared) -> None:
    made = env.share()
    assert open_link(env.ws, made.secret, address="10.0.0.1").id == made.link.id
    with pytest.raises(ForbiddenError, match="may not manage"):
        revoke_share(env.ws, env.principal(DANA), made.url)
    revoked = revoke_share(env.ws, env.principal(OWNER), made.url)
    assert revoked.revoked_by == OWNER
    with pytest.raises(LinkRefused):
        open_link(env.ws, made.secret, address="10.0.0.1")
    with pytest.raises(UsageError, match="revoked already"):
        revoke_share(env.ws, env.principal(ADMIN), f"#{made.link.id}")
    for unknown in ("999", "#99999999999999999999"):  # past a 32-bit id: still not found
        with pytest.raises(NotFoundError, match="no reviewer link"):
            revoke_share(env.ws, env.principal(OWNER), unknown)
    with pytest.raises(UsageError, match="not a reviewer link"):
        revoke_share(env.ws, env.principal(OWNER), "the-link")


def test_links_and_revocations_are_insert_only(env: Shared) -> None:
    import sqlalchemy as sa

    from clearance.store import tables as t

    made = env.share()
    revoke_share(env.ws, env.principal(OWNER), str(made.link.id))
    for statement in (
        sa.update(t.share_links).values(expires_at="9999-01-01T00:00:00.000000Z"),
        sa.delete(t.share_revocations),
        sa.delete(t.share_links),
    ):
        with pytest.raises(sa.exc.DatabaseError), env.ws.engine.begin() as conn:
            conn.execute(statement)
    with pytest.raises(LinkRefused):
        open_link(env.ws, made.secret, address=None)


# -- refusals look alike ----------------------------------------------------------------


def test_guessed_revoked_expired_and_out_of_scope_uses_are_refused_alike(env: Shared) -> None:
    made = env.share(days=1)
    revoked = env.share()
    revoke_share(env.ws, env.principal(OWNER), str(revoked.link.id))
    a_evidence = env.evidence_of(env.a)[0].id
    b_evidence = env.evidence_of(env.b)[0].id
    attempts = [
        lambda: open_link(env.ws, "crv_" + "A" * 43, address=None),  # guessed
        lambda: open_link(env.ws, "clr_" + made.secret[4:], address=None),  # other prefix
        lambda: open_link(env.ws, made.secret[:-1], address=None),  # truncated
        lambda: open_link(env.ws, revoked.secret, address=None),
        lambda: view_release(env.ws, made.secret, SYSTEM, "2.5.0", address=None),  # B
        lambda: view_release(env.ws, made.secret, "fraud", VERSION, address=None),
        lambda: download_evidence(  # B's evidence through A's page
            env.ws, made.secret, SYSTEM, VERSION, b_evidence, address=None
        ),
        lambda: download_evidence(env.ws, made.secret, SYSTEM, "2.5.0", b_evidence, address=None),
        lambda: download_pack(env.ws, made.secret, SYSTEM, "2.5.0", Path("x"), address=None),
    ]
    before = latest_seq(env.ws)
    messages = set()
    for attempt in attempts:
        with pytest.raises(LinkRefused) as refused:
            attempt()
        messages.add((refused.value.message, refused.value.code, refused.value.http_status))
    assert messages == {("not found", "not_found", 404)}
    assert latest_seq(env.ws) == before  # a refusal writes nothing
    assert download_evidence(env.ws, made.secret, SYSTEM, VERSION, a_evidence, address=None)
    env.clock.now += timedelta(days=1)
    with pytest.raises(LinkRefused):
        open_link(env.ws, made.secret, address=None)  # expired


def test_a_link_shows_the_candidate_it_pinned_not_a_newer_one(env: Shared, tmp_path: Path) -> None:
    """A changed plan makes a new candidate of the same release: the link does not follow."""
    made = env.share()
    doc = plan_document()
    doc["release"] = {**doc["release"], "window": None}
    doc["interested_parties"][0]["consideration"] = "Changed after sharing"
    changed = load(env.ws, write_plan_folder(tmp_path / "a2", document=doc))
    submit(env.ws, changed, OWNER, "Changed")
    check(env.ws, changed)
    newer = env.evidence_of(changed)[0].id
    view = view_release(env.ws, made.secret, SYSTEM, VERSION, address=None)
    assert view.release.candidate == made.link.releases[0].candidate
    assert "Changed after sharing" not in repr(view.plan)
    with pytest.raises(LinkRefused):
        download_evidence(env.ws, made.secret, SYSTEM, VERSION, newer, address=None)


# -- what a reviewer reads --------------------------------------------------------------


def test_the_release_view_holds_plan_checklist_evidence_approvals_and_diff(env: Shared) -> None:
    made = env.share(releases=[(SYSTEM, "2.5.0"), (SYSTEM, VERSION)])
    a = view_release(env.ws, made.secret, SYSTEM, VERSION, address=None)
    assert a.plan.release.version == VERSION and a.previous is None and a.changes == []
    assert {r.id for r in a.evaluation.results} >= {"auc", "tests", "uat", "signoff"}
    assert {e.name for e in a.evidence} >= {"eval/metrics.json", "reports/junit.xml", "uat.md"}
    assert [(x.record.person, x.record.comment) for x in a.approvals] == [
        (DANA, "Looks <b>right</b>")
    ]
    b = view_release(env.ws, made.secret, SYSTEM, "2.5.0", address=None)
    assert b.previous is not None and b.previous.version == VERSION
    assert any(c.section == "release" for c in b.changes)
    assert b.approvals == []


def test_every_view_and_download_is_logged_and_the_workspace_still_verifies(
    env: Shared, tmp_path: Path
) -> None:
    from clearance.services.integrity import verify_workspace

    made = env.share()
    evidence = next(e for e in env.evidence_of(env.a) if e.name == "eval/metrics.json")
    open_link(env.ws, made.secret, address="192.0.2.7")
    view_release(env.ws, made.secret, SYSTEM, VERSION, address="192.0.2.7")
    record, stream = download_evidence(
        env.ws, made.secret, SYSTEM, VERSION, evidence.id, address="198.51.100.9"
    )
    with stream:
        assert b"holdout" in stream.read()
    pack = download_pack(
        env.ws, made.secret, SYSTEM, VERSION, tmp_path / "pack.zip", address="198.51.100.9"
    )
    assert zipfile.ZipFile(io.BytesIO((tmp_path / "pack.zip").read_bytes())).testzip() is None
    assert pack.candidate == made.link.releases[0].candidate
    log = share_access_log(env.ws, env.principal(OWNER), made.link.id)
    assert [(a.kind, a.address) for a in log] == [
        ("viewed", "192.0.2.7"),
        ("viewed", "192.0.2.7"),
        ("downloaded", "198.51.100.9"),
        ("downloaded", "198.51.100.9"),
    ]
    assert "metrics.json" in log[2].read and "audit pack" in log[3].read
    assert record.name == "eval/metrics.json"
    _checked, failures = verify_workspace(env.ws)
    assert failures == []
    [summary] = list_shares(env.ws, env.principal(OWNER))
    assert (summary.state, summary.views) == ("active", 4)


def test_owners_see_their_links_and_access_logs_others_do_not(env: Shared) -> None:
    made = env.share()
    env.share(by=ADMIN, days=30, releases=[(SYSTEM, "2.5.0")])
    assert [s.link.id for s in release_shares(env.ws, env.principal(OWNER), SYSTEM, VERSION)] == [
        made.link.id
    ]
    assert len(list_shares(env.ws, env.principal(ADMIN))) == 2
    assert list_shares(env.ws, env.principal(DANA)) == []
    with pytest.raises(ForbiddenError, match="may not manage"):
        share_access_log(env.ws, env.principal(DANA), made.link.id)
    env.clock.now += timedelta(days=8)
    assert [s.state for s in list_shares(env.ws, env.principal(ADMIN))] == ["expired", "active"]
