"""The audit pack's index.html: the same record, readable by a person without any tool."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import PurePosixPath
from typing import Any

from clearance.core.plan import Plan
from clearance.exports.packdoc import BOM, OSCAL_RESULTS, REPORT, SUMS, VERIFY, evidence_path
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
td{overflow-wrap:anywhere}td[class]{overflow-wrap:normal}
@page{size:A4;margin:14mm 12mm;
@bottom-right{content:counter(page) " / " counter(pages);font-size:8pt}}
@media print{body{font-size:9pt;margin:0;max-width:none;padding:0}h2{break-after:avoid}
tr{break-inside:avoid}table{table-layout:fixed}code{font-family:inherit}}
"""
#: what `download` may suggest as a file name: no folders, no control or reserved characters
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


class Html(str):
    """Markup built here from escaped parts, which `_table` puts in a cell as it is."""


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    classes: int = -1,
    widths: Sequence[int] = (),
) -> str:
    """A table of escaped cells; `widths` (percent per column) set the printed layout, which
    is fixed so that WeasyPrint need not measure every cell's content."""
    cols = "".join(f'<col style="width:{w}%">' for w in widths)
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            text = value if isinstance(value, Html) else escape("" if value is None else str(value))
            css = f' class="{text}"' if i == classes else ""
            cells.append(f"<td{css}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}">none</td></tr>')
    return (
        f"<table>{cols and f'<colgroup>{cols}</colgroup>'}<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


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
    fingerprint: str = "",
) -> str:
    """The pack's index.html, which is also the source of its report.pdf; `fingerprint` is
    the sha256 (hex) of the raw workspace public key that signs the pack."""
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
                ("Signed by the workspace key with fingerprint", fingerprint or "—"),
            ],
            widths=(22, 78),
        ),
        "<h2>ISO/IEC 42001 control matrix (A.6.2.5, B.6.2.5)</h2>",
        "<p>Covered only where this release's recorded results show it; "
        "<code>control-matrix.csv</code> holds the same table.</p>",
        _table(
            ["Requirement", "Status", "Criteria", "Evidence", "Note"],
            [
                (
                    f"{c.requirement.id}: {c.requirement.text}",
                    c.as_row()["status"].replace(" ", "-"),
                    ", ".join(c.criteria),
                    ", ".join(e[:30] for e in c.evidence),
                    c.note,
                )
                for c in coverage
            ],
            classes=1,
            widths=(32, 10, 13, 25, 20),
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
            widths=(14, 10, 8, 48, 20),
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
        "<p>Each file is stored under its sha256 in <code>evidence/files/</code>; its name "
        "links to it (<code>evidence/index.json</code> lists the same).</p>",
        _table(
            ["Criterion", "File", "Added by", "Role", "At", "Digest"],
            [
                (
                    e.criterion_id,
                    evidence_link(e.name, e.digest),
                    e.added_by,
                    e.role,
                    to_time(e.added_at),
                    e.digest,
                )
                for e in evidence
            ],
            widths=(11, 19, 17, 11, 16, 26),
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
            widths=(6, 22, 20, 20, 32),
        ),
        "<h2>Verify it yourself</h2>",
        "<p>Verify this pack offline with <code>clearance pack verify PACK.zip --key "
        "workspace.pub</code>, the workspace's public key you were given: it "
        "re-hashes every file against <code>manifest.json</code> and recomputes the plan "
        f'revision and candidate digests. <a href="{VERIFY}">{VERIFY}</a> does every check '
        "with standard tools instead (<code>sha256sum</code>, <code>openssl</code>, a few "
        "lines of Python).</p>",
        _table(
            ["File", "What it is"],
            [(Html(f'<a href="{escape(name)}">{escape(name)}</a>'), what) for name, what in _FILES],
        ),
        "</body></html>",
    ]
    return "\n".join(parts)


_FILES = (
    (VERIFY, "how to verify this pack with standard tools"),
    (SUMS, "sha256 of every file: sha256sum -c SHA256SUMS"),
    (REPORT, "this page as PDF"),
    (OSCAL_RESULTS, "OSCAL assessment results: one finding per control requirement"),
    (
        BOM,
        "CycloneDX 1.6 bill of materials: the model with its model card, the software, "
        "the environments' packages",
    ),
    ("control-matrix.csv", "the control matrix above"),
    ("manifest.json", "every file's sha256, signed in manifest.sig"),
)


def download_name(name: str, digest: str) -> str:
    """The file name to save evidence `name` under: its last path part, with characters file
    systems refuse replaced; never empty, hidden, `.` or `..` (then the digest's start)."""
    base = PurePosixPath(name.replace("\\", "/")).name
    safe = _UNSAFE.sub("_", base)[:200].strip(" .")
    return safe or digest.removeprefix("sha256:")[:16]


def evidence_link(name: str, digest: str) -> Html:
    """A link to evidence stored under its digest, shown and downloaded under its own name."""
    return Html(
        f'<a href="{escape(evidence_path(digest))}" '
        f'download="{escape(download_name(name, digest))}">{escape(name)}</a>'
    )


def _acknowledged(party: str, acknowledgements: Sequence[dict[str, Any]]) -> str:
    found = [
        f"{a.get('person')} ({a.get('role')}, {str(a.get('time', ''))[:10]})"
        + (f": {a.get('comment')}" if a.get("comment") else "")
        for a in acknowledgements
        if a.get("party") == party
    ]
    return "; ".join(found) or "—"
