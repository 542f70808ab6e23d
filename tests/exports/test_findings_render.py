"""Next actions of findings and acknowledgements rendered as the commands that take them."""

from __future__ import annotations

from clearance.core.results import NextAction
from clearance.exports.nextactions import as_command, as_link


def test_accepting_a_finding_is_rendered_with_its_rule_and_location() -> None:
    action = NextAction("accept", "code-scan", about=("rule", "B602", "service/my score.py:12"))
    assert as_command(action, "plan.yaml") == (
        "clearance finding accept plan.yaml --criterion code-scan --rule B602 --location "
        "'service/my score.py:12' --role ROLE --expires 30d -m WHY"
    )
    vuln = NextAction("accept", "deps", role="security",
                      about=("vulnerability", "CVE-2024-1", "jinja2@3.1.2"))  # fmt: skip
    assert as_command(vuln, "plan.yaml") == (
        "clearance finding accept plan.yaml --criterion deps --vuln CVE-2024-1 --package "
        "jinja2@3.1.2 --role security --expires 30d -m WHY"
    )
    assert as_link(vuln, "/releases/x").endswith(
        "/criteria/deps?role=security&about=vulnerability%0ACVE-2024-1%0Ajinja2%403.1.2#accept"
    )


def test_acknowledging_a_party_is_rendered_with_its_name() -> None:
    action = NextAction("acknowledge", "parties", role="advocate", about=("Loan applicants",))
    assert as_command(action, "plan.yaml") == (
        "clearance acknowledge plan.yaml --party 'Loan applicants'"
    )


def test_actions_read_back_from_json_keep_what_they_are_about() -> None:
    action = NextAction("accept", "code-scan", about=("rule", "B602", "a.py:1"))
    assert NextAction.from_json(action.as_json()) == action
