"""The reviewer view over HTTP: a link opens exactly its releases, read-only, with a banner;
every refusal is the same 404 page with the same headers; each view and download is on the
log; the token never reaches the server's log."""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clearance.services.shares import revoke_share
from tests.services.test_shares import OWNER, SYSTEM, VERSION, Shared, shared_workspace


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Shared]:
    shared = shared_workspace(tmp_path)
    yield shared
    shared.ws.close()


@pytest.fixture
def client(env: Shared) -> Iterator[TestClient]:
    from clearance.api.app import create_app

    with TestClient(create_app(env.ws.settings, workspace=env.ws)) as c:
        yield c


def path_of(url: str) -> str:
    return url.removeprefix("http://127.0.0.1:8000")


def access_events(env: Shared) -> list[Any]:
    from clearance.store import repository as repo

    with env.ws.engine.connect() as conn:
        found = repo.events(conn, subjects=None, after=0, limit=100_000)
    return [e for e in found if e.type in ("share.viewed", "share.downloaded")]


def test_the_link_page_shows_a_banner_and_only_the_shared_releases(
    env: Shared, client: TestClient
) -> None:
    made = env.share(note="Q4 <audit>")
    page = client.get(path_of(made.url))
    assert page.status_code == 200
    assert "shared by <strong>alice@example.com</strong>" in page.text
    assert made.link.expires_at.strftime("%Y-%m-%d %H:%M") in page.text
    assert "Q4 &lt;audit&gt;" in page.text and "<audit>" not in page.text
    assert f'href="{path_of(made.url)}/{SYSTEM}/{VERSION}"' in page.text
    assert "2.5.0" not in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"


def test_the_release_page_is_read_only_and_escapes_what_people_wrote(
    env: Shared, client: TestClient
) -> None:
    made = env.share()
    page = client.get(f"{path_of(made.url)}/{SYSTEM}/{VERSION}")
    assert page.status_code == 200
    text = page.text
    for heading in ("Plan", "Checklist", "Evidence", "Approvals and waivers", "What changed"):
        assert f">{heading}</h2>" in text
    assert "Looks &lt;b&gt;right&lt;/b&gt;" in text and "<b>right</b>" not in text
    assert "eval/metrics.json" in text and "/evidence/" in text
    assert f"{path_of(made.url)}/{SYSTEM}/{VERSION}/audit-pack.zip" in text
    assert env.ws.signing_key.key_id in text  # the fingerprint to pin, beside the pack
    assert "<form" not in text and 'method="post"' not in text.lower()


def test_every_refusal_is_the_same_404(env: Shared, client: TestClient) -> None:
    """Guessed, revoked, expired and out-of-scope uses cannot be told apart by the answer."""
    good = path_of(env.share(days=1).url)
    revoked = env.share()
    revoke_share(env.ws, env.principal(OWNER), str(revoked.link.id))
    b_evidence = env.evidence_of(env.b)[0].id
    a_evidence = env.evidence_of(env.a)[0].id
    attempts = [
        ("GET", "/r/crv_" + "A" * 43),
        ("GET", "/r/" + "x" * 10),
        ("GET", path_of(revoked.url)),
        ("GET", f"{path_of(revoked.url)}/{SYSTEM}/{VERSION}/evidence/{a_evidence}"),
        ("GET", f"{good}/{SYSTEM}/2.5.0"),  # release B through A's link
        ("GET", f"{good}/fraud/{VERSION}"),
        ("GET", f"{good}/{SYSTEM}/{VERSION}/evidence/{b_evidence}"),  # B's file, A's page
        ("GET", f"{good}/{SYSTEM}/{VERSION}/evidence/not-a-number"),
        ("GET", f"{good}/{SYSTEM}/{VERSION}/evidence/99999999999999999999"),
        ("GET", f"{good}/{SYSTEM}/2.5.0/audit-pack.zip"),
        ("GET", f"{good}/{SYSTEM}/{VERSION}/plan.yaml"),
        ("POST", good),  # no write, whatever the method
        ("DELETE", f"{good}/{SYSTEM}/{VERSION}"),
    ]
    answers = set()
    for method, path in attempts:
        answer = client.request(method, path)
        headers = tuple(sorted((k, v) for k, v in answer.headers.items() if k != "date"))
        answers.add((answer.status_code, answer.text, headers))
    assert len(answers) == 1, [a[:1] for a in answers]
    status, body, _headers = answers.pop()
    assert status == 404 and "Not found" in body and "crv_" not in body
    env.clock.now += timedelta(days=1)
    expired = client.get(good)
    assert (expired.status_code, expired.text) == (404, body)


def test_a_download_is_an_attachment_and_each_use_is_logged(
    env: Shared, client: TestClient
) -> None:
    from clearance.services.integrity import verify_workspace

    made = env.share()
    here = f"{path_of(made.url)}/{SYSTEM}/{VERSION}"
    evidence = next(e for e in env.evidence_of(env.a) if e.name == "eval/metrics.json")
    before = len(access_events(env))
    assert client.get(here).status_code == 200
    assert len(access_events(env)) == before + 1
    got = client.get(f"{here}/evidence/{evidence.id}", headers={"X-Forwarded-For": "203.0.113.5"})
    assert got.status_code == 200 and b"holdout" in got.content
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith('attachment; filename="metrics.json"')
    pack = client.get(f"{here}/audit-pack.zip")
    assert pack.status_code == 200 and pack.headers["content-type"] == "application/zip"
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(pack.content)).namelist()
    events = access_events(env)[before:]
    assert [(e.type, e.payload["read"]) for e in events] == [
        ("share.viewed", "release"),
        ("share.downloaded", "evidence"),
        ("share.downloaded", "audit-pack"),
    ]
    assert events[1].payload["evidence"]["digest"] == evidence.digest
    assert all(e.payload["address"] == "testclient" and e.payload["link"] == made.link.id
               for e in events)  # fmt: skip
    assert made.secret not in repr([e.as_json() for e in events])
    assert verify_workspace(env.ws)[1] == []


def test_a_token_in_the_path_or_a_query_string_is_redacted_from_the_access_log(
    env: Shared, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    made = env.share()
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        # as uvicorn writes its access lines: client, method, path with query, version, status
        fmt = '%s - "%s %s HTTP/%s" %d'
        access.info(fmt, "192.0.2.1", "GET", path_of(made.url), "1.1", 200)
        access.info(fmt, "192.0.2.1", "GET", f"/r?token={made.secret}", "1.1", 404)
        access.info(fmt, "192.0.2.1", "GET", f"/x?t={made.secret.replace('_', '%5F')}", "1.1", 404)
    assert caplog.text.count("crv_[redacted]") == 3
    assert made.secret[4:] not in caplog.text
