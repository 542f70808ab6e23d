"""The findings evaluator and the severity scale: counts per severity against `max`, signed
acceptances (scoped to one finding, bound to the candidate, expiring), required scanners,
stale scans, suppressions, and findings new since the release now running."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from core_testkit import CANDIDATE, NOW, OLD_CANDIDATE, evaluate, item

from clearance.core.findings import (
    Finding,
    FindingsReport,
    Scan,
    SeverityError,
    covers,
    from_label,
    from_level,
    from_score,
    split_location,
    split_package,
)
from clearance.core.results import AcceptanceRecord, ReleasedCandidate, Status

SCAN = Scan("Bandit", "1.9.4", NOW - timedelta(hours=2))
B602 = Finding("Bandit", "high", "subprocess call with shell=True", rule="B602",
               path="service/score.py", line=12)  # fmt: skip
B301 = Finding("Bandit", "medium", "Pickle is unsafe", rule="B301", path="service/score.py",
               line=8)  # fmt: skip
B403 = Finding("Bandit", "low", "import pickle", rule="B403", path="service/score.py", line=3)
CVE = Finding("pip-audit", None, "fixed in 3.1.4", vulnerability="PYSEC-2024-1",
              aliases=("CVE-2024-22195",), package="Jinja2", version="3.1.2")  # fmt: skip
CRITERION: dict[str, Any] = {"id": "scan", "kind": "findings", "evidence": "reports/bandit.sarif"}


def report(*findings: Finding, scans: tuple[Scan, ...] = (SCAN,), fmt: str = "sarif") -> Any:
    return FindingsReport(fmt, scans, findings)  # type: ignore[arg-type]


def bandit(*findings: Finding, **kw: Any) -> Any:
    return item("reports/bandit.sarif", report(*findings, **kw))


def accepted(
    finding: Finding,
    *,
    candidate: str = CANDIDATE,
    expires: timedelta = timedelta(days=30),
    where: str | None = None,
    criterion: str = "scan",
) -> AcceptanceRecord:
    return AcceptanceRecord(
        criterion_id=criterion,
        scope=finding.scope,
        finding=finding.ident,
        where=where if where is not None else finding.where,
        person="sam@example.com",
        role="security",
        justification="only our own signed model files are unpickled",
        candidate=candidate,
        at=NOW - timedelta(days=1),
        expires_at=NOW + expires,
    )


# -- the severity scale ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "severity"),
    [(9.8, "critical"), ("9.0", "critical"), (7.5, "high"), (4, "medium"), (0.1, "low"),
     (0, "info"), ("8.9", "high")],
)  # fmt: skip
def test_scores_fall_in_the_cvss_bands(score: object, severity: str) -> None:
    assert from_score(score) == severity


@pytest.mark.parametrize("score", ["banana", 11, -1, float("nan"), True, None, "1e999"])
def test_a_score_outside_0_to_10_is_refused(score: object) -> None:
    with pytest.raises(SeverityError, match="not a score from 0 to 10"):
        from_score(score)


def test_labels_and_levels_of_every_tool_map_to_one_scale() -> None:
    assert [from_label(x) for x in ("HIGH", "Moderate", "informational", "CRITICAL")] == [
        "high",
        "medium",
        "info",
        "critical",
    ]
    assert from_label("UNDEFINED") is None and from_label("unknown") is None
    assert [from_level(x) for x in ("error", "warning", "note", "none")] == [
        "high",
        "medium",
        "low",
        "info",
    ]
    with pytest.raises(SeverityError, match="'SUPERBAD' is not a severity"):
        from_label("SUPERBAD")
    with pytest.raises(SeverityError, match="not a SARIF level"):
        from_level("fatal")


def test_an_acceptance_covers_exactly_its_finding() -> None:
    assert covers("rule", "B602", "service/score.py:12", B602)
    assert covers("rule", "B602", "./service/score.py:12", B602)
    assert covers("rule", "B602", "repo/service/score.py:12", B602)  # scanned from above
    assert not covers("rule", "B602", "service/score.py:13", B602)  # another line
    assert not covers("rule", "B602", "service/score.py", B602)  # no line: not this one
    assert not covers("rule", "B301", "service/score.py:12", B602)  # another rule
    assert not covers("rule", "B602", "other/score.py:12", B602)
    assert not covers("vulnerability", "B602", "service/score.py:12", B602)
    assert covers("vulnerability", "PYSEC-2024-1", "jinja2", CVE)
    assert covers("vulnerability", "cve-2024-22195", "Jinja2@3.1.2", CVE)  # an alias
    assert not covers("vulnerability", "PYSEC-2024-1", "jinja2@3.1.3", CVE)
    assert not covers("vulnerability", "PYSEC-2024-2", "jinja2", CVE)
    assert not covers("vulnerability", "PYSEC-2024-1", "markupsafe", CVE)


def test_locations_and_packages_split_as_written() -> None:
    assert split_location("file:///src/app.py:3") == ("src/app.py", 3)
    assert split_location("C:\\src\\app.py") == ("C:/src/app.py", None)
    assert split_package("jinja2==3.1.2") == ("jinja2", "3.1.2")
    assert split_package("@scope/pkg@1.0.0") == ("@scope/pkg", "1.0.0")
    assert split_package("@scope/pkg") == ("@scope/pkg", None)


# -- counting against max --------------------------------------------------------------------


def test_no_open_critical_or_high_passes_with_counts_and_the_scan() -> None:
    result = evaluate(CRITERION, [bandit(B301, B403)])
    assert result.status is Status.PASSED
    assert list(result.observed.items())[:5] == [
        ("critical", 0), ("high", 0), ("medium", 1), ("low", 1), ("info", 0),
    ]  # fmt: skip
    assert "open findings: 0 critical, 0 high, 1 medium, 1 low, 0 info" in result.reason
    assert "(within max critical 0, high 0)" in result.reason
    assert "worst: B301 at service/score.py:8 (medium, Bandit): Pickle is unsafe" in result.reason
    assert "reports/bandit.sarif: Bandit 1.9.4, scanned 2024-06-01 10:00 UTC, 2 findings" in (
        result.reason
    )
    assert result.expected == {"critical": "<= 0", "high": "<= 0"}


def test_an_open_high_finding_fails_naming_rule_location_and_message() -> None:
    result = evaluate(CRITERION, [bandit(B602, B301)])
    assert result.status is Status.FAILED
    assert result.reason.startswith(
        "1 open high finding where none is allowed: B602 at service/score.py:12 (high, Bandit): "
        "subprocess call with shell=True"
    )
    kinds = [a.kind for a in result.next]
    assert kinds == ["accept", "rerun", "waive"]
    assert result.next[0].about == ("rule", "B602", "service/score.py:12")
    assert result.observed["worst"][0]["finding"] == "B602 at service/score.py:12"


def test_max_per_severity_and_unrated_findings() -> None:
    criterion = {**CRITERION, "max": {"medium": 1, "high": 0}, "unrated": "medium"}
    result = evaluate(criterion, [bandit(B301, CVE)])
    assert result.status is Status.FAILED
    assert "2 open medium findings where at most 1 is allowed" in result.reason
    assert "PYSEC-2024-1 in Jinja2@3.1.2 (medium, pip-audit): fixed in 3.1.4" in result.reason


def test_severities_not_named_in_max_are_not_limited() -> None:
    lows = [Finding("Bandit", "low", "x", rule=f"B{i}", path="a.py", line=i) for i in range(50)]
    result = evaluate({**CRITERION, "max": {"critical": 0}}, [bandit(*lows)])
    assert result.status is Status.PASSED and result.observed["low"] == 50


def test_many_findings_are_named_up_to_five_then_counted() -> None:
    highs = [Finding("Bandit", "high", "x", rule="B602", path="a.py", line=i) for i in range(9)]
    result = evaluate(CRITERION, [bandit(*highs)])
    assert "9 open high findings" in result.reason and "; and 4 more" in result.reason
    assert len(result.observed["worst"]) == 5
    assert [a.kind for a in result.next].count("accept") == 5


# -- acceptances -----------------------------------------------------------------------------


def test_an_accepted_finding_does_not_count_but_stays_shown() -> None:
    result = evaluate(CRITERION, [bandit(B602, B301)], acceptances=[accepted(B602)])
    assert result.status is Status.PASSED
    assert result.observed["high"] == 0
    assert result.observed["accepted"] == [
        {
            "finding": "B602 at service/score.py:12",
            "severity": "high",
            "by": "sam@example.com",
            "role": "security",
            "until": (NOW + timedelta(days=30)).isoformat(),
            "justification": "only our own signed model files are unpickled",
        }
    ]
    assert (
        "accepted (not counted): B602 at service/score.py:12 (high) by sam@example.com "
        "(security) until 2024-07-01: only our own signed model files are unpickled"
    ) in result.reason


def test_an_expired_acceptance_counts_again_and_says_so() -> None:
    result = evaluate(
        CRITERION, [bandit(B602)], acceptances=[accepted(B602, expires=-timedelta(seconds=1))]
    )
    assert result.status is Status.FAILED
    assert "the acceptance of B602 at service/score.py:12 by sam@example.com expired on " in (
        result.reason
    )


def test_an_acceptance_for_another_candidate_does_not_carry_over() -> None:
    result = evaluate(
        CRITERION, [bandit(B602)], acceptances=[accepted(B602, candidate=OLD_CANDIDATE)]
    )
    assert result.status is Status.FAILED
    assert "1 acceptance signed for an earlier candidate does not carry over" in result.reason


def test_an_acceptance_clears_only_its_own_finding() -> None:
    other = Finding("Bandit", "high", "shell", rule="B602", path="service/other.py", line=12)
    result = evaluate(
        CRITERION,
        [bandit(B602, other)],
        acceptances=[accepted(B602), accepted(B301, criterion="another")],
    )
    assert result.status is Status.FAILED
    assert "1 open high finding" in result.reason and "service/other.py:12" in result.reason
    wrong = AcceptanceRecord(**{**accepted(B602).__dict__, "where": "service/score.py:99"})
    result = evaluate(CRITERION, [bandit(B602)], acceptances=[wrong])
    assert result.status is Status.FAILED
    assert (
        "the acceptance of B602 at service/score.py:99 by sam@example.com matches no finding"
        in (result.reason)
    )


def test_acceptances_that_do_not_count_say_why() -> None:
    void = {"scan": ["the acceptance of B602 at x by sam does not count: its author no longer "
                     "holds role security"]}  # fmt: skip
    result = evaluate(CRITERION, [bandit(B602)], void_acceptances=void)
    assert result.status is Status.FAILED and "no longer holds role security" in result.reason


def test_a_vulnerability_is_accepted_by_id_and_package() -> None:
    criterion = {**CRITERION, "evidence": "reports/audit.json"}
    audit = item("reports/audit.json", report(CVE, fmt="pip-audit", scans=(Scan("pip-audit"),)))
    result = evaluate(criterion, [audit], acceptances=[accepted(CVE, where="jinja2")])
    assert result.status is Status.PASSED
    assert result.observed["accepted"][0]["finding"] == "PYSEC-2024-1 in Jinja2@3.1.2"


# -- reports, scanners, age, suppressions ----------------------------------------------------


def test_no_report_yet_is_pending_with_how_to_make_one() -> None:
    result = evaluate(CRITERION, [])
    assert result.status is Status.PENDING
    assert "reports/bandit.sarif is not attached yet" in result.reason
    assert "bandit -f sarif" in result.reason
    assert result.next[0].kind == "attach" and result.next[0].path == "reports/bandit.sarif"


def test_an_unreadable_report_is_an_error_naming_the_file() -> None:
    broken = item("reports/bandit.sarif", problem="reports/bandit.sarif:3:1: Expecting value")
    result = evaluate(CRITERION, [broken])
    assert result.status is Status.ERROR
    assert "reports/bandit.sarif could not be read: reports/bandit.sarif:3:1" in result.reason
    assert result.next[0].kind == "update_evidence"


def test_a_report_of_another_format_than_the_plan_says_is_an_error() -> None:
    result = evaluate({**CRITERION, "format": "cyclonedx"}, [bandit(B301)])
    assert result.status is Status.ERROR
    assert "reports/bandit.sarif is a SARIF report, but the plan says format: cyclonedx" in (
        result.reason
    )
    plain = item("reports/bandit.sarif", {"runs": []})
    assert "is not a scanner report" in evaluate(CRITERION, [plain]).reason


def test_required_scanners_must_have_reports() -> None:
    criterion = {**CRITERION, "evidence": None, "tools": ["bandit", "semgrep"]}
    result = evaluate(criterion, [bandit(B301)])
    assert result.status is Status.PENDING
    assert "no report from semgrep is attached (reports from: Bandit)" in result.reason
    semgrep = item("semgrep.sarif", report(scans=(Scan("Semgrep OSS", "1.185.0"),)))
    assert evaluate(criterion, [bandit(B301), semgrep]).status is Status.PASSED


def test_a_stale_scan_is_pending_until_scanned_again() -> None:
    old = Scan("Bandit", "1.9.4", NOW - timedelta(days=10))
    result = evaluate({**CRITERION, "max_age": "7d"}, [bandit(B301, scans=(old,))])
    assert result.status is Status.PENDING
    assert "reports/bandit.sarif was scanned 10 days ago, older than max_age 7d" in result.reason
    assert [a.kind for a in result.next] == ["rerun", "waive"]
    # a report without a scan time is as old as its attachment
    undated = item("reports/bandit.sarif", report(B301, scans=(Scan("Bandit"),)),
                   added_at=NOW - timedelta(days=8))  # fmt: skip
    assert "was attached 8 days ago" in evaluate({**CRITERION, "max_age": "7d"}, [undated]).reason


def test_suppressed_findings_are_counted_apart_unless_asked() -> None:
    quiet = Finding("Bandit", "high", "x", rule="B602", path="a.py", line=1,
                    suppressed="SARIF inSource suppression")  # fmt: skip
    result = evaluate(CRITERION, [bandit(quiet)])
    assert result.status is Status.PASSED and result.observed["suppressed"] == 1
    assert "1 suppressed in the report itself (SARIF inSource suppression)" in result.reason
    counted = evaluate({**CRITERION, "count_suppressed": True}, [bandit(quiet)])
    assert counted.status is Status.FAILED


def test_an_advisory_findings_criterion_is_not_offered_a_waiver() -> None:
    result = evaluate({**CRITERION, "advisory": True}, [bandit(B602)])
    assert result.status is Status.FAILED and result.advisory
    assert "waive" not in [a.kind for a in result.next]


# -- against the release now running ---------------------------------------------------------

RELEASED = ReleasedCandidate(
    version="2.3.0",
    candidate=OLD_CANDIDATE,
    released_at=NOW - timedelta(days=30),
    findings={"scan": frozenset({B301.baseline_key()})},
)


def test_findings_absent_from_the_release_now_running_are_new() -> None:
    criterion = {**CRITERION, "baseline": "released", "max": {"critical": 0}}
    moved = Finding("Bandit", "medium", "Pickle", rule="B301", path="service/score.py", line=40)
    result = evaluate(criterion, [bandit(moved, B602)], released=RELEASED)
    assert result.status is Status.PASSED
    assert result.observed["new"] == ["B602 at service/score.py:12"]  # B301 only moved
    assert "1 new open finding since version 2.3.0 in production: B602" in result.reason


def test_max_new_fails_on_new_findings_only() -> None:
    criterion = {
        **CRITERION,
        "baseline": "released",
        "max": {"critical": 0},
        "max_new": {"high": 0},
    }
    result = evaluate(criterion, [bandit(B602, B301)], released=RELEASED)
    assert result.status is Status.FAILED
    assert "1 new high finding since version 2.3.0 in production where at most 0" in result.reason
    assert result.next[0].about == ("rule", "B602", "service/score.py:12")
    first = evaluate(criterion, [bandit(B602)], released=None)
    assert first.status is Status.PASSED
    assert "there is no earlier release in production to compare the findings with" in first.reason


def test_max_new_without_a_baseline_report_is_pending() -> None:
    criterion = {**CRITERION, "baseline": "released", "max_new": {"high": 0}}
    bare = ReleasedCandidate("2.3.0", OLD_CANDIDATE, NOW - timedelta(days=30))
    result = evaluate(criterion, [bandit(B301)], released=bare)
    assert result.status is Status.PENDING
    assert "recorded no scanner report for criterion scan" in result.reason
    assert result.next[0].kind == "fix_plan"


def test_max_new_needs_a_baseline() -> None:
    from pydantic import ValidationError

    from clearance.core.criteria import FindingsCriterion

    with pytest.raises(ValidationError, match="max_new needs baseline: released"):
        FindingsCriterion(id="scan", kind="findings", max_new={"high": 0})
    with pytest.raises(ValidationError):
        FindingsCriterion(id="scan", kind="findings", max={"severe": 0})
    with pytest.raises(ValidationError):
        FindingsCriterion(id="scan", kind="findings", max={"high": -1})
