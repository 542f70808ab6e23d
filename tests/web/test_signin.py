"""Signing in and out of the pages: passwords (argon2, only as hashes), sessions (signed
cookies, fresh on every sign-in, ended on the server at sign-out), CSRF tokens on every form,
and the headers every page carries."""

from __future__ import annotations

import sqlalchemy as sa

from clearance.store import tables as t
from tests.builders import ADMIN
from tests.web.conftest import ALICE, DANA, ERIK, PASSWORD, Site, csrf_of, set_password, sign_in


def test_pages_need_sign_in_and_send_people_to_it(site: Site) -> None:
    """Every page of records redirects an anonymous browser to the sign-in page."""
    http = site.browser()
    for path in ("/", f"/candidates/{site.candidate}", "/log", "/systems/credit-scoring"):
        answer = http.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/sign-in?next=")


def test_a_password_signs_in_and_the_cookie_is_safe(site: Site) -> None:
    http = site.browser()
    answer = sign_in(http, DANA)
    cookie = answer.headers["set-cookie"]
    assert "clearance_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback only (tests, the demo)
    page = http.get("/")
    assert page.status_code == 200
    assert DANA in page.text


def test_cookies_are_secure_away_from_loopback(site: Site) -> None:
    from fastapi.testclient import TestClient

    with TestClient(site.app, base_url="https://clearance.example.com") as http:
        page = http.get("/sign-in")
        answer = http.post(
            "/sign-in",
            data={"name": DANA, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
    assert answer.status_code == 303
    assert "Secure" in answer.headers["set-cookie"]


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(site: Site) -> None:
    http = site.browser()
    answers = []
    for name, password in ((DANA, "not the password!"), ("nobody@example.com", PASSWORD)):
        page = http.get("/sign-in")
        answers.append(
            http.post(
                "/sign-in",
                data={"name": name, "password": password, "csrf_token": csrf_of(page.text)},
            )
        )
    assert [a.status_code for a in answers] == [401, 401]
    assert all("the name or password is wrong" in a.text for a in answers)
    assert "clearance_session" not in http.cookies


def test_passwords_are_stored_only_as_argon2_hashes_and_the_newest_wins(site: Site) -> None:
    set_password(site.ws, DANA, "a brand new passphrase", by=ADMIN)
    with site.ws.engine.connect() as conn:
        stored = conn.execute(sa.select(t.passwords.c.hash)).scalars().all()
    assert all(h.startswith("$argon2id$") for h in stored)
    assert not any(PASSWORD in h for h in stored)
    http = site.browser()
    page = http.get("/sign-in")
    old = http.post(
        "/sign-in", data={"name": DANA, "password": PASSWORD, "csrf_token": csrf_of(page.text)}
    )
    assert old.status_code == 401
    sign_in(http, DANA, "a brand new passphrase")


def test_the_product_hashes_passwords_with_rfc_9106_parameters() -> None:
    """The tests hash with argon2's cheapest parameters (tests/conftest.py); the product
    must not: argon2id, 64 MiB, three passes, four lanes."""
    from argon2 import PasswordHasher

    from tests.conftest import product_hasher

    hashed = product_hasher().hash(PASSWORD)
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PasswordHasher().verify(hashed, PASSWORD)


def test_only_the_person_or_an_administrator_sets_a_password(site: Site) -> None:
    import pytest

    from clearance.errors import ForbiddenError, UsageError

    with pytest.raises(ForbiddenError, match="may not manage people"):
        set_password(site.ws, DANA, "erik sets dana's password", by=ERIK)
    with pytest.raises(UsageError, match="12 to 1024"):
        set_password(site.ws, DANA, "short")


def test_sign_out_ends_the_session_on_the_server(site: Site) -> None:
    """A copy of the cookie kept from before sign-out no longer opens anything."""
    http = site.signed_in(DANA)
    kept = http.cookies["clearance_session"]
    home = http.get("/")
    answer = http.post("/sign-out", data={"csrf_token": csrf_of(home.text)})
    assert answer.status_code == 303
    thief = site.browser()
    thief.cookies.set("clearance_session", kept, domain="127.0.0.1")
    assert thief.get("/").status_code == 303
    with site.ws.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.web_session_ends)).scalar()


def test_a_session_id_planted_before_sign_in_is_not_adopted(site: Site) -> None:
    """Session fixation: signing in always makes a new session, and replaces an old one."""
    first = site.signed_in(DANA)
    planted = first.cookies["clearance_session"]
    victim = site.browser()
    victim.cookies.set("clearance_session", planted, domain="127.0.0.1")
    sign_in(victim, ERIK)
    assert victim.cookies["clearance_session"] != planted
    assert ERIK in victim.get("/").text
    # the planted session was replaced by the sign-in, so it is over for its holder too
    assert first.get("/").status_code == 303


def test_an_altered_or_forged_cookie_is_refused(site: Site) -> None:
    http = site.signed_in(DANA)
    good = http.cookies["clearance_session"]
    session_id, _, mac = good.rpartition(".")
    for forged in (
        session_id + "." + ("0" * len(mac)),  # right id, wrong MAC
        "x" * len(session_id) + "." + mac,  # another id under the MAC
        session_id,  # no MAC
        "",
    ):
        other = site.browser()
        other.cookies.set("clearance_session", forged, domain="127.0.0.1")
        assert other.get("/").status_code == 303, forged


def test_every_form_refuses_a_post_without_the_right_csrf_token(site: Site) -> None:
    http = site.signed_in(DANA)
    for path, data in (
        ("/sign-out", {}),
        (f"/candidates/{site.candidate}/sign-off", {"role": "model-risk", "decision": "approve"}),
        ("/log/verify", {}),
        (f"/candidates/{site.candidate}/pack", {}),
    ):
        for token in (None, "wrong-token"):
            body = {**data, **({"csrf_token": token} if token else {})}
            answer = http.post(path, data=body)
            assert answer.status_code == 403, (path, token)
            assert "CSRF" in answer.text
    assert http.get("/").status_code == 200  # still signed in: the sign-out was refused


def test_the_sign_in_form_has_its_own_csrf_token(site: Site) -> None:
    """Login CSRF: a sign-in posted from another site (no token bound to this browser)."""
    http = site.browser()
    answer = http.post("/sign-in", data={"name": DANA, "password": PASSWORD})
    assert answer.status_code == 403
    other = site.browser()
    token = csrf_of(other.get("/sign-in").text)
    stolen = http.post("/sign-in", data={"name": DANA, "password": PASSWORD, "csrf_token": token})
    assert stolen.status_code == 403


def test_pages_carry_a_strict_content_security_policy(site: Site) -> None:
    http = site.signed_in(DANA)
    for path in ("/sign-in", "/", f"/candidates/{site.candidate}", "/no-such-page"):
        headers = http.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
    assert "content-security-policy" not in http.get("/api/v1/health").headers


def test_pages_have_no_inline_script(site: Site) -> None:
    """The CSP forbids inline script; the pages must not need any."""
    import re

    http = site.signed_in(DANA)
    for path in ("/sign-in", "/", f"/candidates/{site.candidate}", "/log"):
        html = http.get(path).text
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
        assert scripts and all('src="/static/' in attrs and not body for attrs, body in scripts)
        assert not re.search(r"\son[a-z]+=", html), path
        assert "style=" not in html


def test_static_files_carry_their_version_in_the_name(site: Site) -> None:
    http = site.browser()
    answer = http.get("/static/htmx-2.0.11.min.js")
    assert answer.status_code == 200 and "htmx" in answer.text[:2000]


def test_an_unknown_page_is_the_plain_404_page_and_the_api_keeps_its_json(site: Site) -> None:
    http = site.browser()
    page = http.get("/nothing/here")
    assert page.status_code == 404 and "Not found" in page.text
    api = http.get("/api/v1/nothing")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


def test_sign_in_sends_people_back_only_to_this_site(site: Site) -> None:
    http = site.browser()
    page = http.get("/sign-in")
    answer = http.post(
        "/sign-in",
        data={
            "name": ALICE,
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "//evil.example.com/",
        },
    )
    assert answer.headers["location"] == "/"
