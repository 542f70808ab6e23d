"""The stakeholders criterion with acknowledgements: a party that names a role
(`acknowledged_by`) needs a person in it to acknowledge its text on this candidate; a changed
text or another candidate leaves an acknowledgement stale."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core_testkit import CANDIDATE, NOW, OLD_CANDIDATE, evaluate

from clearance.core.plan import InterestedParty
from clearance.core.results import AcknowledgementRecord, Status

PATIENTS = {
    "name": "Patients",
    "impact": "A flag brings their follow-up forward",
    "consideration": "A clinician reviews every flag",
    "acknowledged_by": "patients-representative",
}
NURSES = {"name": "Nurses", "impact": "More patients earlier", "consideration": "Can override"}
CRITERION: dict[str, Any] = {"id": "parties", "kind": "stakeholders"}


def ack(
    party: dict[str, Any] = PATIENTS,
    *,
    candidate: str = CANDIDATE,
    role: str = "patients-representative",
    digest: str | None = None,
    comment: str = "Reviewed with the patient panel",
) -> AcknowledgementRecord:
    text = InterestedParty.model_validate(party).text_digest()
    return AcknowledgementRecord(
        party=party["name"],
        party_digest=digest or text,
        person="pat@example.com",
        role=role,
        candidate=candidate,
        at=NOW - timedelta(hours=1),
        comment=comment,
    )


def run(parties: list[dict[str, Any]], criterion: dict[str, Any] = CRITERION, **kw: Any):
    return evaluate(criterion, plan={"interested_parties": parties}, **kw)


def test_a_party_naming_a_role_waits_for_its_acknowledgement() -> None:
    result = run([PATIENTS, NURSES])
    assert result.status is Status.PENDING
    assert result.reason.startswith(
        "Patients is not acknowledged yet; a person in role patients-representative "
        "acknowledges it on this candidate"
    )
    assert [(a.kind, a.role, a.about) for a in result.next] == [
        ("acknowledge", "patients-representative", ("Patients",))
    ]
    assert result.observed["awaiting"] == ["Patients"]


def test_an_acknowledgement_on_this_candidate_passes_and_is_shown() -> None:
    result = run([PATIENTS, NURSES], acknowledgements=[ack()])
    assert result.status is Status.PASSED
    assert (
        "Patients acknowledged by pat@example.com (patients-representative): Reviewed with the "
        "patient panel"
    ) in result.reason
    assert result.observed["acknowledged"] == {
        "Patients": ["pat@example.com (patients-representative): Reviewed with the patient panel"]
    }


def test_an_acknowledgement_of_an_earlier_candidate_does_not_count() -> None:
    result = run([PATIENTS], acknowledgements=[ack(candidate=OLD_CANDIDATE)])
    assert result.status is Status.PENDING
    assert "Patients was acknowledged by pat@example.com for an earlier candidate" in result.reason


def test_an_acknowledgement_is_stale_when_the_text_changes() -> None:
    changed = {**PATIENTS, "consideration": "Flags are followed automatically"}
    result = run([changed], acknowledgements=[ack()])
    assert result.status is Status.PENDING
    assert "before its impact or consideration changed" in result.reason


def test_an_acknowledgement_in_another_role_does_not_count() -> None:
    result = run([PATIENTS], acknowledgements=[ack(role="product-owner")])
    assert result.status is Status.PENDING and "in role product-owner, not" in result.reason


def test_require_acknowledgement_makes_every_party_name_a_role() -> None:
    criterion = {**CRITERION, "require_acknowledgement": True}
    result = run([PATIENTS, NURSES], criterion, acknowledgements=[ack()])
    assert result.status is Status.PENDING
    assert "Nurses has no acknowledged_by" in result.reason
    assert "name the role that acknowledges it (acknowledged_by)" in result.reason
    assert result.next[0].field == "interested_parties[1].acknowledged_by"
    assert result.expected["acknowledged"] == "every party"


def test_acknowledgements_that_do_not_count_say_why() -> None:
    notes = ["the acknowledgement of Patients by pat@example.com does not count: its author "
             "does not hold role patients-representative"]  # fmt: skip
    result = run([PATIENTS], void_acknowledgements=notes)
    assert result.status is Status.PENDING and "does not hold role" in result.reason


def test_the_digest_covers_name_impact_and_consideration_only() -> None:
    party = InterestedParty.model_validate(PATIENTS)
    same = InterestedParty.model_validate({**PATIENTS, "acknowledged_by": "someone-else"})
    other = InterestedParty.model_validate({**PATIENTS, "impact": "none"})
    assert party.text_digest() == same.text_digest() != other.text_digest()
