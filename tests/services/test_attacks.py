"""Every attack of the trust issue, refused: another person's name or key, roles and
policy changed by someone who may not, rows inserted behind the services' back, a target
renamed to escape the policy, waivers by the people they bind or past their author's role.
Each runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from clearance.errors import ConflictError, ForbiddenError, PlanError, UsageError
from clearance.services.approvals import revoke_waiver, sign
from clearance.services.attestations import latest_attestation
from clearance.services.integrity import verify_workspace
from clearance.services.people import add_key, add_person, change_role
from clearance.services.policy import declare_target, set_policy
from clearance.services.workspace import Workspace
from clearance.signing import SigningKey, b64
from clearance.store import tables as t
from tests.builders import (
    ADMIN,
    Clock,
    acting,
    attest,
    check,
    load,
    open_workspace,
    register_signers,
    signoff,
    signoff_envelope,
    submit,
    waive,
    waiver_envelope,
    write_plan_folder,
)
from tests.builders import set_policy as policy_from_text

POLICY = """
apiVersion: clearance/v1
kind: Policy
targets:
  "*":
    criteria:
      - {id: security-signoff, kind: approval, roles: [{role: security, min: 1}]}
    waivers:
      - {roles: [risk-officer], criteria: ["kind:metric"]}
"""


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
            "mallory@example.com": [],
        },
    )
    yield workspace
    workspace.close()


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    return write_plan_folder(tmp_path / "project")


def ready(ws: Workspace, plan_path: Path):
    local = load(ws, plan_path)
    submit(ws, local, "mallory@example.com")
    check(ws, local)
    attest(ws, local, "uat", local.resolve("docs/uat.md"), "carol@example.com", "product-owner")
    return local


def go(ws: Workspace, plan_path: Path):
    local = ready(ws, plan_path)
    signoff(ws, local, "model-risk", "dana@example.com")
    signoff(ws, local, "eng-manager", "erik@example.com")
    return local


def statuses(ws: Workspace, local) -> dict[str, str]:
    evaluation = check(ws, local).evaluation
    return {r.id: r.status.value for r in evaluation.results} | {"": evaluation.decision}


def mallory(ws: Workspace):
    return acting(ws, "mallory@example.com")


# -- who acts, and what they may do ------------------------------------------------------


def test_registering_own_key_for_someone_else_is_refused(ws: Workspace, plan_path: Path) -> None:
    """`keys add dana@example.com own.pub` by mallory: refused; her key never signs as dana."""
    own = SigningKey.generate()
    args = {"name": "dana@example.com", "public_key": b64(own.public_raw)}
    with pytest.raises(ForbiddenError, match="may not manage another person's keys"):
        add_key(ws, mallory(ws).admin_statement("key.add", args))
    local = ready(ws, plan_path)
    ws.keys["dana-forged"] = own
    with pytest.raises(ForbiddenError, match=r"not registered|no registered person"):
        acting(ws, "dana-forged").me  # noqa: B018
    assert statuses(ws, local)["signoff"] == "pending"


@pytest.mark.parametrize(
    ("action", "args"),
    [
        ("person.add", {"name": "x@example.com", "roles": ["eng-manager"], "public_key": None}),
        ("role.grant", {"name": "mallory@example.com", "role": "eng-manager"}),
        ("role.revoke", {"name": "dana@example.com", "role": "model-risk"}),
    ],
)
def test_people_and_roles_are_managed_by_administrators_only(
    ws: Workspace, action: str, args: dict
) -> None:
    envelope = mallory(ws).admin_statement(action, args)
    call = add_person if action == "person.add" else change_role
    with pytest.raises(ForbiddenError, match="needs the admin role"):
        call(ws, envelope)


def test_empty_policy_by_a_non_administrator_is_refused(ws: Workspace) -> None:
    document = {"apiVersion": "clearance/v1", "kind": "Policy", "targets": {}}
    with pytest.raises(ForbiddenError, match="may not set the policy"):
        set_policy(ws, mallory(ws).admin_statement("policy.set", {"policy": document}))


def test_declaring_a_target_is_for_administrators(ws: Workspace) -> None:
    with pytest.raises(ForbiddenError, match="may not declare target environments"):
        declare_target(ws, mallory(ws).admin_statement("target.declare", {"name": "prod"}))


def test_key_of_someone_else_cannot_be_registered_to_another_name(ws: Workspace) -> None:
    dana = ws.keys["dana@example.com"]
    args = {"name": "dana2@example.com", "roles": [], "public_key": b64(dana.public_raw)}
    with pytest.raises(UsageError, match=r"already registered to dana@example\.com"):
        add_person(ws, acting(ws, ADMIN).admin_statement("person.add", args))


def test_names_are_compared_case_insensitively(ws: Workspace) -> None:
    args = {"name": "Dana@Example.COM", "roles": [], "public_key": None}
    with pytest.raises(UsageError, match=r"dana@example\.com is already registered"):
        add_person(ws, acting(ws, ADMIN).admin_statement("person.add", args))


def test_attesting_evidence_needs_the_role(ws: Workspace, plan_path: Path) -> None:
    """`evidence add doc.md --criterion uat --role product-owner` by someone without it."""
    local = ready(ws, plan_path)
    with pytest.raises(ForbiddenError, match="does not hold role product-owner"):
        attest(
            ws, local, "uat", local.resolve("docs/uat.md"), "mallory@example.com", "product-owner"
        )


def test_unregistered_key_cannot_attest(ws: Workspace, plan_path: Path) -> None:
    local = ready(ws, plan_path)
    ws.keys["nobody@example.com"] = SigningKey.generate()
    with pytest.raises(ForbiddenError, match="not registered"):
        attest(
            ws, local, "uat", local.resolve("docs/uat.md"), "nobody@example.com", "product-owner"
        )


def test_a_stale_statement_cannot_be_replayed_later(
    ws: Workspace, plan_path: Path, clock: Clock
) -> None:
    local = ready(ws, plan_path)
    envelope = signoff_envelope(ws, local, "model-risk", "dana@example.com")
    clock.now += timedelta(hours=1)
    with pytest.raises(ForbiddenError, match="more than 10 minutes from now"):
        sign(ws, envelope)


def test_unsigned_callers_cannot_submit_or_release(ws: Workspace, plan_path: Path) -> None:
    from clearance.services.auth import UNSIGNED
    from clearance.services.plans import submit_plan
    from clearance.services.releases import release

    local = load(ws, plan_path)
    with pytest.raises(ForbiddenError, match="needs a signed identity"):
        submit_plan(ws, UNSIGNED, local.loaded, {}, "x")
    with pytest.raises(ForbiddenError, match="needs a signed identity"):
        release(ws, UNSIGNED, local.loaded, {}, {})


def test_unsigned_check_is_recorded_as_unsigned(ws: Workspace, plan_path: Path) -> None:
    local = load(ws, plan_path)
    checked = check(ws, local)
    assert checked.submitted.revision.author == "unsigned"
    with ws.engine.connect() as conn:
        actors = set(conn.execute(sa.select(t.decisions.c.actor)).scalars())
    assert actors == {"unsigned"}


# -- the gate trusts only what verifies ------------------------------------------------------


def _copy_rows(ws: Workspace, table: sa.Table, **changes: object) -> None:
    with ws.engine.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(table))]
        for row in rows:
            row.pop("id", None)
            conn.execute(table.insert().values(**{**row, **changes}))


def test_approval_rows_copied_to_another_candidate_never_count(
    ws: Workspace, plan_path: Path
) -> None:
    local = go(ws, plan_path)
    assert statuses(ws, local)[""] == "GO"
    doc = yaml.safe_load(plan_path.read_text())
    doc["criteria"][0]["threshold"] = 0.81
    plan_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    changed = load(ws, plan_path)
    first = check(ws, changed)
    candidate = first.submitted.candidate.digest
    attest(ws, changed, "uat", changed.resolve("docs/uat.md"), "carol@example.com", "product-owner")
    _copy_rows(ws, t.approvals, candidate=candidate)
    after = statuses(ws, changed)
    assert after[""] == "NO-GO" and after["signoff"] == "pending"
    with pytest.raises(ConflictError, match="NO-GO"):
        latest_attestation(ws, candidate)
    failures = verify_workspace(ws)[1]
    assert any("approvals row" in f and "inserted outside Clearance" in f for f in failures)


def test_approval_row_inserted_with_a_forged_envelope_never_counts(
    ws: Workspace, plan_path: Path
) -> None:
    """A row whose envelope is dana's real statement, re-pointed at another role."""
    local = ready(ws, plan_path)
    signoff(ws, local, "model-risk", "dana@example.com")
    _copy_rows(ws, t.approvals, role="eng-manager", person="erik@example.com")
    assert statuses(ws, local)["signoff"] == "pending"


def test_evidence_attestation_inserted_behind_the_services_never_counts(
    ws: Workspace, plan_path: Path
) -> None:
    local = load(ws, plan_path)
    checked = check(ws, local)
    with ws.engine.begin() as conn:
        row = dict(conn.execute(sa.select(t.evidence)).first()._mapping)
        row.pop("id")
        row.update(criterion_id="uat", name="uat.md", role="product-owner", added_by="carol")
        conn.execute(t.evidence.insert().values(**row))
    assert row["candidate"] == checked.submitted.candidate.digest
    assert statuses(ws, local)["uat"] == "pending"
    assert any("evidence row" in f for f in verify_workspace(ws)[1])


def test_decision_event_carries_its_own_record(ws: Workspace, plan_path: Path) -> None:
    local = go(ws, plan_path)
    check(ws, local)
    with ws.engine.connect() as conn:
        events = [
            (e.type, json.loads(e.payload))
            for e in conn.execute(sa.select(t.events).order_by(t.events.c.seq))
        ]
    decided = [p for kind, p in events if kind == "decision.recorded"]
    issued = [p for kind, p in events if kind == "attestation.issued"]
    assert decided and all([r[0] for r in p["records"]] == ["decisions"] for p in decided)
    assert issued and all([r[0] for r in p["records"]] == ["attestations"] for p in issued)


# -- no escape by renaming the target ----------------------------------------------------------


def test_an_undeclared_target_is_a_plan_error_at_its_position(
    ws: Workspace, plan_path: Path
) -> None:
    text = plan_path.read_text().replace("production", "prod")
    plan_path.write_text(text)
    line = next(i + 1 for i, s in enumerate(text.splitlines()) if "target: prod" in s)
    with pytest.raises(PlanError, match=rf"plan\.yaml:{line}:\d+: release\.target: \"prod\""):
        load(ws, plan_path)


def test_a_policy_for_every_target_binds_any_declared_target(
    ws: Workspace, plan_path: Path
) -> None:
    from tests.builders import declare

    policy_from_text(ws, POLICY)
    declare(ws, "prod")
    plan_path.write_text(plan_path.read_text().replace("production", "prod"))
    local = go(ws, plan_path)
    result = statuses(ws, local)
    assert result["security-signoff"] == "pending" and result[""] == "NO-GO"


# -- waivers -------------------------------------------------------------------------------


@pytest.fixture
def low(ws: Workspace, tmp_path: Path):
    """A plan whose AUC fails, with every sign-off given; only a waiver makes it GO."""
    policy_from_text(ws, POLICY)
    local = ready(ws, write_plan_folder(tmp_path / "low", auc=0.61))
    for role, who in (
        ("model-risk", "dana@example.com"),
        ("eng-manager", "erik@example.com"),
        ("security", "sam@example.com"),
    ):
        signoff(ws, local, role, who)
    return local


def test_owner_and_authors_cannot_waive(ws: Workspace, low) -> None:
    """mallory submitted the plan and alice owns it: even holding risk-officer, neither may
    waive its criteria."""
    for who in ("mallory@example.com", "alice@example.com"):
        grant = {"name": who, "role": "risk-officer"}
        change_role(ws, acting(ws, ADMIN).admin_statement("role.grant", grant))
        with pytest.raises(ForbiddenError, match="separation of duties"):
            waive(ws, low, "auc", who, "risk-officer")


def test_waiver_falls_when_its_author_loses_the_role(ws: Workspace, low) -> None:
    waive(ws, low, "auc", "rita@example.com", "risk-officer")
    assert statuses(ws, low)["auc"] == "waived"
    revoke = {"name": "rita@example.com", "role": "risk-officer"}
    change_role(ws, acting(ws, ADMIN).admin_statement("role.revoke", revoke))
    result = check(ws, low).evaluation
    auc = next(r for r in result.results if r.id == "auc")
    assert auc.status.value == "failed" and "no longer holds role risk-officer" in auc.reason
    assert result.decision == "NO-GO"


def test_waiver_falls_when_the_policy_rule_goes(ws: Workspace, low) -> None:
    waive(ws, low, "auc", "rita@example.com", "risk-officer")
    policy_from_text(ws, POLICY.replace('["kind:metric"]', '["kind:tests"]'))
    assert statuses(ws, low)["auc"] == "failed"


def test_waiver_longer_than_the_policy_allows_is_refused(ws: Workspace, low) -> None:
    with pytest.raises(UsageError, match="longer than the 90 days"):
        waive(ws, low, "auc", "rita@example.com", "risk-officer", expires="91d")
    policy_from_text(ws, POLICY + "max_waiver: 7d\n")
    with pytest.raises(UsageError, match="longer than the 7 days"):
        waive(ws, low, "auc", "rita@example.com", "risk-officer", expires="8d")


def test_waiver_can_be_revoked(ws: Workspace, low) -> None:
    envelope = waive(ws, low, "auc", "rita@example.com", "risk-officer")
    assert statuses(ws, low)[""] == "GO"
    mallory = acting(ws, "mallory@example.com")
    with pytest.raises(ForbiddenError, match="may not revoke"):
        revoke_waiver(ws, mallory.revocation(low, envelope, "auc", "mine now"))
    rita = acting(ws, "rita@example.com")
    revoke_waiver(ws, rita.revocation(low, envelope, "auc", "no longer needed"))
    result = check(ws, low).evaluation
    auc = next(r for r in result.results if r.id == "auc")
    assert auc.status.value == "failed" and "revoked by rita@example.com" in auc.reason


def test_waiver_row_copied_to_another_criterion_never_counts(ws: Workspace, low) -> None:
    waive(ws, low, "auc", "rita@example.com", "risk-officer")
    _copy_rows(ws, t.waivers, criterion_id="tests")
    with ws.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.waivers)).scalar() == 2
    result = check(ws, low).evaluation
    assert next(r for r in result.results if r.id == "auc").status.value == "waived"
    assert any("waivers row" in f for f in verify_workspace(ws)[1])


def test_waiver_statement_altered_after_signing_is_refused(ws: Workspace, low) -> None:
    envelope = waiver_envelope(ws, low, "auc", "rita@example.com", "risk-officer")
    from clearance.services.approvals import waive as record

    record(ws, envelope)
    with pytest.raises(ForbiddenError, match="no signature verifies"):
        record(ws, {**envelope, "payload": envelope["payload"][:-4] + "AAA="})


def test_a_role_change_sent_twice_is_recorded_once(ws: Workspace) -> None:
    """A client retrying a grant whose answer was lost gets the same state, not a second
    grant on the log."""
    grant = {"name": "mallory@example.com", "role": "eng-manager"}
    envelope = acting(ws, ADMIN).admin_statement("role.grant", grant)
    first, again = change_role(ws, envelope), change_role(ws, envelope)
    assert first.roles == again.roles
    with ws.engine.connect() as conn:
        grants = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.events)
            .where(t.events.c.type == "role.granted")
            .where(t.events.c.subject == "mallory@example.com")
        ).scalar()
    assert grants == 1


def test_a_statement_of_another_kind_is_refused(ws: Workspace, plan_path: Path) -> None:
    """A signed approval offered as a waiver, or a request for one action used for another."""
    from clearance.services.approvals import waive as record_waiver
    from clearance.services.auth import authenticate

    local = ready(ws, plan_path)
    approval = signoff_envelope(ws, local, "model-risk", "dana@example.com")
    with pytest.raises(ForbiddenError, match=r"where https://clearance\.dev/waiver/v1 is expected"):
        record_waiver(ws, approval)
    grant = {"name": "mallory@example.com", "role": "eng-manager"}
    as_grant = acting(ws, ADMIN).admin_statement("role.grant", grant)
    with pytest.raises(ForbiddenError, match=r"is for 'role\.grant', not 'person\.add'"):
        add_person(ws, as_grant)
    me = acting(ws, "dana@example.com")
    from clearance.core.digest import json_digest
    from clearance.signing.statements import REQUEST_V1

    request = me.sign(REQUEST_V1, ("request", json_digest({})), {"action": "check"})
    with ws.engine.connect() as conn, pytest.raises(ForbiddenError, match="not 'release'"):
        authenticate(conn, request, "release", ws.clock())
