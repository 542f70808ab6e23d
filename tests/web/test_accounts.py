"""Accounts for the pages: which OpenID Connect subject signs in as whom (never an unknown
one), and the commands that set passwords and link subjects."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from clearance.errors import AuthenticationError, ForbiddenError, UsageError
from clearance.services.signin import link_oidc, oidc_person
from tests.builders import ADMIN, acting
from tests.web.conftest import DANA, ERIK, Site, sign_in

ISSUER = "https://id.example.com"


def link(site: Site, name: str, subject: str, by: str = ADMIN):
    args = {"name": name, "issuer": ISSUER, "subject": subject}
    return link_oidc(site.ws, acting(site.ws, by).admin_statement("person.oidc", args))


def test_a_linked_subject_signs_in_as_its_person(site: Site) -> None:
    link(site, DANA, "248289761001")
    person = oidc_person(site.ws, ISSUER, {"sub": "248289761001"}, match_email=False)
    assert person.name == DANA


def test_an_unknown_subject_is_refused_never_registered(site: Site) -> None:
    from clearance.services.people import people

    before = len(people(site.ws))
    for claims in (
        {"sub": "nobody"},
        {"sub": "x", "email": "mallory@example.com", "email_verified": True},
    ):
        with pytest.raises(ForbiddenError, match="not registered"):
            oidc_person(site.ws, ISSUER, claims, match_email=True)
    assert len(people(site.ws)) == before


def test_an_email_counts_only_when_verified_and_allowed(site: Site) -> None:
    verified = {"sub": "s1", "email": DANA, "email_verified": True}
    assert oidc_person(site.ws, ISSUER, verified, match_email=True).name == DANA
    with pytest.raises(ForbiddenError):
        oidc_person(site.ws, ISSUER, {**verified, "email_verified": False}, match_email=True)
    with pytest.raises(ForbiddenError):
        oidc_person(site.ws, ISSUER, verified, match_email=False)


def test_a_link_beats_an_email_claiming_someone_else(site: Site) -> None:
    """A provider account linked to erik stays erik's, whatever e-mail it later shows."""
    link(site, ERIK, "erik-sub")
    claims = {"sub": "erik-sub", "email": DANA, "email_verified": True}
    assert oidc_person(site.ws, ISSUER, claims, match_email=True).name == ERIK


def test_only_administrators_link_subjects_and_each_subject_once(site: Site) -> None:
    with pytest.raises(ForbiddenError):
        link(site, DANA, "mine", by=DANA)
    link(site, DANA, "mine")
    with pytest.raises(UsageError, match="already linked"):
        link(site, ERIK, "mine")


def test_a_subject_without_sub_is_refused(site: Site) -> None:
    with pytest.raises(AuthenticationError):
        oidc_person(site.ws, ISSUER, {"email": DANA, "email_verified": True}, match_email=True)


def _cli(site: Site, args: list[str], key_of: str, stdin: str | None = None) -> Any:
    """`clearance ARGS` in this process, as `key_of`, with `stdin`: (exit code, output)."""
    from clearance.cli import output
    from clearance.cli.main import main

    key = Path(site.folder) / f"{key_of}.pem"
    if not key.exists():
        site.ws.keys[key_of].save(key)
    env = {
        "CLEARANCE_WORKSPACE": str(site.ws.settings.workspace),
        "CLEARANCE_HOME": str(site.ws.settings.home),
        "CLEARANCE_IDENTITY": str(key),
    }
    if site.ws.settings.database_url:  # the PostgreSQL run: the same database, not a new one
        env["CLEARANCE_DATABASE_URL"] = site.ws.settings.database_url
    output.console.cache_clear()
    with CliRunner().isolation(input=stdin, env=env) as (out, err, _):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        text = out.getvalue().decode() + err.getvalue().decode()
    output.console.cache_clear()
    return SimpleNamespace(exit_code=code, output=text)


def test_people_password_reads_stdin_and_the_person_then_signs_in(site: Site) -> None:
    done = _cli(site, ["people", "password", DANA, "--stdin"], DANA, "a new browser passphrase\n")
    assert done.exit_code == 0, done.output
    assert "Set the password of dana@example.com" in done.output
    sign_in(site.browser(), DANA, "a new browser passphrase")


def test_people_password_prompts_twice_without_stdin(site: Site) -> None:
    done = _cli(site, ["people", "password", ERIK], ADMIN, "prompted passphrase\n" * 2)
    assert done.exit_code == 0, done.output
    sign_in(site.browser(), ERIK, "prompted passphrase")


def test_people_password_for_someone_else_needs_an_administrator(site: Site) -> None:
    done = _cli(site, ["people", "password", ERIK, "--stdin"], DANA, "dana sets erik's\n")
    assert done.exit_code == 77
    assert "may not manage people" in done.output


def test_people_oidc_links_a_subject(site: Site) -> None:
    done = _cli(site, ["people", "oidc", DANA, "--subject", "s-42", "--issuer", ISSUER], ADMIN)
    assert done.exit_code == 0, done.output
    assert oidc_person(site.ws, ISSUER, {"sub": "s-42"}, match_email=False).name == DANA
