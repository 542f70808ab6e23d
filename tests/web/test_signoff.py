"""Sign-off from the release page: a statement signed by the workspace key on behalf of the
signed-in person, under the same rules as a sign-off signed with a personal key, and
counted, verified and exported like one."""

from __future__ import annotations

import json
import re

import pytest

from clearance.errors import ForbiddenError
from tests.builders import ADMIN, acting, attest, check, export, set_policy
from tests.web.conftest import ALICE, CAROL, DANA, ERIK, OLGA, Site, csrf_of


def approve(site: Site, http, role: str, decision: str = "approve", comment: str = "looks right"):
    page = http.get(f"/candidates/{site.candidate}")
    return http.post(
        f"/candidates/{site.candidate}/sign-off",
        data={
            "role": role,
            "decision": decision,
            "comment": comment,
            "csrf_token": csrf_of(page.text),
        },
    )


def go(site: Site) -> None:
    """carol attests user testing; dana and erik approve in the browser."""
    attest(site.ws, site.local, "uat", site.folder / "docs/uat.md", CAROL, "product-owner")
    for person, role in ((DANA, "model-risk"), (ERIK, "eng-manager")):
        answer = approve(site, site.signed_in(person), role)
        assert answer.status_code == 303, answer.text


def test_two_browser_approvals_make_the_release_go(site: Site) -> None:
    go(site)
    checked = check(site.ws, site.local, ALICE)
    assert checked.evaluation.decision == "GO", [
        (r.id, r.reason) for r in checked.evaluation.blocking()
    ]
    page = site.signed_in(DANA).get(f"/candidates/{site.candidate}")
    assert 'class="outcome go">GO' in page.text
    assert "in the browser (password sign-in" in page.text


def test_a_browser_sign_off_names_how_the_person_signed_in(site: Site) -> None:
    from clearance.services import queries
    from clearance.services.auth import UNSIGNED
    from clearance.signing import unb64
    from clearance.signing.statements import dsse_keyid

    http = site.signed_in(DANA)
    approve(site, http, "model-risk")
    [signed] = queries.approvals(site.ws, UNSIGNED, site.candidate)
    keyid = signed["envelope"]["signatures"][0]["keyid"]
    assert keyid == dsse_keyid(site.ws.signing_key.public_raw)
    predicate = json.loads(unb64(signed["envelope"]["payload"]))["predicate"]
    how = predicate["authenticated"]
    assert predicate["person"] == DANA and how["method"] == "password"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", how["session"])
    assert how["session"] != "sha256:" + http.cookies["clearance_session"]  # a digest only


def test_self_approval_is_refused_and_the_reason_shown(site: Site) -> None:
    answer = approve(site, site.signed_in(ALICE), "model-risk")
    assert answer.status_code == 403
    assert "Refused:" in answer.text and "separation of duties" in answer.text


def test_approving_without_the_role_is_refused(site: Site) -> None:
    answer = approve(site, site.signed_in(ERIK), "model-risk")
    assert answer.status_code == 403
    assert "does not hold role model-risk" in answer.text


def test_a_person_without_access_to_the_system_sees_nothing(site: Site) -> None:
    http = site.signed_in(OLGA)
    assert http.get(f"/candidates/{site.candidate}").status_code == 404
    assert approve_blind(site, http).status_code == 404
    assert "credit-scoring" not in http.get("/").text


def approve_blind(site: Site, http):
    token = csrf_of(http.get("/").text)
    return http.post(
        f"/candidates/{site.candidate}/sign-off",
        data={"role": "model-risk", "decision": "approve", "csrf_token": token},
    )


def test_a_rejection_needs_a_comment_and_blocks(site: Site) -> None:
    http = site.signed_in(DANA)
    assert approve(site, http, "model-risk", "reject", comment="").status_code == 400
    assert approve(site, http, "model-risk", "reject", comment="AUC drop").status_code == 303
    page = http.get(f"/candidates/{site.candidate}")
    assert "AUC drop" in page.text and "d-reject" in page.text


def test_a_policy_can_require_personal_keys_for_a_role(site: Site) -> None:
    set_policy(
        site.ws,
        "apiVersion: clearance/v1\nkind: Policy\nsignoff: {personal_key_roles: [eng-manager]}\n",
    )
    site.local = acting(site.ws, ALICE).plan(site.local.path)
    site.candidate = check(site.ws, site.local, ALICE).submitted.candidate.digest
    http = site.signed_in(ERIK)
    page = http.get(f"/candidates/{site.candidate}")
    assert "signed with your own key" in page.text
    assert "approve plan.yaml --role eng-manager" in page.text
    answer = approve(site, http, "eng-manager")
    assert answer.status_code == 403 and "with the CLI" in answer.text
    assert approve(site, site.signed_in(DANA), "model-risk").status_code == 303


def test_browser_sign_offs_made_before_a_personal_key_rule_stop_counting(site: Site) -> None:
    go(site)
    set_policy(
        site.ws,
        "apiVersion: clearance/v1\nkind: Policy\nsignoff: {personal_key_roles: [eng-manager]}\n",
    )
    checked = check(site.ws, site.local, ALICE)
    blocking = {r.id for r in checked.evaluation.blocking()}
    assert "signoff" in blocking


def test_no_one_can_hand_in_a_statement_that_claims_a_browser_sign_in(site: Site) -> None:
    """The API and CLI take statements signed with the sender's own key; one signed by the
    workspace key (someone holding the workspace key file) or claiming a browser sign-in is
    refused."""
    from clearance.services.approvals import sign
    from clearance.signing.statements import sign_statement

    dana = acting(site.ws, DANA)
    honest = dana.approval(site.local, "model-risk", "approve", "ok")
    stmt = json.loads(__import__("base64").b64decode(honest["payload"]))
    stmt["predicate"]["authenticated"] = {"method": "password", "at": "x", "session": "sha256:0"}
    with pytest.raises(ForbiddenError, match="web pages only"):
        sign(site.ws, sign_statement(stmt, site.ws.keys[DANA]))
    with pytest.raises(ForbiddenError, match="no registered person holds"):
        sign(site.ws, sign_statement(stmt, site.ws.signing_key))


def test_a_browser_sign_off_verifies_in_the_workspace_and_in_its_audit_pack(
    site: Site, tmp_path
) -> None:
    from clearance.exports.packverify import verify_pack
    from clearance.services.integrity import verify_workspace

    go(site)
    assert check(site.ws, site.local, ALICE).evaluation.decision == "GO"
    _, failures = verify_workspace(site.ws)
    assert failures == []
    done = export(site.ws, site.local, tmp_path / "pack.zip", ADMIN)
    assert verify_pack(done.path, trusted=[site.ws.signing_key.public_raw]) == []


def test_a_forged_browser_sign_off_in_a_pack_fails_verification(site: Site, tmp_path) -> None:
    """A pack whose browser sign-off was signed by another key than the pinned workspace key
    does not verify."""
    import zipfile

    from clearance.exports.packverify import verify_pack
    from clearance.signing import SigningKey

    go(site)
    check(site.ws, site.local, ALICE)
    done = export(site.ws, site.local, tmp_path / "pack.zip", ADMIN)
    other = SigningKey.generate()
    assert verify_pack(done.path, trusted=[other.public_raw]) != []
    with zipfile.ZipFile(done.path) as z:
        assert any("approvals" in n and n.endswith(".dsse.json") for n in z.namelist())


def test_after_approving_the_page_and_dashboard_stop_asking(site: Site) -> None:
    """Once dana has approved as model-risk, her release page says so instead of offering
    the form again, and the dashboard no longer lists the release as waiting for her."""
    http = site.signed_in(DANA)
    before = http.get(f"/candidates/{site.candidate}").text
    assert "Approve as model-risk" in before
    assert approve(site, http, "model-risk").status_code == 303
    after = http.get(f"/candidates/{site.candidate}").text
    assert "Approve as model-risk" not in after
    assert "You approved as model-risk." in after
    dashboard = http.get("/").text
    waiting = dashboard[dashboard.index('id="waiting"') : dashboard.index('id="systems"')]
    assert "Nothing is waiting for you." in waiting and site.candidate not in waiting
