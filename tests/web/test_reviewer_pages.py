"""Reviewer links from the release's pages: the owner shares (the URL shown once), sees each
link's access log and revokes it; anyone else is refused with the reason; every form needs
its CSRF token."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import ALICE, DANA, Site, csrf_of

PAGE = "/systems/credit-scoring/releases/2.4.0/shares"


@pytest.fixture
def database_url() -> None:
    """SQLite only: the pages add no SQL (the use cases' tests run on PostgreSQL too)."""
    return None


def share(http: Any, **form: str) -> Any:
    token = csrf_of(http.get(PAGE).text)
    return http.post(PAGE, data={"expires": "7d", "note": "", "csrf_token": token, **form})


def test_the_owner_shares_sees_the_access_log_and_revokes(site: Site) -> None:
    alice = site.signed_in(ALICE)
    assert "No reviewer links to this release" in alice.get(PAGE).text
    made = share(alice, note="Q4 <audit>")
    assert made.status_code == 201, made.text
    url = made.text.split('id="created-url" type="text" readonly value="', 1)[1].split('"')[0]
    assert url.startswith("http://127.0.0.1:8000/r/crv_")
    assert "Q4 &lt;audit&gt;" in made.text and "<audit>" not in made.text
    reviewer = site.browser()
    path = url.removeprefix("http://127.0.0.1:8000")
    assert reviewer.get(path + "/credit-scoring/2.4.0").status_code == 200
    page = alice.get(PAGE).text
    assert url.rsplit("/", 1)[1] not in page  # shown once, never again
    assert "Access log of link 1 (1)" in page and "credit-scoring@2.4.0 release page" in page
    revoked = alice.post("/shares/1/revoke", data={"back": PAGE, "csrf_token": csrf_of(page)})
    assert (revoked.status_code, revoked.headers["location"]) == (303, f"{PAGE}?revoked=1")
    assert reviewer.get(path).status_code == 404
    assert "revoked by alice@example.com" in alice.get(PAGE).text


def test_forms_need_their_csrf_token_and_redirect_only_on_this_site(site: Site) -> None:
    alice = site.signed_in(ALICE)
    forged = alice.post(PAGE, data={"expires": "7d", "csrf_token": "forged"})
    assert forged.status_code == 403 and "reviewer link" not in forged.text.lower()
    assert "No reviewer links to this release" in alice.get(PAGE).text
    share(alice)
    token = csrf_of(alice.get(PAGE).text)
    assert alice.post("/shares/1/revoke", data={"csrf_token": "x"}).status_code == 403
    away = alice.post("/shares/1/revoke", data={"back": "/\\evil.example", "csrf_token": token})
    assert away.headers["location"] == "/?revoked=1"


def test_others_are_refused_with_the_reason_and_see_no_links(site: Site) -> None:
    share(site.signed_in(ALICE))
    dana = site.signed_in(DANA)
    refused = share(dana)
    assert refused.status_code == 403 and "only its owner" in refused.text
    assert "Link 1" not in dana.get(PAGE).text
    token = csrf_of(dana.get(PAGE).text)
    assert dana.post("/shares/1/revoke", data={"csrf_token": token}).status_code == 403
    too_long = share(site.signed_in(ALICE), expires="31d")
    assert too_long.status_code == 400 and "within 30 days" in too_long.text
    anonymous = site.browser().get(PAGE)
    assert anonymous.status_code == 303 and "/sign-in" in anonymous.headers["location"]
