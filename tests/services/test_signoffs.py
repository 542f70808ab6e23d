"""Sign-offs that hold up: each rule of separation of duties, identity, replay, rejection,
expiry, evidence binding, waivers, policy floors and release attestations, with the attempts
that must fail."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from clearance.errors import ForbiddenError, PlanError, UsageError
from clearance.services.approvals import sign
from clearance.services.attestations import latest_attestation
from clearance.services.people import add_key, add_person, change_role, retire_key
from clearance.services.workspace import Workspace
from clearance.signing import SigningKey, b64
from clearance.signing.statements import verify_attestation
from tests.builders import (
    ADMIN,
    Clock,
    acting,
    attest,
    check,
    load,
    open_workspace,
    register_signers,
    set_policy,
    signoff,
    signoff_envelope,
    submit,
    waive,
    write_plan_folder,
)

POLICY = """
apiVersion: clearance/v1
kind: Policy
targets:
  production:
    criteria:
      - {id: security-signoff, kind: approval, roles: [{role: security, min: 1}]}
    waivers:
      - {roles: [risk-officer], criteria: ["kind:metric", tests]}
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
            "bob@example.com": ["model-risk"],
            "dana@example.com": ["model-risk"],
            "erik@example.com": ["eng-manager"],
            "carol@example.com": ["product-owner"],
            "rita@example.com": ["risk-officer"],
            "sam@example.com": ["security"],
        },
    )
    yield workspace
    workspace.close()


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    return write_plan_folder(tmp_path / "project")


def ready(ws: Workspace, plan_path: Path):
    """The plan submitted by bob, checked (its files attached), user testing attested."""
    local = load(ws, plan_path)
    submit(ws, local, "bob@example.com", "First release")
    check(ws, local)
    attest(ws, local, "uat", local.resolve("docs/uat.md"), "carol@example.com", "product-owner")
    return local


def result(ws: Workspace, local, criterion: str = "signoff"):
    evaluation = check(ws, local).evaluation
    return evaluation, next(r for r in evaluation.results if r.id == criterion)


def edit(plan_path: Path, change) -> None:
    doc = yaml.safe_load(plan_path.read_text())
    change(doc)
    plan_path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_two_people_in_two_roles_make_it_go(ws: Workspace, plan_path: Path) -> None:
    loaded = ready(ws, plan_path)
    signoff(ws, loaded, "model-risk", "dana@example.com")
    signoff(ws, loaded, "eng-manager", "erik@example.com")
    evaluation, _ = result(ws, loaded)
    assert evaluation.decision == "GO"


@pytest.mark.parametrize("who", ["alice@example.com", "bob@example.com"])
def test_author_and_submitter_cannot_approve(ws: Workspace, plan_path: Path, who: str) -> None:
    """alice owns the plan, bob submitted it: both are refused, whatever role they hold."""
    loaded = ready(ws, plan_path)
    with pytest.raises(ForbiddenError, match=f"{who} owns, wrote or submitted this plan"):
        signoff(ws, loaded, "model-risk", who)


def test_a_second_account_of_the_same_person_counts_once(ws: Workspace, plan_path: Path) -> None:
    """dana.alt is registered as the same person as dana: the two names are one identity."""
    edit(plan_path, lambda d: d["criteria"][-1].update(roles=[{"role": "model-risk", "min": 2}]))
    loaded = ready(ws, plan_path)
    alt_key = SigningKey.generate()
    args = {
        "name": "dana.alt@example.com",
        "roles": ["model-risk"],
        "public_key": b64(alt_key.public_raw),
        "same_as": "dana@example.com",
    }
    alt = add_person(ws, acting(ws, ADMIN).admin_statement("person.add", args))
    assert alt.identity == "dana@example.com"
    ws.keys["dana.alt@example.com"] = alt_key
    signoff(ws, loaded, "model-risk", "dana@example.com")
    signoff(ws, loaded, "model-risk", "dana.alt@example.com", "approve", "again")
    _, signoff_result = result(ws, loaded)
    assert signoff_result.status.value == "pending"
    assert "model-risk: 1 of 2" in signoff_result.reason


def test_a_second_key_of_the_same_person_counts_once(ws: Workspace, plan_path: Path) -> None:
    edit(plan_path, lambda d: d["criteria"][-1].update(roles=[{"role": "model-risk", "min": 2}]))
    loaded = ready(ws, plan_path)
    second = SigningKey.generate()
    dana = acting(ws, "dana@example.com")
    add_key(
        ws,
        dana.admin_statement(
            "key.add", {"name": "dana@example.com", "public_key": b64(second.public_raw)}
        ),
    )
    signoff(ws, loaded, "model-risk", "dana@example.com")
    ws.keys["dana@example.com"] = second
    signoff(ws, loaded, "model-risk", "dana@example.com", "approve", "with my other key")
    _, signoff_result = result(ws, loaded)
    assert signoff_result.status.value == "pending"
    assert "model-risk: 1 of 2" in signoff_result.reason


def test_a_statement_naming_someone_else_is_refused(ws: Workspace, plan_path: Path) -> None:
    """erik signs an approval that says it is by dana: his key is not hers."""
    from clearance.signing.statements import APPROVAL_V1, sign_statement, statement
    from clearance.store.records import to_time

    loaded = ready(ws, plan_path)
    real = json.loads(
        base64.b64decode(signoff_envelope(ws, loaded, "model-risk", "dana@example.com")["payload"])
    )
    forged = sign_statement(
        statement(
            [("candidate", "sha256:" + real["subject"][0]["digest"]["sha256"])],
            APPROVAL_V1,
            {**real["predicate"], "person": "dana@example.com", "time": to_time(ws.clock())},
        ),
        ws.keys["erik@example.com"],
    )
    with pytest.raises(ForbiddenError, match=r"signed with a key of erik@example\.com"):
        sign(ws, forged)


def test_retired_key_cannot_sign_but_old_statements_still_verify(
    ws: Workspace, plan_path: Path, clock: Clock
) -> None:
    loaded = ready(ws, plan_path)
    old = ws.keys["dana@example.com"]
    signoff(ws, loaded, "model-risk", "dana@example.com")
    clock.now += timedelta(seconds=5)
    admin = acting(ws, ADMIN)
    retire_key(ws, admin.admin_statement("key.retire", {"key_id": old.key_id}))
    clock.now += timedelta(seconds=5)
    with pytest.raises(ForbiddenError, match="retired"):
        signoff(ws, loaded, "model-risk", "dana@example.com")
    signoff(ws, loaded, "eng-manager", "erik@example.com")
    assert result(ws, loaded)[0].decision == "GO"  # dana's earlier sign-off still counts


def test_role_not_held_is_refused(ws: Workspace, plan_path: Path) -> None:
    loaded = ready(ws, plan_path)
    with pytest.raises(ForbiddenError, match=r"erik@example\.com does not hold role model-risk"):
        signoff(ws, loaded, "model-risk", "erik@example.com")


def test_system_scoped_role_counts_for_that_system_only(ws: Workspace, plan_path: Path) -> None:
    loaded = ready(ws, plan_path)
    admin = acting(ws, ADMIN)
    grant = {"name": "carol@example.com", "role": "other-system:eng-manager"}
    change_role(ws, admin.admin_statement("role.grant", grant))
    with pytest.raises(ForbiddenError, match="does not hold role eng-manager for credit-scoring"):
        signoff(ws, loaded, "eng-manager", "carol@example.com")
    grant = {"name": "carol@example.com", "role": "credit-scoring:eng-manager"}
    change_role(ws, admin.admin_statement("role.grant", grant))
    signoff(ws, loaded, "eng-manager", "carol@example.com")


def test_approval_for_another_candidate_never_counts(ws: Workspace, plan_path: Path) -> None:
    loaded = ready(ws, plan_path)
    signoff(ws, loaded, "model-risk", "dana@example.com")
    signoff(ws, loaded, "eng-manager", "erik@example.com")
    edit(plan_path, lambda d: d["criteria"][0].update(threshold=0.81))
    changed = load(ws, plan_path)
    evaluation, signoff_result = result(ws, changed)
    assert evaluation.decision == "NO-GO"
    assert "approval by dana@example.com (model-risk) was for an earlier candidate" in (
        signoff_result.reason
    )


def test_changed_evidence_makes_approvals_stale(ws: Workspace, plan_path: Path) -> None:
    loaded = ready(ws, plan_path)
    signoff(ws, loaded, "model-risk", "dana@example.com")
    signoff(ws, loaded, "eng-manager", "erik@example.com")
    assert result(ws, loaded)[0].decision == "GO"
    metrics = plan_path.parent / "eval/metrics.json"
    metrics.write_text(json.dumps({"holdout": {"auc": 0.9, "n": 400}}))
    evaluation, signoff_result = result(ws, loaded)
    assert evaluation.decision == "NO-GO"
    assert "was given before the evidence changed" in signoff_result.reason


def test_rejection_stands_until_withdrawn(ws: Workspace, plan_path: Path) -> None:
    loaded = ready(ws, plan_path)
    signoff(ws, loaded, "model-risk", "dana@example.com", "reject", "gap too wide")
    signoff(ws, loaded, "model-risk", "dana@example.com", "approve", "changed my mind")
    signoff(ws, loaded, "eng-manager", "erik@example.com")
    evaluation, signoff_result = result(ws, loaded)
    assert evaluation.decision == "NO-GO" and signoff_result.status.value == "failed"
    assert 'dana@example.com (model-risk) rejected it: "gap too wide"' in signoff_result.reason
    signoff(ws, loaded, "model-risk", "dana@example.com", "withdraw", "fixed upstream")
    signoff(ws, loaded, "model-risk", "dana@example.com", "approve", "ok now")
    assert result(ws, loaded)[0].decision == "GO"


def test_withdrawing_without_a_rejection_is_refused(ws: Workspace, plan_path: Path) -> None:
    loaded = ready(ws, plan_path)
    with pytest.raises(UsageError, match="no standing rejection"):
        signoff(ws, loaded, "model-risk", "dana@example.com", "withdraw")


def test_rejection_needs_a_comment(ws: Workspace, plan_path: Path) -> None:
    loaded = ready(ws, plan_path)
    with pytest.raises(UsageError, match="a rejection needs a comment"):
        signoff(ws, loaded, "model-risk", "dana@example.com", "reject", " ")


def test_expired_approval_does_not_count(ws: Workspace, plan_path: Path, clock: Clock) -> None:
    edit(plan_path, lambda d: d["criteria"][-1].update(expires_after="14d"))
    loaded = ready(ws, plan_path)
    signoff(ws, loaded, "model-risk", "dana@example.com")
    signoff(ws, loaded, "eng-manager", "erik@example.com")
    assert result(ws, loaded)[0].decision == "GO"
    clock.now += timedelta(days=15)
    evaluation, signoff_result = result(ws, loaded)
    assert evaluation.decision == "NO-GO"
    assert "has expired (older than 14d)" in signoff_result.reason


# -- policy and waivers ------------------------------------------------------------------


def with_policy(ws: Workspace, tmp_path: Path) -> None:
    set_policy(ws, POLICY)


def test_policy_criteria_are_merged_into_every_plan(
    ws: Workspace, plan_path: Path, tmp_path: Path
) -> None:
    with_policy(ws, tmp_path)
    loaded = ready(ws, plan_path)
    signoff(ws, loaded, "model-risk", "dana@example.com")
    signoff(ws, loaded, "eng-manager", "erik@example.com")
    evaluation, security = result(ws, loaded, "security-signoff")
    assert evaluation.decision == "NO-GO" and security.status.value == "pending"
    signoff(ws, loaded, "security", "sam@example.com")
    assert result(ws, loaded)[0].decision == "GO"


def test_plan_cannot_redefine_a_policy_criterion(
    ws: Workspace, plan_path: Path, tmp_path: Path
) -> None:
    with_policy(ws, tmp_path)
    edit(
        plan_path,
        lambda d: d["criteria"].append(
            {
                "id": "security-signoff",
                "kind": "approval",
                "roles": [{"role": "security", "min": 1}],
                "forbid_author": False,
            }
        ),
    )
    with pytest.raises(PlanError) as info:
        load(ws, plan_path)
    message = str(info.value)
    assert '"security-signoff" is set by policy rule targets.production.criteria[0]' in message
    assert "plan.yaml:" in message


def test_authorised_waiver_is_shown_as_waived(ws: Workspace, tmp_path: Path) -> None:
    with_policy(ws, tmp_path)
    plan_path = write_plan_folder(tmp_path / "low", auc=0.61)
    loaded = ready(ws, plan_path)
    for role, who in (
        ("model-risk", "dana@example.com"),
        ("eng-manager", "erik@example.com"),
        ("security", "sam@example.com"),
    ):
        signoff(ws, loaded, role, who)
    assert result(ws, loaded, "auc")[1].status.value == "failed"
    waive(
        ws,
        loaded,
        "auc",
        "rita@example.com",
        "risk-officer",
        justification="Known dip on the holdout set; monitored daily",
        expires="14d",
    )
    evaluation, auc = result(ws, loaded, "auc")
    assert auc.status.value == "waived"
    assert "waived by rita@example.com (risk-officer)" in auc.reason
    assert "Known dip on the holdout set" in auc.reason and "without the waiver: failed" in (
        auc.reason
    )
    assert evaluation.decision == "GO"


@pytest.mark.parametrize(
    ("criterion", "who", "role", "message"),
    [
        ("auc", "dana@example.com", "model-risk", "the policy lets only risk-officer waive it"),
        (
            "security-signoff",
            "rita@example.com",
            "risk-officer",
            "the policy requires this approval and does not let it be waived",
        ),
        ("uat", "rita@example.com", "risk-officer", "no policy rule lets anyone waive it"),
    ],
)
def test_waivers_without_authority_are_refused(
    ws: Workspace,
    plan_path: Path,
    tmp_path: Path,
    criterion: str,
    who: str,
    role: str,
    message: str,
) -> None:
    with_policy(ws, tmp_path)
    loaded = ready(ws, plan_path)
    with pytest.raises((UsageError, ForbiddenError), match=message):
        waive(ws, loaded, criterion, who, role, justification="because", expires="7d")


def test_waiver_expires(ws: Workspace, tmp_path: Path, clock: Clock) -> None:
    with_policy(ws, tmp_path)
    loaded = ready(ws, write_plan_folder(tmp_path / "low", auc=0.61))
    waive(ws, loaded, "auc", "rita@example.com", "risk-officer", justification="dip", expires="2d")
    assert result(ws, loaded, "auc")[1].status.value == "waived"
    clock.now += timedelta(days=3)
    assert result(ws, loaded, "auc")[1].status.value == "failed"


def test_no_waiver_without_a_policy(ws: Workspace, plan_path: Path) -> None:
    loaded = ready(ws, plan_path)
    with pytest.raises(UsageError, match="no policy rule lets anyone waive it"):
        waive(ws, loaded, "auc", "rita@example.com", "risk-officer", justification="x")


# -- release attestation ---------------------------------------------------------------------


def go(ws: Workspace, plan_path: Path):
    loaded = ready(ws, plan_path)
    signoff(ws, loaded, "model-risk", "dana@example.com")
    signoff(ws, loaded, "eng-manager", "erik@example.com")
    checked = check(ws, loaded)
    assert checked.evaluation.decision == "GO"
    return loaded, checked


def test_go_decision_yields_a_signed_attestation(ws: Workspace, plan_path: Path) -> None:
    _, checked = go(ws, plan_path)
    envelope = latest_attestation(ws, checked.submitted.candidate.digest)
    data = json.dumps(envelope).encode()
    scorer = next(c for c in checked.submitted.candidate.components if c.name == "scorer")
    api = next(c for c in checked.submitted.candidate.components if c.name == "scoring-api")
    public = ws.signing_key.public_raw
    assert verify_attestation(data, scorer.digest, public) == []
    assert verify_attestation(data, api.digest, public)  # deploy: false, not a subject
    stmt = json.loads(base64.b64decode(envelope["payload"]))
    predicate = stmt["predicate"]
    assert (
        predicate["decision"] == "GO" and predicate["revision"] == checked.submitted.revision.digest
    )
    assert len(predicate["approvals"]) == 2 and all(
        a.startswith("sha256:") for a in predicate["approvals"]
    )
    assert {c["id"] for c in predicate["criteria"]} >= {"auc", "signoff"}
    assert len(data) < 100_000  # digests only, never evidence content


def test_attestation_interoperates(ws: Workspace, plan_path: Path) -> None:
    """securesystemslib verifies the envelope; in-toto-attestation parses the statement."""
    from google.protobuf import json_format
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.statement import Statement
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey  # type: ignore[attr-defined]

    _, checked = go(ws, plan_path)
    envelope = latest_attestation(ws, checked.submitted.candidate.digest)
    key = ws.signing_key
    public = SSlibKey.from_crypto(key.private.public_key())  # securesystemslib's own keyid
    assert set(Envelope.from_dict(copy.deepcopy(envelope)).verify([public], 1)) == {public.keyid}
    pb = json_format.Parse(base64.b64decode(envelope["payload"]), statement_pb2.Statement())
    Statement.copy_from_pb(pb).validate()
    assert pb.predicate_type == "https://clearance.dev/release-decision/v1"


def test_approval_envelopes_interoperate(ws: Workspace, plan_path: Path) -> None:
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import SSlibKey  # type: ignore[attr-defined]

    loaded = ready(ws, plan_path)
    recorded = signoff(ws, loaded, "model-risk", "dana@example.com")
    key = ws.keys["dana@example.com"]
    public = SSlibKey.from_crypto(key.private.public_key())  # securesystemslib's own keyid
    parsed = Envelope.from_dict(copy.deepcopy(recorded.envelope))
    assert set(parsed.verify([public], 1)) == {public.keyid}
    predicate = json.loads(parsed.payload)["predicate"]
    assert predicate["role"] == "model-risk" and predicate["decision"] == "approve"
