"""`clearance share`: create prints the URL on its last line, expiry is at most 30 days
(exit 2), only an owner or an administrator shares or revokes (exit 77), list and show give
state, views and the access log, never a token."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearance.services.reviewer import download_evidence, open_link
from tests.cli.harness import Completed, invoke
from tests.services.test_shares import DANA, OWNER, SYSTEM, VERSION, Shared, shared_workspace

URL_BASE = "https://clearance.example.com"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Shared:
    """One workspace for the module (the commands below add links; each test makes its own)."""
    root = tmp_path_factory.mktemp("share")
    shared = shared_workspace(root)
    for name, key in shared.ws.keys.items():
        key.save(root / "keys" / f"{name.split('@')[0]}.pem")
    shared.ws.close()
    return shared


def run(env: Shared, *args: str, who: str = OWNER) -> Completed:
    root = env.ws.settings.workspace.parent
    return invoke(
        root,
        *args,
        env={
            "CLEARANCE_WORKSPACE": str(env.ws.settings.workspace),
            "CLEARANCE_IDENTITY": str(root / "keys" / f"{who.split('@')[0]}.pem"),
            "CLEARANCE_HOME": str(root / "home"),
            "CLEARANCE_PUBLIC_URL": URL_BASE + "/",
        },
    )


def created(env: Shared, *args: str) -> str:
    done = run(env, "share", "create", *args)
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip().splitlines()[-1]
    assert url.startswith(URL_BASE + "/r/crv_")
    return url


def test_create_prints_the_url_last_and_list_shows_the_link_without_it(env: Shared) -> None:
    url = created(env, SYSTEM, VERSION, "--expires", "7d", "--note", "Q4 audit")
    listed = run(env, "share", "list")
    assert listed.returncode == 0
    assert f"{SYSTEM}@{VERSION}" in listed.stdout and "active" in listed.stdout
    assert url.rsplit("/", 1)[1] not in listed.stdout + listed.stderr
    assert "Q4 audit" not in listed.stdout  # the note is for the reviewer and `show`


def test_several_releases_in_one_link(env: Shared) -> None:
    url = created(env, "--release", f"{SYSTEM}@{VERSION}", "--release", f"{SYSTEM}@2.5.0")
    ws = env.ws
    link = open_link(ws, url.rsplit("/", 1)[1], address=None)
    ws.close()
    assert [r.version for r in link.releases] == [VERSION, "2.5.0"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((SYSTEM, VERSION, "--expires", "31d"), "within 30 days"),
        ((SYSTEM, VERSION, "--expires", "soon"), "--expires"),
        ((SYSTEM,), "both SYSTEM and VERSION"),
        ((), "name a release"),
        (("--release", "credit-scoring"), "SYSTEM@VERSION"),
        ((SYSTEM, "9.9.9"), "run `clearance check`"),
    ],
)
def test_bad_input_is_exit_2_with_what_to_do(env: Shared, args: tuple[str, ...], says: str) -> None:
    done = run(env, "share", "create", *args)
    assert done.returncode == 2 and says in done.stderr, done
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_non_owner_may_not_create_or_revoke(env: Shared) -> None:
    refused = run(env, "share", "create", SYSTEM, VERSION, who=DANA)
    assert refused.returncode == 77 and "only its owner" in refused.stderr
    url = created(env, SYSTEM, VERSION)
    refused = run(env, "share", "revoke", url, who=DANA)
    assert refused.returncode == 77 and "may not manage" in refused.stderr


def test_revoke_by_url_takes_effect_and_show_gives_the_access_log(env: Shared) -> None:
    from clearance.services.reviewer import LinkRefused

    url = created(env, SYSTEM, VERSION)
    secret = url.rsplit("/", 1)[1]
    ws = env.ws
    evidence = env.evidence_of(env.a)[0]
    download_evidence(ws, secret, SYSTEM, VERSION, evidence.id, address="198.51.100.4")
    link_id = open_link(ws, secret, address="198.51.100.4").id
    ws.close()
    shown = run(env, "share", "show", str(link_id))
    assert shown.returncode == 0, shown.stderr
    assert "198.51.100.4" in shown.stdout and "downloaded" in shown.stdout
    assert evidence.name in shown.stdout and "active" in shown.stdout
    access = run(env, "share", "list", "--access", str(link_id))
    assert access.stdout == shown.stdout.split("\n", 2)[2]  # the same log, without the header
    assert run(env, "share", "revoke", url).returncode == 0
    with pytest.raises(LinkRefused):
        open_link(env.ws, secret, address=None)
    env.ws.close()
    again = run(env, "share", "revoke", str(link_id))
    assert again.returncode == 2 and "revoked already" in again.stderr
    assert "revoked" in run(env, "share", "show", url).stdout
    unknown = run(env, "share", "show", "424242")
    assert unknown.returncode == 2 and "no reviewer link" in unknown.stderr


def test_sharing_needs_a_signed_identity(env: Shared, tmp_path: Path) -> None:
    root = env.ws.settings.workspace.parent
    done = invoke(
        root,
        "share",
        "create",
        SYSTEM,
        VERSION,
        env={
            "CLEARANCE_WORKSPACE": str(env.ws.settings.workspace),
            "CLEARANCE_HOME": str(tmp_path),
        },
    )
    assert done.returncode == 77 and "identity" in done.stderr
