"""The audit pack's index.html: the same record, readable by a person without any tool."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from clearance.core.plan import Plan
from clearance.store.records import to_time

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#1d232b;
padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccd}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #d8dce3;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f7}code{font-size:.85em;word-break:break-all}
.GO,.passed,.approve{color:#106b2d;font-weight:600}
.NO-GO,.failed,.error,.reject{color:#a4161a;font-weight:600}
.pending,.not-covered{color:#8a5a00;font-weight:600}.covered{color:#106b2d;font-weight:600}.waived{color:#4b3fa0;font-weight:600}
"""


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], classes: int = -1) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            text = escape("" if value is None else str(value))
            css = f' class="{text}"' if i == classes else ""
            cells.append(f"<td{css}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}">none</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_index(
    *,
    coverage: Sequence[Any],
    changes: Sequence[str],
    previous: str | None,
    plan: Plan,
    candidate: Any,
    revisions: Sequence[Any],
    evidence: Sequence[Any],
    approvals: Sequence[Any],
    decisions: Sequence[Any],
    releases: Sequence[Any],
    events: Sequence[dict[str, Any]],
    acceptances: Sequence[dict[str, Any]] = (),
    acknowledgements: Sequence[dict[str, Any]] = (),
) -> str:
    latest = decisions[-1] if decisions else None
    outcome = latest.outcome if latest else "not evaluated"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Audit pack: {escape(plan.system.name)} {escape(plan.release.version)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{escape(plan.system.name)} {escape(plan.release.version)} → "
        f"{escape(plan.release.target)}</h1>",
        _table(
            ["", ""],
            [
                ("System", f"{plan.system.id} — {plan.system.purpose or ''}"),
                ("Owner", plan.owner),
                (
                    "Release",
                    f"{plan.release.version} from {plan.release.source} to {plan.release.target}",
                ),
                (
                    "Change",
                    f"{plan.release.change.system} {plan.release.change.id}"
                    if plan.release.change
                    else "none",
                ),
                ("Candidate", candidate.digest),
                ("Latest decision", outcome),
            ],
        ),
        "<h2>ISO/IEC 42001 control matrix (A.6.2.5, B.6.2.5)</h2>",
        "<p>Covered only where this release's recorded results show it; "
        "<code>control-matrix.csv</code> holds the same table.</p>",
        _table(
            ["Requirement", "Status", "Criteria", "Evidence", "Note"],
            [
                (
                    f"{c.requirement.id}: {c.requirement.text}",
                    "covered" if c.covered else "not-covered",
                    ", ".join(c.criteria),
                    ", ".join(e[:30] for e in c.evidence),
                    c.note,
                )
                for c in coverage
            ],
            classes=1,
        ),
        "<h2>Changes since the release now running in the target</h2>",
        f"<p>From revision <code>{escape(previous)}</code>:</p>"
        + _table(["Change"], [(c,) for c in changes])
        if previous
        else "<p>First release to this target: nothing to compare with.</p>",
        "<h2>Components</h2>",
        _table(
            ["Name", "Kind", "Version", "Deployed in this release", "Digest"],
            [
                (c.name, c.kind, c.version, "yes" if c.deploy else "no", c.digest)
                for c in candidate.components
            ],
        ),
        "<h2>Release criteria (latest decision)</h2>",
        _table(
            ["Criterion", "Kind", "Status", "Reason", "Evidence"],
            [
                (
                    r["id"] + (" (advisory)" if r.get("advisory") else ""),
                    r["kind"],
                    r["status"],
                    r["reason"],
                    ", ".join(d[:19] for d in r["evidence"]),
                )
                for r in (latest.results if latest else [])
            ],
            classes=2,
        ),
        "<h2>Interested parties</h2>",
        _table(
            ["Party", "Impact", "Consideration", "Acknowledged by"],
            [
                (p.name, p.impact, p.consideration, _acknowledged(p.name, acknowledgements))
                for p in plan.interested_parties
            ],
        ),
        "<h2>Accepted findings</h2>",
        "<p>Findings of scanner reports accepted for this candidate by a signed statement; "
        "each counts again once its acceptance expires.</p>",
        _table(
            ["Criterion", "Finding", "By", "Role", "Until", "Justification"],
            [
                (
                    a.get("criterion"),
                    f"{a.get('finding')} {'in' if a.get('scope') == 'vulnerability' else 'at'} "
                    f"{a.get('where')}",
                    a.get("person"),
                    a.get("role"),
                    a.get("expires"),
                    a.get("justification"),
                )
                for a in acceptances
            ],
        ),
        "<h2>Approvals and rejections</h2>",
        _table(
            ["Person", "Role", "Decision", "For this candidate", "Comment", "At"],
            [
                (
                    a.person,
                    a.role,
                    a.decision,
                    "yes" if a.candidate == candidate.digest else "no (stale)",
                    a.comment,
                    to_time(a.at),
                )
                for a in approvals
            ],
            classes=2,
        ),
        "<h2>Evidence</h2>",
        _table(
            ["Criterion", "File", "Added by", "Role", "At", "Digest"],
            [
                (e.criterion_id, e.name, e.added_by, e.role, to_time(e.added_at), e.digest)
                for e in evidence
            ],
        ),
        "<h2>Decisions</h2>",
        _table(
            ["#", "Outcome", "By", "At"],
            [(d.id, d.outcome, d.actor, to_time(d.evaluated_at)) for d in decisions],
            classes=1,
        ),
        "<h2>Releases</h2>",
        _table(
            ["#", "Target", "Version", "By", "At"],
            [(r.id, r.target, r.version, r.released_by, to_time(r.released_at)) for r in releases],
        ),
        "<h2>Plan revisions</h2>",
        _table(
            ["Digest", "Author", "Message", "At"],
            [(r.digest, r.author, r.message, to_time(r.created_at)) for r in revisions],
        ),
        "<h2>Audit events</h2>",
        _table(
            ["#", "At", "Type", "Actor", "Subject"],
            [(e["seq"], e["at"], e["type"], e["actor"], e["subject"]) for e in events],
        ),
        "<p>Verify this pack offline with <code>clearance pack verify PACK.zip --key "
        "workspace.pub</code>, the workspace's public key you were given: it "
        "re-hashes every file against <code>manifest.json</code> and recomputes the plan "
        "revision and candidate digests.</p></body></html>",
    ]
    return "\n".join(parts)


def _acknowledged(party: str, acknowledgements: Sequence[dict[str, Any]]) -> str:
    found = [
        f"{a.get('person')} ({a.get('role')}, {str(a.get('time', ''))[:10]})"
        + (f": {a.get('comment')}" if a.get("comment") else "")
        for a in acknowledgements
        if a.get("party") == party
    ]
    return "; ".join(found) or "—"
