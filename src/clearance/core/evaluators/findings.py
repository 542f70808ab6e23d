"""The findings criterion: security and configuration findings read from scanner reports
(SARIF 2.1.0, CycloneDX VEX, pip-audit JSON), counted per severity against `max`.

A finding accepted by a signed, unexpired acceptance on this candidate does not count but
stays in the reason and the observed value, with who accepted it and until when; one whose
acceptance expired counts again. Findings the report itself suppresses (a SARIF
suppression, a VEX analysis saying not affected) are counted apart, and as open with
`count_suppressed: true`. With `baseline: released`, open findings absent from the reports
of the release now running in the target are reported as new, and `max_new` limits them.

The observed value starts with the open findings per severity (`critical` ... `info`), then
the accepted ones, the number suppressed, the worst open ones and the scans; the expected
value with the limit per severity.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from clearance.core.criteria import FindingsCriterion
from clearance.core.durations import parse_duration
from clearance.core.evaluators import evaluator
from clearance.core.evaluators._common import (
    as_utc,
    attach,
    criterion_field,
    find_named,
    fix_plan,
    fmt_age,
    listing,
    make_result,
    split_named,
    unreadable,
    update,
)
from clearance.core.findings import SEVERITIES, Finding, FindingsReport, covers, worst_first
from clearance.core.results import (
    AcceptanceRecord,
    EvaluationContext,
    EvidenceItem,
    NextAction,
    Result,
    Status,
)

#: how many findings a reason names before "and N more"
SHOWN = 5
MESSAGE_LENGTH = 120
_HOW = (
    "run the scanner so that it writes SARIF (bandit -f sarif, semgrep --sarif, checkov -o "
    "sarif, trivy --format sarif), a CycloneDX VEX or pip-audit JSON"
)


@evaluator("findings")
def evaluate_findings(criterion: FindingsCriterion, ctx: EvaluationContext) -> Result:
    """FAILED when open findings exceed `max` (or new ones exceed `max_new`); PENDING while a
    report, a required scanner's report or a recent enough scan is missing; else PASSED."""
    items = list(ctx.evidence_for(criterion.id))
    expected = _expected(criterion)
    named = [f.path for f in criterion.named_files(ctx.plan)]

    def where(item: EvidenceItem) -> str:
        return next((path for path in named if find_named([item], path)), item.name)

    problems = [(item, p) for item in items if (p := _unusable(criterion, item)) is not None]
    if problems:
        reason = "; ".join(p for _, p in problems)
        broken = [item for item, _ in problems]
        fixes = [update(criterion.id, where(item)) for item in broken]
        return make_result(criterion, Status.ERROR, reason, None, expected, broken, fixes)

    _, missing = split_named(items, named)
    if missing or not items:
        if missing:
            one = len(missing) == 1
            reason = (
                f"{listing(missing)} {'is' if one else 'are'} not attached yet: {_HOW}, and "
                f"attach {'it' if one else 'each'} to this criterion"
            )
            actions = [attach(criterion.id, path) for path in missing]
        else:
            reason = f"no scanner report attached; {_HOW}, and attach it to this criterion"
            actions = [attach(criterion.id)]
        return make_result(criterion, Status.PENDING, reason, None, expected, actions=actions)

    reports: list[tuple[EvidenceItem, FindingsReport]] = [(i, i.content) for i in items]
    waiting, actions = _waiting(criterion, ctx, reports, where)
    tally = _Tally(criterion, ctx, reports)
    failures = tally.over_limits()
    new_note, new_failures, new_pending = tally.against_release()
    failures += new_failures
    if new_pending:
        waiting.append(new_pending)
        actions.append(fix_plan(criterion.id, criterion_field(criterion.id, "baseline")))

    if failures:
        status = Status.FAILED
        offending = tally.offending()
        actions = [
            *(NextAction("accept", criterion.id, about=_about(f)) for f in offending[:SHOWN]),
            *(NextAction("rerun", criterion.id, path=where(item)) for item, _ in reports),
            *actions,
        ]
    else:
        status = Status.PENDING if waiting else Status.PASSED
    if status is not Status.PASSED:
        actions.append(NextAction("waive", criterion.id))

    parts = [*failures, *waiting]
    if not failures:
        parts.insert(0, tally.summary())
    if new_note:
        parts.append(new_note)
    parts += tally.notes()
    parts.append(_scans(ctx, reports, where))
    return make_result(
        criterion,
        status,
        "; ".join(p for p in parts if p),
        tally.observed(ctx, reports, where),
        expected,
        items,
        actions,
    )


def _expected(criterion: FindingsCriterion) -> dict[str, Any]:
    expected: dict[str, Any] = {s: f"<= {n}" for s, n in _ordered(criterion.max)}
    if criterion.tools:
        expected["tools"] = list(criterion.tools)
    if criterion.max_age:
        expected["max_age"] = criterion.max_age
    if criterion.max_new is not None:
        expected["new"] = {s: f"<= {n}" for s, n in _ordered(criterion.max_new)}
    return expected


def _ordered(limits: dict[Any, int]) -> list[tuple[str, int]]:
    return [(s, limits[s]) for s in SEVERITIES if s in limits]


def _unusable(criterion: FindingsCriterion, item: EvidenceItem) -> str | None:
    if item.problem is not None:
        return unreadable(item)
    report = item.content
    if not isinstance(report, FindingsReport):
        return (
            f"{item.name} is not a scanner report; attach SARIF 2.1.0, a CycloneDX VEX or "
            "pip-audit JSON in its place"
        )
    if criterion.format != "auto" and report.format != criterion.format:
        return (
            f"{item.name} is {_FORMAT_NAMES[report.format]}, but the plan says format: "
            f"{criterion.format}; attach a {criterion.format} report, or set format: auto"
        )
    return None


_FORMAT_NAMES = {
    "sarif": "a SARIF report",
    "cyclonedx": "a CycloneDX document",
    "pip-audit": "a pip-audit report",
}


def tool_matches(wanted: str, tool: str) -> bool:
    """`semgrep` names "Semgrep OSS", `checkov` names "Checkov": the whole name or one of its
    words, case-insensitive."""
    want, have = wanted.strip().casefold(), tool.strip().casefold()
    return want == have or want in have.split()


def _scan_time(ctx: EvaluationContext, item: EvidenceItem, report: FindingsReport) -> datetime:
    """When the scan ran (the oldest run in the report), else when the report was attached."""
    times = [as_utc(s.at) for s in report.scans if s.at is not None]
    return min(times) if times else as_utc(item.added_at)


def _waiting(
    criterion: FindingsCriterion,
    ctx: EvaluationContext,
    reports: list[tuple[EvidenceItem, FindingsReport]],
    where: Any,
) -> tuple[list[str], list[NextAction]]:
    """What the criterion still waits for: a required scanner's report, fresh scans."""
    waiting: list[str] = []
    actions: list[NextAction] = []
    tools = [s.tool for _, report in reports for s in report.scans]
    absent = [t for t in criterion.tools if not any(tool_matches(t, have) for have in tools)]
    if absent:
        seen = listing(sorted(set(tools))) or "none"
        waiting.append(
            f"no report from {listing(absent)} is attached (reports from: {seen}); run "
            f"{'it' if len(absent) == 1 else 'each'} and attach the report to this criterion"
        )
        actions.append(attach(criterion.id))
    if criterion.max_age is not None:
        limit = parse_duration(criterion.max_age)
        for item, report in reports:
            at = _scan_time(ctx, item, report)
            age = as_utc(ctx.now) - at
            if age > limit:
                verb = "was scanned" if any(s.at for s in report.scans) else "was attached"
                waiting.append(
                    f"{item.name} {verb} {fmt_age(age.total_seconds())} ago, older than "
                    f"max_age {criterion.max_age}; scan again and attach the new report"
                )
                actions.append(NextAction("rerun", criterion.id, path=where(item)))
    return waiting, actions


class _Tally:
    """The findings of every report, split into open, accepted and suppressed."""

    def __init__(
        self,
        criterion: FindingsCriterion,
        ctx: EvaluationContext,
        reports: list[tuple[EvidenceItem, FindingsReport]],
    ) -> None:
        self.criterion = criterion
        self.ctx = ctx
        mine = [a for a in ctx.acceptances if a.criterion_id == criterion.id]
        self.standing = [
            a for a in mine if a.candidate == ctx.candidate and as_utc(a.expires_at) > ctx.now
        ]
        self.expired = [
            a for a in mine if a.candidate == ctx.candidate and as_utc(a.expires_at) <= ctx.now
        ]
        self.elsewhere = [a for a in mine if a.candidate != ctx.candidate]
        self.open: list[Finding] = []
        self.accepted: list[tuple[Finding, AcceptanceRecord]] = []
        self.suppressed: list[Finding] = []
        self.lapsed: list[tuple[Finding, AcceptanceRecord]] = []
        used: set[int] = set()
        for _, report in reports:
            for finding in report.findings:
                if finding.suppressed and not criterion.count_suppressed:
                    self.suppressed.append(finding)
                    continue
                accepted = _latest(self.standing, finding)
                if accepted is not None:
                    self.accepted.append((finding, accepted))
                    used.add(id(accepted))
                    continue
                self.open.append(finding)
                lapsed = _latest(self.expired, finding)
                if lapsed is not None:
                    self.lapsed.append((finding, lapsed))
        self.unmatched = [a for a in self.standing if id(a) not in used]
        self.new: list[Finding] | None = None

    def severity(self, finding: Finding) -> str:
        return finding.severity or self.criterion.unrated

    def counts(self, findings: Sequence[Finding]) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
        for f in findings:
            counts[self.severity(f)] += 1
        return counts

    def over_limits(self) -> list[str]:
        counts = self.counts(self.open)
        return [
            _over(sev, counts[sev], limit, [f for f in self.open if self.severity(f) == sev])
            for sev, limit in _ordered(self.criterion.max)
            if counts[sev] > limit
        ]

    def offending(self) -> list[Finding]:
        """Open findings of the severities over their limit (or new ones over max_new)."""
        counts = self.counts(self.open)
        over = {s for s, limit in _ordered(self.criterion.max) if counts[s] > limit}
        found = [f for f in self.open if self.severity(f) in over]
        if self.new is not None and self.criterion.max_new is not None:
            new_counts = self.counts(self.new)
            new_over = {s for s, n in _ordered(self.criterion.max_new) if new_counts[s] > n}
            found += [f for f in self.new if self.severity(f) in new_over and f not in found]
        return worst_first(found, self.criterion.unrated)

    def against_release(self) -> tuple[str, list[str], str]:
        """(note on new findings, failures over max_new, why no comparison is possible)."""
        criterion, ctx = self.criterion, self.ctx
        if criterion.baseline != "released":
            return "", [], ""
        target = ctx.plan.release.target
        released = ctx.released
        if released is None:
            return f"there is no earlier release in {target} to compare the findings with", [], ""
        baseline = released.findings.get(criterion.id)
        if baseline is None:
            why = (
                f"the release running in {target} (version {released.version}) recorded no "
                f"scanner report for criterion {criterion.id}, so no finding can be told new"
            )
            if criterion.max_new is not None:
                return "", [], why + "; compare with max only (remove max_new) until it has one"
            return why, [], ""
        self.new = [f for f in self.open if f.baseline_key() not in baseline]
        since = f"since version {released.version} in {target}"
        if not self.new:
            note = f"no new open finding {since}"
        else:
            note = f"{len(self.new)} new open {_plural(len(self.new), 'finding')} {since}: " + (
                _named(worst_first(self.new, criterion.unrated), self.severity)
            )
        failures: list[str] = []
        if criterion.max_new is not None:
            counts = self.counts(self.new)
            for sev, limit in _ordered(criterion.max_new):
                if counts[sev] > limit:
                    failures.append(
                        f"{counts[sev]} new {sev} {_plural(counts[sev], 'finding')} {since} "
                        f"where at most {limit} {'is' if limit == 1 else 'are'} allowed"
                    )
        return ("" if failures else note), failures, ""

    def summary(self) -> str:
        counts = self.counts(self.open)
        shown = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES)
        limits = ", ".join(f"{s} {n}" for s, n in _ordered(self.criterion.max))
        text = f"open findings: {shown} (within max {limits or 'none'})"
        if self.open:
            text += "; worst: " + _named(
                worst_first(self.open, self.criterion.unrated), self.severity
            )
        return text

    def notes(self) -> list[str]:
        notes: list[str] = []
        if self.accepted:
            notes.append(
                "accepted (not counted): "
                + "; ".join(
                    f"{f.describe()} ({self.severity(f)}) by {a.person} ({a.role}) until "
                    f"{as_utc(a.expires_at).date().isoformat()}: {a.justification}"
                    for f, a in self.accepted[:SHOWN]
                )
                + _more(len(self.accepted))
            )
        for finding, lapsed in self.lapsed[:SHOWN]:
            notes.append(
                f"the acceptance of {finding.describe()} by {lapsed.person} expired on "
                f"{as_utc(lapsed.expires_at).date().isoformat()}, so it counts again"
            )
        if self.suppressed:
            reasons = listing(sorted({f.suppressed or "" for f in self.suppressed}))
            notes.append(
                f"{len(self.suppressed)} suppressed in the report itself ({reasons}), not "
                "counted (count_suppressed: true counts them)"
            )
        for a in self.unmatched:
            notes.append(
                f"the acceptance of {a.finding} at {a.where} by {a.person} matches no finding "
                "in the reports attached now"
            )
        if self.elsewhere:
            n = len(self.elsewhere)
            notes.append(
                f"{n} {_plural(n, 'acceptance')} signed for an earlier candidate "
                f"{'does' if n == 1 else 'do'} not carry over"
            )
        notes += self.ctx.void_acceptances.get(self.criterion.id, ())
        return notes

    def observed(
        self,
        ctx: EvaluationContext,
        reports: list[tuple[EvidenceItem, FindingsReport]],
        where: Any,
    ) -> dict[str, Any]:
        worst = worst_first(self.open, self.criterion.unrated)[:SHOWN]
        observed: dict[str, Any] = {
            **self.counts(self.open),  # open findings per severity, worst first
            "accepted": [
                {
                    "finding": f.describe(),
                    "severity": self.severity(f),
                    "by": a.person,
                    "role": a.role,
                    "until": as_utc(a.expires_at).isoformat(),
                    "justification": a.justification,
                }
                for f, a in self.accepted
            ],
            "suppressed": len(self.suppressed),
            "worst": [_finding_json(f, self.severity(f)) for f in worst],
            "scans": [
                {
                    "report": where(item),
                    "format": report.format,
                    "tools": [s.label() for s in report.scans],
                    "at": _scan_time(ctx, item, report).isoformat(),
                    "findings": len(report.findings),
                }
                for item, report in reports
            ],
        }
        if self.new is not None:
            observed["new"] = [f.describe() for f in self.new]
        return observed


def _latest(acceptances: list[AcceptanceRecord], finding: Finding) -> AcceptanceRecord | None:
    found = [a for a in acceptances if covers(a.scope, a.finding, a.where, finding)]
    return max(found, key=lambda a: as_utc(a.at)) if found else None


def _about(finding: Finding) -> tuple[str, ...]:
    return (finding.scope, finding.ident, finding.where)


def _over(severity: str, count: int, limit: int, findings: list[Finding]) -> str:
    allowed = (
        "none is allowed"
        if limit == 0
        else f"at most {limit} {'is' if limit == 1 else 'are'} allowed"
    )
    head = f"{count} open {severity} {_plural(count, 'finding')} where {allowed}"
    return f"{head}: {_named(findings, lambda f: severity)}"


def _named(findings: Sequence[Finding], severity: Any) -> str:
    shown = [
        f"{f.describe()} ({severity(f)}, {f.tool}){_message(f.message)}" for f in findings[:SHOWN]
    ]
    return "; ".join(shown) + _more(len(findings))


def _message(message: str) -> str:
    text = " ".join(message.split()).rstrip(" .")
    if not text:
        return ""
    if len(text) > MESSAGE_LENGTH:
        text = text[: MESSAGE_LENGTH - 1] + "…"
    return f": {text}"


def _more(n: int) -> str:
    return f"; and {n - SHOWN} more" if n > SHOWN else ""


def _plural(n: int, noun: str) -> str:
    return noun if n == 1 else noun + "s"


def _finding_json(finding: Finding, severity: str) -> dict[str, Any]:
    return {
        "finding": finding.describe(),
        "scope": finding.scope,
        "id": finding.ident,
        "where": finding.where,
        "severity": severity,
        "tool": finding.tool,
        "message": " ".join(finding.message.split())[:500],
    }


def _scans(
    ctx: EvaluationContext, reports: list[tuple[EvidenceItem, FindingsReport]], where: Any
) -> str:
    shown = []
    for item, report in reports:
        tools = listing([s.label() for s in report.scans]) or "an unnamed scanner"
        at = _scan_time(ctx, item, report).strftime("%Y-%m-%d %H:%M UTC")
        verb = "scanned" if any(s.at for s in report.scans) else "attached"
        n = len(report.findings)
        shown.append(f"{where(item)}: {tools}, {verb} {at}, {n} {_plural(n, 'finding')}")
    return "reports: " + "; ".join(shown)
