"""The web pages as people use them: a workspace with an owner, approvers with passwords, a
submitted release, and the app served in-process (Starlette's TestClient on a loopback
address, so cookies behave as on `clearance serve` locally).

The end-to-end fixtures (a real `clearance serve` process, a real OpenID provider, and
Debian's chromium driven by Playwright) live here too, for every browser test to share.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.builders import (
    ADMIN,
    Clock,
    acting,
    check,
    load,
    open_workspace,
    register_signers,
    write_plan_folder,
)

ALICE, DANA, ERIK, CAROL, OLGA = (
    f"{n}@example.com" for n in ("alice", "dana", "erik", "carol", "olga")
)
PEOPLE = {
    ALICE: ["model-risk"],  # the plan's owner: holds the role, may not approve her own plan
    DANA: ["model-risk"],
    ERIK: ["eng-manager"],
    CAROL: ["product-owner"],
    OLGA: ["other-system:model-risk"],  # sees nothing of credit-scoring
}
PASSWORD = "correct horse battery staple"
LOOPBACK = "http://127.0.0.1"
OIDC_DIR = Path(__file__).parent / "oidc"


@dataclass
class Site:
    ws: Any
    app: Any
    folder: Path
    local: Any
    candidate: str
    clients: list[Any] = field(default_factory=list)

    def browser(self) -> Any:
        """A new browser (its own cookie jar) on the pages."""
        from fastapi.testclient import TestClient

        http = TestClient(self.app, base_url=LOOPBACK, follow_redirects=False)
        self.clients.append(http)
        return http

    def signed_in(self, name: str, password: str = PASSWORD) -> Any:
        http = self.browser()
        sign_in(http, name, password)
        return http


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(http: Any, name: str, password: str = PASSWORD) -> Any:
    page = http.get("/sign-in")
    answer = http.post(
        "/sign-in", data={"name": name, "password": password, "csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 303, answer.text
    return answer


def set_password(ws: Any, name: str, password: str = PASSWORD, by: str | None = None) -> Any:
    from clearance.services.signin import set_password as record

    me = acting(ws, by or name)
    return record(ws, me.admin_statement("person.password", {"name": name}), password)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def site(tmp_path: Path, database_url: str | None, clock: Clock) -> Iterator[Site]:
    """alice owns credit-scoring 2.4.0, submitted and checked (NO-GO: uat and sign-offs
    missing); everyone has the password PASSWORD."""
    from clearance.api.app import create_app

    ws = open_workspace(tmp_path / ".clearance", database_url, clock)
    register_signers(ws, PEOPLE)
    for name in (ADMIN, *PEOPLE):
        set_password(ws, name)
    folder = tmp_path / "project"
    local = load(ws, write_plan_folder(folder), ALICE)
    checked = check(ws, local, ALICE)
    app = create_app(ws.settings, workspace=ws)
    made = Site(ws, app, folder, local, checked.submitted.candidate.digest)
    yield made
    for http in made.clients:
        http.close()
    ws.close()


# -- end to end: a real server, a real OpenID provider, a real browser -----------------------


def chromium() -> str:
    """Debian's chromium (the project's test set-up installs it: `make unit`)."""
    found = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        pytest.fail("chromium is not installed; `make unit` installs it (apt-get install chromium)")
    return found


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def oidc_modules() -> Path:
    """tests/web/oidc/node_modules, installed from its package-lock.json when missing."""
    modules = OIDC_DIR / "node_modules" / "oidc-provider"
    if not modules.exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=OIDC_DIR, check=True, timeout=300
        )
    return modules


class OidcProvider:
    """panva's oidc-provider on loopback (tests/web/oidc/provider.mjs): any login name with
    any password; the ID token's sub and verified email are the login name."""

    def __init__(
        self, port: int, client_id: str, secret: str, redirect_uri: str, cwd: Path
    ) -> None:
        oidc_modules()
        self.port = port
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"oidc-{self.port}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                ["node", str(OIDC_DIR / "provider.mjs"), str(self.port), client_id, secret,
                 redirect_uri],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self._wait()

    def _wait(self) -> None:
        import time

        import httpx

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"oidc-provider exited: {self.log.read_text()}")
            try:
                url = f"{self.issuer}/.well-known/openid-configuration"
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError("oidc-provider did not start")

    def stop(self) -> None:
        import signal

        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)


@dataclass
class Served:
    """A workspace served by `clearance serve`, with an OpenID provider beside it."""

    url: str
    ws_root: Path
    folder: Path
    env: dict[str, str]
    oidc: OidcProvider
    ws: Any  # the same workspace, opened in the test process (SQLite in WAL mode)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`clearance serve` on a workspace where alice owns credit-scoring (not yet
    submitted), dana (model-risk) has a password and erik (eng-manager) signs in through
    the OpenID provider."""
    from tests.live import BIN, ServeProcess, free_port

    top = tmp_path_factory.mktemp("served")
    ws = open_workspace(top / ".clearance")
    register_signers(ws, PEOPLE)
    for name in (ALICE, DANA):
        set_password(ws, name)
    folder = top / "project"
    write_plan_folder(folder)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    callback = f"{url}/sign-in/oidc/callback"
    oidc = OidcProvider(free_port(), "clearance-web", "s3cret-for-tests", callback, top)
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "CLEARANCE_WORKSPACE": str(top / ".clearance"),
        "CLEARANCE_HOME": str(top / "home"),
        "CLEARANCE_PUBLIC_URL": url,
        "CLEARANCE_OIDC_ISSUER": oidc.issuer,
        "CLEARANCE_OIDC_CLIENT_ID": "clearance-web",
        "CLEARANCE_OIDC_CLIENT_SECRET": "s3cret-for-tests",
        "CLEARANCE_OIDC_NAME": "Example ID",
    }
    try:
        server = ServeProcess(env, top, port=port)
    except BaseException:
        oidc.stop()
        raise
    try:
        yield Served(url, top / ".clearance", folder, env, oidc, ws)
    finally:
        server.stop()
        oidc.stop()
        ws.close()
