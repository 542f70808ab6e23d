"""End to end in a real browser (Debian's chromium, driven by Playwright) against a real
`clearance serve`: a reviewer link opens its release, a download lands in the link's access
log, the revoked link and an expired one show the 404 page, the token never reaches the
server's log, and `clearance verify` still passes. Saves docs/screenshots/reviewer.png."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.builders import Clock
from tests.cli.harness import Completed, invoke
from tests.services.test_shares import OWNER, SYSTEM, VERSION, Shared, shared_workspace
from tests.web.conftest import CHROMIUM_ARGS, chromium

pytestmark = pytest.mark.slow

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def cli(shared: Shared, *args: str, public_url: str) -> Completed:
    root = shared.ws.settings.workspace.parent
    return invoke(
        root,
        *args,
        env={
            "CLEARANCE_WORKSPACE": str(shared.ws.settings.workspace),
            "CLEARANCE_IDENTITY": str(root / "keys" / "alice.pem"),
            "CLEARANCE_HOME": str(root / "home"),
            "CLEARANCE_PUBLIC_URL": public_url,
        },
    )


def test_a_reviewer_reads_downloads_and_is_then_shut_out(tmp_path: Path, browser: Any) -> None:
    from tests.live import ServeProcess

    # Everything so far happened eight days ago, so a 7-day link made then has expired now.
    clock = Clock()
    clock.now -= timedelta(days=8)
    shared = shared_workspace(tmp_path, clock=clock)
    expired = shared.share(days=7)
    clock.now += timedelta(days=8)
    for name, key in shared.ws.keys.items():
        key.save(tmp_path / "keys" / f"{name.split('@')[0]}.pem")
    shared.ws.close()

    env = {"PATH": os.environ["PATH"], "CLEARANCE_WORKSPACE": str(shared.ws.settings.workspace)}
    server = ServeProcess(env, tmp_path)
    try:
        made = cli(shared, "share", "create", SYSTEM, VERSION, "--expires", "7d",
                   "--note", "ISO 42001 surveillance audit", public_url=server.url)  # fmt: skip
        assert made.returncode == 0, made.stderr
        url = made.stdout.strip().splitlines()[-1]
        assert url.startswith(f"{server.url}/r/crv_")

        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        first = page.goto(url)
        assert first is not None and first.status == 200
        banner = page.get_by_role("note", name="About this reviewer link")
        assert OWNER in banner.inner_text() and "expires" in banner.inner_text()
        page.get_by_role("link", name=f"{SYSTEM} {VERSION}").click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", name="Checklist").is_visible()
        assert page.get_by_role("heading", name="Audit pack").is_visible()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "reviewer.png"), full_page=True)

        with page.expect_download() as waiting:
            page.get_by_role("link", name="eval/metrics.json").click()
        download = waiting.value
        saved = tmp_path / "downloaded.json"
        download.save_as(saved)
        assert b"holdout" in saved.read_bytes()

        shown = cli(shared, "share", "show", url, public_url=server.url)
        assert shown.returncode == 0, shown.stderr
        assert "downloaded" in shown.stdout and "eval/metrics.json" in shown.stdout
        assert "127.0.0.1" in shown.stdout

        revoked = cli(shared, "share", "revoke", url, public_url=server.url)
        assert revoked.returncode == 0, revoked.stderr
        after = page.goto(url)
        assert after is not None and after.status == 404
        assert page.get_by_role("heading", name="Not found").is_visible()
        gone = page.content()

        old = page.goto(server.url + expired.url.removeprefix("http://127.0.0.1:8000"))
        assert old is not None and old.status == 404
        assert page.content() == gone
        page.close()
    finally:
        server.stop()
    log = server.output()
    assert "crv_[redacted]" in log
    for secret in (url.rsplit("/", 1)[1], expired.secret):
        assert secret[4:24] not in log
    verified = cli(shared, "verify", public_url=server.url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
