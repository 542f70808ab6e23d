"""Technical readiness through the services, on SQLite and PostgreSQL: a real Bandit report
gates the release; a finding is accepted only by a role the policy names, never by the
plan's owner or authors, for one finding of one candidate, until its expiry; interested
parties are acknowledged by their role; and every attack on these statements is refused or
ignored, saying why."""

from __future__ import annotations

import base64
import json
import shutil
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from clearance.errors import ForbiddenError, NotFoundError, UsageError
from clearance.services.findings import accept_finding, acknowledge
from clearance.services.integrity import verify_workspace
from clearance.services.people import change_role
from clearance.services.workspace import Workspace
from clearance.store import tables as t
from tests.builders import (
    ADMIN,
    Clock,
    acting,
    attest,
    check,
    export,
    load,
    open_workspace,
    plan_document,
    register_signers,
    release,
    set_policy,
    signoff,
    submit,
    waiver_envelope,
    write_plan_folder,
)
from tests.scanners.run import report, scanner_reports  # noqa: F401  (a fixture)

POLICY = """
apiVersion: clearance/v1
kind: Policy
targets:
  "*":
    accept_findings:
      - {roles: [security], criteria: ["kind:findings"]}
"""
SCAN = {"id": "code-scan", "kind": "findings", "evidence": "reports/bandit.sarif",
        "tools": ["bandit"], "max": {"critical": 0, "high": 0}}  # fmt: skip
PATIENTS = {
    "name": "Loan applicants",
    "impact": "Ranking affects review order",
    "consideration": "Fairness criterion; human review retained",
    "acknowledged_by": "applicants-advocate",
}
B602 = ("rule", "B602", "service/score.py:12")
B301 = ("rule", "B301", "service/score.py:8")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None, clock: Clock) -> Iterator[Workspace]:
    workspace = open_workspace(tmp_path / ".clearance", database_url, clock)
    register_signers(
        workspace,
        {
            "alice@example.com": ["model-risk"],
            "dana@example.com": ["model-risk"],
            "erik@example.com": ["eng-manager"],
            "carol@example.com": ["product-owner"],
            "rita@example.com": ["risk-officer"],
            "sam@example.com": ["security"],
            "pat@example.com": ["applicants-advocate"],
            "mallory@example.com": [],
        },
    )
    set_policy(workspace, POLICY)
    yield workspace
    workspace.close()


def without(sarif: Path, rule: str) -> str:
    """The real report as it was before the code that `rule` flags was written."""
    doc = json.loads(sarif.read_text())
    for run in doc["runs"]:
        run["results"] = [r for r in run["results"] if r["ruleId"] != rule]
    return json.dumps(doc)


@pytest.fixture
def project(tmp_path: Path, scanner_reports) -> Path:  # noqa: F811
    """A plan whose findings criterion reads a real Bandit report of the fixture service, and
    whose loan applicants are acknowledged by their advocate."""
    doc = plan_document()
    doc["criteria"].append(SCAN)
    doc["interested_parties"] = [PATIENTS]
    plan = write_plan_folder(tmp_path / "project", document=doc)
    (plan.parent / "reports").mkdir(exist_ok=True)
    shutil.copy(report(scanner_reports, "bandit"), plan.parent / "reports/bandit.sarif")
    return plan


def statuses(ws: Workspace, local: Any) -> dict[str, str]:
    evaluation = check(ws, local).evaluation
    return {r.id: r.status.value for r in evaluation.results} | {"": evaluation.decision}


def result(ws: Workspace, local: Any, criterion: str) -> Any:
    return next(r for r in check(ws, local).evaluation.results if r.id == criterion)


def accept(
    ws: Workspace,
    local: Any,
    person: str = "sam@example.com",
    finding: tuple[str, str, str] = B602,
    role: str = "security",
    expires: timedelta = timedelta(days=7),
    why: str = "the command is a constant of ours, never user input",
) -> Any:
    envelope = acting(ws, person).acceptance(
        local, "code-scan", finding, role, why, ws.clock() + expires
    )
    return accept_finding(ws, envelope)


def acknowledge_as(ws: Workspace, local: Any, person: str = "pat@example.com", **kw: Any) -> Any:
    party = kw.pop("party", "Loan applicants")
    return acknowledge(ws, acting(ws, person).acknowledgement(local, party, kw.pop("m", "")))


def ready(ws: Workspace, plan: Path) -> Any:
    """Submitted by mallory, checked, user testing attested, the applicants acknowledged."""
    local = load(ws, plan)
    submit(ws, local, "mallory@example.com")
    check(ws, local)
    attest(ws, local, "uat", local.resolve("docs/uat.md"), "carol@example.com", "product-owner")
    acknowledge_as(ws, local, m="Read with the applicants' panel")
    return local


def signed_off(ws: Workspace, local: Any) -> None:
    signoff(ws, local, "model-risk", "dana@example.com")
    signoff(ws, local, "eng-manager", "erik@example.com")


# -- the gate ---------------------------------------------------------------------------------


def test_an_open_high_finding_turns_go_into_no_go_until_accepted_and_again_when_it_expires(
    ws: Workspace, project: Path, clock: Clock
) -> None:
    sarif = project.parent / "reports/bandit.sarif"
    real = sarif.read_text()
    sarif.write_text(without(sarif, "B602"))  # before the shell=True call was written
    local = ready(ws, project)
    signed_off(ws, local)
    assert statuses(ws, local)[""] == "GO"

    sarif.write_text(real)  # scanned again: Bandit now reports B602 (high)
    after = statuses(ws, local)
    assert after["code-scan"] == "failed" and after[""] == "NO-GO"
    signed_off(ws, local)  # sign-offs are bound to the evidence: given again on the new scan
    scan = result(ws, local, "code-scan")
    assert scan.reason.startswith(
        "1 open high finding where none is allowed: B602 at service/score.py:12 (high, Bandit): "
        "subprocess call with shell=True identified"
    )
    assert {k: v for k, v in statuses(ws, local).items() if v != "passed"} == {
        "code-scan": "failed",
        "": "NO-GO",
    }

    done = accept(ws, local, expires=timedelta(days=7))
    assert [f.describe() for f in done.findings] == ["B602 at service/score.py:12"]
    assert statuses(ws, local)[""] == "GO"
    scan = result(ws, local, "code-scan")
    assert "accepted (not counted): B602 at service/score.py:12 (high) by sam@example.com " in (
        scan.reason
    )

    clock.now += timedelta(days=7, minutes=1)
    scan = result(ws, local, "code-scan")
    assert scan.status.value == "failed"
    assert "the acceptance of B602 at service/score.py:12 by sam@example.com expired on" in (
        scan.reason
    )
    assert statuses(ws, local)[""] == "NO-GO"


def test_the_plans_owner_and_submitter_cannot_accept(ws: Workspace, project: Path) -> None:
    local = ready(ws, project)
    for who in ("alice@example.com", "mallory@example.com"):
        grant = {"name": who, "role": "security"}
        change_role(ws, acting(ws, ADMIN).admin_statement("role.grant", grant))
        with pytest.raises(ForbiddenError, match="separation of duties"):
            accept(ws, local, person=who)


def test_a_person_without_the_role_cannot_accept(ws: Workspace, project: Path) -> None:
    local = ready(ws, project)
    with pytest.raises(ForbiddenError, match="does not hold role security"):
        accept(ws, local, person="dana@example.com")


def test_only_roles_the_policy_names_may_accept(ws: Workspace, project: Path) -> None:
    local = ready(ws, project)
    with pytest.raises(ForbiddenError, match="the policy lets only security accept its findings"):
        accept(ws, local, person="rita@example.com", role="risk-officer")
    set_policy(ws, "apiVersion: clearance/v1\nkind: Policy\n")
    with pytest.raises(ForbiddenError, match=r"no policy rule \(accept_findings\)"):
        accept(ws, local)


def test_an_acceptance_longer_than_the_policy_allows_is_refused(
    ws: Workspace, project: Path
) -> None:
    local = ready(ws, project)
    with pytest.raises(UsageError, match="longer than the 90 days"):
        accept(ws, local, expires=timedelta(days=91))
    with pytest.raises(UsageError, match="needs a justification"):
        accept(ws, local, why="  ")


def test_an_acceptance_names_one_finding_of_the_reports(ws: Workspace, project: Path) -> None:
    local = ready(ws, project)
    signed_off(ws, local)
    accept(ws, local, finding=B301)  # a medium: it does not clear the high B602
    assert statuses(ws, local)["code-scan"] == "failed"
    with pytest.raises(UsageError, match=r"no finding B602 at service/score.py:13 .* the reports "
                       r"have B602 at service/score.py:12"):  # fmt: skip
        accept(ws, local, finding=("rule", "B602", "service/score.py:13"))
    with pytest.raises(UsageError, match="none of CVE-2024-1"):
        accept(ws, local, finding=("vulnerability", "CVE-2024-1", "jinja2"))
    with pytest.raises(NotFoundError, match='no criterion "nope"'):
        envelope = acting(ws, "sam@example.com").acceptance(
            local, "nope", B602, "security", "x", ws.clock() + timedelta(days=1)
        )
        accept_finding(ws, envelope)


def test_an_acceptance_for_another_candidate_does_not_count(ws: Workspace, project: Path) -> None:
    local = ready(ws, project)
    accept(ws, local)
    doc = yaml.safe_load(project.read_text())
    doc["criteria"][0]["threshold"] = 0.81
    project.write_text(yaml.safe_dump(doc, sort_keys=False))
    changed = load(ws, project)
    scan = result(ws, changed, "code-scan")
    assert scan.status.value == "failed"
    assert "1 acceptance signed for an earlier candidate does not carry over" in scan.reason


def test_altered_forged_or_misdirected_statements_are_refused(ws: Workspace, project: Path) -> None:
    from clearance.signing import SigningKey

    local = ready(ws, project)
    sam = acting(ws, "sam@example.com")
    envelope = sam.acceptance(local, "code-scan", B301, "security", "ok", ws.clock() + timedelta(1))
    with pytest.raises(ForbiddenError, match="no signature verifies"):
        accept_finding(ws, {**envelope, "payload": envelope["payload"][:-4] + "AAA="})
    ws.keys["stranger"] = SigningKey.generate()
    with pytest.raises(ForbiddenError, match="not registered"):
        acting(ws, "stranger").acceptance(local, "code-scan", B301, "security", "x", ws.clock())
    waiver = waiver_envelope(ws, local, "code-scan", "sam@example.com", "security")
    with pytest.raises(ForbiddenError, match="finding-acceptance/v1 is expected"):
        accept_finding(ws, waiver)
    with pytest.raises(ForbiddenError, match="acknowledgement/v1 is expected"):
        acknowledge(ws, envelope)


def test_an_acceptance_sent_twice_is_recorded_once(ws: Workspace, project: Path) -> None:
    local = ready(ws, project)
    sam = acting(ws, "sam@example.com")
    envelope = sam.acceptance(local, "code-scan", B602, "security", "ok", ws.clock() + timedelta(1))
    first, again = accept_finding(ws, envelope), accept_finding(ws, envelope)
    assert (first.new, again.new) == (True, False)
    with ws.engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(t.finding_acceptances))
        assert count.scalar() == 1


def _copy_rows(ws: Workspace, table: sa.Table, **changes: object) -> None:
    with ws.engine.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(table))]
        for row in rows:
            row.pop("id", None)
            conn.execute(table.insert().values(**{**row, **changes}))


def test_an_acceptance_row_inserted_behind_the_services_never_counts(
    ws: Workspace, project: Path
) -> None:
    local = ready(ws, project)
    signed_off(ws, local)
    accept(ws, local, finding=B301)
    _copy_rows(ws, t.finding_acceptances, finding="B602", place="service/score.py:12")
    scan = result(ws, local, "code-scan")
    assert scan.status.value == "failed"
    assert "the acceptance of B602 at service/score.py:12 by sam@example.com does not count" in (
        scan.reason
    )
    assert any("finding_acceptances row" in f for f in verify_workspace(ws)[1])


def test_an_acceptance_falls_with_its_authors_role_or_the_policy_rule(
    ws: Workspace, project: Path
) -> None:
    local = ready(ws, project)
    signed_off(ws, local)
    accept(ws, local)
    assert statuses(ws, local)[""] == "GO"
    set_policy(ws, POLICY.replace("kind:findings", "other-scan"))
    scan = result(ws, local, "code-scan")
    assert scan.status.value == "failed" and "no policy rule (accept_findings)" in scan.reason
    set_policy(ws, POLICY)
    assert statuses(ws, local)[""] == "GO"
    revoke = {"name": "sam@example.com", "role": "security"}
    change_role(ws, acting(ws, ADMIN).admin_statement("role.revoke", revoke))
    scan = result(ws, local, "code-scan")
    assert "its author no longer holds role security" in scan.reason


# -- acknowledgements -------------------------------------------------------------------------


def test_a_party_is_acknowledged_on_this_candidate_and_again_when_its_text_changes(
    ws: Workspace, project: Path
) -> None:
    local = load(ws, project)
    submit(ws, local, "mallory@example.com")
    parties = result(ws, local, "parties")
    assert parties.status.value == "pending"
    assert parties.next[0].kind == "acknowledge" and parties.next[0].about == ("Loan applicants",)
    done = acknowledge_as(ws, local, m="Read with the panel")
    assert (done.party, done.role, done.new) == ("Loan applicants", "applicants-advocate", True)
    parties = result(ws, local, "parties")
    assert parties.status.value == "passed"
    assert ("Loan applicants acknowledged by pat@example.com (applicants-advocate): Read with "
            "the panel") in parties.reason  # fmt: skip

    doc = yaml.safe_load(project.read_text())
    doc["interested_parties"][0]["consideration"] = "Scores are final"
    project.write_text(yaml.safe_dump(doc, sort_keys=False))
    changed = load(ws, project)
    parties = result(ws, changed, "parties")
    assert parties.status.value == "pending"
    assert "before its impact or consideration changed" in parties.reason


def test_only_the_partys_role_acknowledges_and_never_an_author(
    ws: Workspace, project: Path
) -> None:
    local = load(ws, project)
    submit(ws, local, "mallory@example.com")
    check(ws, local)
    with pytest.raises(ForbiddenError, match="does not hold role applicants-advocate"):
        acknowledge_as(ws, local, person="dana@example.com")
    grant = {"name": "mallory@example.com", "role": "applicants-advocate"}
    change_role(ws, acting(ws, ADMIN).admin_statement("role.grant", grant))
    with pytest.raises(ForbiddenError, match="separation of duties"):
        acknowledge_as(ws, local, person="mallory@example.com")
    with pytest.raises(NotFoundError, match='no interested party "Regulators"'):
        acknowledge_as(ws, local, party="Regulators")


def test_a_party_without_a_role_is_not_acknowledged(ws: Workspace, tmp_path: Path) -> None:
    plan = write_plan_folder(tmp_path / "plain")
    local = load(ws, plan)
    submit(ws, local, "mallory@example.com")
    with pytest.raises(UsageError, match="names no role to acknowledge Loan applicants"):
        acknowledge_as(ws, local)


def test_an_acknowledgement_row_copied_behind_the_services_never_counts(
    ws: Workspace, project: Path
) -> None:
    local = load(ws, project)
    submit(ws, local, "mallory@example.com")
    check(ws, local)
    acknowledge_as(ws, local)
    doc = yaml.safe_load(project.read_text())
    doc["criteria"][0]["threshold"] = 0.81
    project.write_text(yaml.safe_dump(doc, sort_keys=False))
    changed = load(ws, project)
    candidate = check(ws, changed).submitted.candidate.digest
    _copy_rows(ws, t.acknowledgements, candidate=candidate)
    parties = result(ws, changed, "parties")
    assert parties.status.value == "pending"
    assert "does not count: its row is not on the log" in parties.reason
    assert any("acknowledgements row" in f for f in verify_workspace(ws)[1])


# -- the audit pack and the release now running ----------------------------------------------


def test_the_pack_carries_the_signed_statements_and_verifies(
    ws: Workspace, project: Path, tmp_path: Path
) -> None:
    from clearance.exports.pack import verify_pack

    local = ready(ws, project)
    signed_off(ws, local)
    accept(ws, local)
    assert statuses(ws, local)[""] == "GO"
    pack = tmp_path / "pack.zip"
    export(ws, local, pack)
    key = ws.signing_key.public_raw
    assert verify_pack(pack, trusted=key) == []
    with zipfile.ZipFile(pack) as zf:
        names = zf.namelist()
        html = zf.read("index.html").decode()
        matrix = zf.read("control-matrix.csv").decode()
        files = {n: zf.read(n) for n in names}
    assert "signed/finding-acceptances/0001.dsse.json" in names
    assert "signed/acknowledgements/0001.dsse.json" in names
    assert "B602 at service/score.py:12" in html and "pat@example.com (applicants-advocate" in html
    verification = next(r for r in matrix.splitlines() if r.startswith("B.6.2.5-verification"))
    assert "code-scan" in verification
    attestation = next(n for n in names if n.startswith("signed/attestations/"))
    payload = json.loads(files[attestation])["payload"]
    predicate = json.loads(base64.b64decode(payload))["predicate"]
    assert len(predicate["acceptances"]) == 1 and len(predicate["acknowledgements"]) == 1

    # an acceptance re-signed by someone else, or re-pointed, fails the pack
    forged = tmp_path / "forged.zip"
    envelope = json.loads(files["signed/finding-acceptances/0001.dsse.json"])
    other = acting(ws, "rita@example.com").acceptance(
        local, "code-scan", B602, "security", "x", ws.clock() + timedelta(days=1)
    )
    envelope["signatures"] = other["signatures"]
    files["signed/finding-acceptances/0001.dsse.json"] = json.dumps(envelope).encode()
    with zipfile.ZipFile(forged, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    failures = verify_pack(forged, trusted=key)
    assert any("finding-acceptances/0001.dsse.json" in f for f in failures)


def test_findings_absent_from_the_release_now_running_are_new(ws: Workspace, project: Path) -> None:
    sarif = project.parent / "reports/bandit.sarif"
    real = sarif.read_text()
    doc = yaml.safe_load(project.read_text())
    doc["criteria"][-1].update(baseline="released", max={"critical": 0}, max_new={"high": 0})
    project.write_text(yaml.safe_dump(doc, sort_keys=False))
    sarif.write_text(without(sarif, "B602"))
    local = ready(ws, project)
    signed_off(ws, local)
    first = result(ws, local, "code-scan")
    assert "there is no earlier release in production" in first.reason
    release(ws, local)

    doc["release"]["version"] = "2.5.0"
    project.write_text(yaml.safe_dump(doc, sort_keys=False))
    sarif.write_text(real)
    later = ready(ws, project)
    scan = result(ws, later, "code-scan")
    assert scan.status.value == "failed"
    assert scan.observed["new"] == ["B602 at service/score.py:12"]
    assert "1 new high finding since version 2.4.0 in production where at most 0" in scan.reason


def test_an_enormous_report_is_a_criterion_error_naming_the_file(
    ws: Workspace, project: Path
) -> None:
    from dataclasses import replace

    sarif = project.parent / "reports/bandit.sarif"
    ws.settings = replace(ws.settings, max_document_bytes=sarif.stat().st_size - 1)
    scan = result(ws, load(ws, project), "code-scan")
    assert scan.status.value == "error"
    assert scan.reason.startswith(
        "reports/bandit.sarif could not be read: reports/bandit.sarif is 7,"
    )
    assert "over the" in scan.reason and "limit for a parsed document" in scan.reason
