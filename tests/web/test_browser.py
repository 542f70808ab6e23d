"""End to end in a real browser: Debian's chromium, driven by Playwright, against a real
`clearance serve` and a real OpenID provider on loopback. One browser session walks the
release story: the owner submits, an approver signs in with a password and approves,
another signs in through OpenID Connect and approves, the page shows GO, and the owner's
own approval is refused with its reason. It takes the README's screenshots on the way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.builders import attest, check, load, plan_document
from tests.web.conftest import (
    ALICE,
    CAROL,
    CHROMIUM_ARGS,
    DANA,
    ERIK,
    PASSWORD,
    Served,
    chromium,
)

pytestmark = pytest.mark.slow
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


def sign_in_with_password(page: Any, url: str, name: str) -> None:
    page.goto(f"{url}/sign-in")
    page.get_by_label("Name (e-mail)").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/")


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/sign-in")


def approve(page: Any, role: str, comment: str) -> None:
    page.get_by_label("Comment (required to reject)").fill(comment)
    page.get_by_role("button", name=f"Approve as {role}").click()
    page.wait_for_load_state()


def submit_two_revisions(served: Served) -> str:
    """alice submits 2.4.0, then raises the AUC floor; carol attests user testing."""
    ws = served.ws
    plan = served.folder / "plan.yaml"
    check(ws, load(ws, plan, ALICE), ALICE)
    document = plan_document()
    document["criteria"][0]["threshold"] = 0.82
    plan.write_text(yaml.safe_dump(document, sort_keys=False))
    local = load(ws, plan, ALICE)
    candidate = check(ws, local, ALICE).submitted.candidate.digest
    attest(ws, local, "uat", served.folder / "docs/uat.md", CAROL, "product-owner")
    return candidate


def test_the_release_story_in_a_real_browser(served: Served, browser: Any) -> None:
    candidate = submit_two_revisions(served)
    release = f"{served.url}/candidates/{candidate}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # dana signs in with her password: the release waits for her, NO-GO so far
    sign_in_with_password(page, served.url, DANA)
    assert "credit-scoring 2.4.0" in page.locator("section[aria-labelledby=waiting]").inner_text()
    page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
    page.goto(release)
    assert page.locator("h1 .outcome").inner_text() == "NO-GO"
    page.screenshot(path=str(SHOTS / "release-no-go.png"), full_page=True)
    approve(page, "model-risk", "Metrics and fairness checks reviewed")
    assert "is recorded" in page.locator("#sign-off").inner_text()

    page.goto(f"{served.url}/systems/credit-scoring/diff")
    assert "0.82" in page.locator("table.diff").first.inner_text()
    page.screenshot(path=str(SHOTS / "diff.png"), full_page=True)
    sign_out(page)

    # erik signs in through the OpenID provider (login, then consent) and approves: GO
    page.get_by_role("link", name="Sign in with Example ID").click()
    page.locator("input[name=login]").fill(ERIK)
    page.locator("input[name=password]").fill("anything at the provider")
    page.locator("button[type=submit]").click()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{served.url}/")
    assert ERIK in page.locator("header").inner_text()
    page.goto(release)
    approve(page, "eng-manager", "Rollout plan fine")
    assert page.locator("h1 .outcome").inner_text() == "GO"
    assert "oidc sign-in" in page.locator("#sign-off").inner_text()
    page.screenshot(path=str(SHOTS / "release-go.png"), full_page=True)
    sign_out(page)

    # alice owns the plan: her approval is refused, and the page says why
    sign_in_with_password(page, served.url, ALICE)
    page.goto(release)
    approve(page, "model-risk", "my own release")
    refusal = page.locator(".refusal").inner_text()
    assert "separation of duties" in refusal
    blocked = [e for e in errors if "Content Security Policy" in e or "Uncaught" in e]
    assert blocked == []  # the pages need nothing the policy forbids, and raise no error
    context.close()
