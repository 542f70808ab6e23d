"""What each page shows, read through the same queries as the API, and that user-provided
text (plan titles, comments, evidence names, messages) is escaped in HTML."""

from __future__ import annotations

import json
import re
import zipfile
from io import BytesIO

import yaml

from tests.builders import add_file, check, load, plan_document, release
from tests.web.conftest import ALICE, CAROL, DANA, ERIK, Site, csrf_of
from tests.web.test_signoff import approve, go

XSS = '<script>alert("x")</script>'


def test_the_dashboard_shows_what_waits_for_me_and_what_runs_where(site: Site) -> None:
    http = site.signed_in(DANA)
    page = http.get("/").text
    waiting = page.split('id="waiting"')[1].split("</section>")[0]
    assert "credit-scoring 2.4.0" in waiting and "as model-risk" in waiting
    assert "Nothing released yet" in page
    assert "Credit scoring" in page
    # carol is asked for no sign-off; once dana approves, it no longer waits for her
    assert "Nothing is waiting for you" in site.signed_in(CAROL).get("/").text
    approve(site, http, "model-risk")
    assert "Nothing is waiting for you" in http.get("/").text
    assert "approval.approved" in http.get("/").text  # among the recent decisions


def test_the_dashboard_shows_each_environments_inventory_after_a_release(site: Site) -> None:
    go(site)
    release(site.ws, site.local, ALICE)
    page = site.signed_in(DANA).get("/").text
    inventory = page.split('id="inventory"')[1]
    assert "production" in inventory and "scorer" in inventory and "2.4.0" in inventory


def test_the_release_page_shows_the_plan_checklist_evidence_and_timeline(site: Site) -> None:
    http = site.signed_in(DANA)
    page = http.get(f"/candidates/{site.candidate}").text
    assert 'class="outcome nogo">NO-GO' in page
    for component in ("scorer", "scoring-api"):
        assert component in page
    assert "deploys" in page and "already running" in page
    checklist = page.split('id="checklist"')[1].split("</section>")[0]
    for criterion in ("auc", "tests", "uat", "env", "rollback", "parties", "signoff"):
        assert f'id="criterion-{criterion}"' in checklist
    assert "0.87" in checklist  # the observed AUC, beside its expectation
    # next actions are links and buttons, never shell commands
    assert 'href="/candidates/' in checklist and "#sign-off" in checklist
    assert "clearance " not in checklist and "--role" not in checklist
    environments = page.split('id="environments"')[1].split("</section>")[0]
    assert "hosting" in environments and "region" in environments
    evidence = page.split('id="evidence"')[1].split("</section>")[0]
    assert "metrics.json" in evidence and "sha256:" in evidence and "/download" in evidence
    assert "decision.recorded" in page.split('id="timeline"')[1]
    assert site.ws.signing_key.key_id in page.split('id="pack"')[1]


def test_a_next_action_link_opens_the_criterion_page(site: Site) -> None:
    http = site.signed_in(DANA)
    page = http.get(f"/candidates/{site.candidate}").text
    link = re.search(r'href="(/candidates/[^"]+/criteria/uat)#attach"', page)
    assert link, "the uat criterion offers to attach its evidence"
    criterion = http.get(link.group(1))
    assert criterion.status_code == 200 and 'id="attach"' in criterion.text
    assert "product-owner" in criterion.text


def test_user_text_is_escaped_everywhere(site: Site) -> None:
    """Plan titles, purposes, revision messages, comments and evidence names holding HTML
    come out as text, never as markup."""
    document = plan_document()
    document["system"] = {**document["system"], "name": XSS, "purpose": XSS}
    (site.folder / "plan.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    local = load(site.ws, site.folder / "plan.yaml", ALICE)
    weird = site.folder / "<img src=x onerror=alert(1)>.txt"
    weird.write_text(XSS)
    site.candidate = check(site.ws, local, ALICE).submitted.candidate.digest
    site.local = local
    add_file(site.ws, local, "uat", weird, CAROL)
    http = site.signed_in(DANA)
    approve(site, http, "model-risk", "reject", comment=XSS)
    pages = [
        http.get("/").text,
        http.get(f"/candidates/{site.candidate}").text,
        http.get("/systems/credit-scoring").text,
        http.get("/systems/credit-scoring/diff").text,
        http.get("/log").text,
    ]
    evidence_id = re.search(r'href="/evidence/(\d+)"', pages[1]).group(1)
    pages.append(http.get(f"/evidence/{evidence_id}").text)
    for html in pages:
        assert "<script>alert" not in html
        assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages[1]
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in pages[1]


def test_evidence_previews_text_json_and_images_and_downloads_as_attachments(
    site: Site,
) -> None:
    png = site.folder / "chart.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    svg = site.folder / "chart.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    for path in (png, svg):
        add_file(site.ws, site.local, "uat", path, CAROL)
    http = site.signed_in(DANA)
    from clearance.services import queries
    from clearance.services.auth import UNSIGNED

    ids = {e.name: e.id for e in queries.evidence(site.ws, UNSIGNED, site.candidate)}
    metrics = http.get(f"/evidence/{ids['eval/metrics.json']}")
    assert "&#34;auc&#34;: 0.87" in metrics.text  # pretty-printed JSON, escaped
    assert '<pre class="preview json">' in metrics.text
    image = http.get(f"/evidence/{ids['chart.png']}")
    assert f'src="/evidence/{ids["chart.png"]}/image"' in image.text
    raw = http.get(f"/evidence/{ids['chart.png']}/image")
    assert raw.headers["content-type"] == "image/png"
    vector = http.get(f"/evidence/{ids['chart.svg']}")
    assert "<img" not in vector.text.split("<h2>Preview</h2>")[1]  # an SVG is never inline
    assert http.get(f"/evidence/{ids['chart.svg']}/image").status_code == 404
    download = http.get(f"/evidence/{ids['chart.svg']}/download")
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.content == svg.read_bytes()


def test_plan_history_and_the_diff_between_any_two_revisions(site: Site) -> None:
    first = site.local.loaded.revision
    document = plan_document()
    document["criteria"][0]["threshold"] = 0.85
    (site.folder / "plan.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    local = load(site.ws, site.folder / "plan.yaml", ALICE)
    check(site.ws, local, ALICE)
    http = site.signed_in(DANA)
    history = http.get("/systems/credit-scoring").text
    assert first in history and local.loaded.revision in history
    diff = http.get(f"/systems/credit-scoring/diff?old={first}&new={local.loaded.revision}")
    assert diff.status_code == 200
    row = diff.text.split('class="c-changed"')[1].split("</tr>")[0]
    assert "auc" in row and "threshold" in row and "0.8" in row and "0.85" in row
    backwards = http.get(f"/systems/credit-scoring/diff?old={local.loaded.revision}&new={first}")
    assert "0.85" in backwards.text.split('class="before"')[1]


def test_the_audit_log_page_verifies_now(site: Site) -> None:
    http = site.signed_in(ERIK)
    page = http.get("/log")
    assert "Latest checkpoint" in page.text and 'hx-post="/log/verify"' in page.text
    answer = http.post(
        "/log/verify", headers={"X-CSRF-Token": csrf_of(page.text), "HX-Request": "true"}
    )
    assert answer.status_code == 200 and "Verified:" in answer.text


def test_the_audit_pack_downloads_and_its_export_is_logged(site: Site) -> None:
    http = site.signed_in(DANA)
    page = http.get(f"/candidates/{site.candidate}")
    answer = http.post(
        f"/candidates/{site.candidate}/pack", data={"csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(BytesIO(answer.content)) as pack:
        assert "candidate.json" in pack.namelist()
        assert json.loads(pack.read("candidate.json"))["digest"] == site.candidate
    assert "pack.exported" in http.get("/log").text


def test_a_candidate_of_a_system_i_cannot_see_is_the_404_page(site: Site) -> None:
    from tests.web.conftest import OLGA

    http = site.signed_in(OLGA)
    for path in (
        f"/candidates/{site.candidate}",
        "/systems/credit-scoring",
        "/systems/credit-scoring/diff",
        "/evidence/1",
        "/evidence/1/download",
    ):
        answer = http.get(path)
        assert answer.status_code == 404, path
        assert "credit" not in answer.text.lower(), path
