"""The demo's plan.yaml: the tabular-classifier template, adapted to the demo's system,
components, thresholds and environment differences, with the template's comments kept.

The template is edited block by block (a line and the lines indented under it), so a
change to the template that the demo no longer fits fails loudly, not silently.
"""

from __future__ import annotations

import json
import re

from clearance.templates import template_files

TEMPLATE = "tabular-classifier"
OWNER = "alice@example.com"
AUC_FLOOR = 0.75
ACCURACY_GAP_CEILING = 0.10
MIN_TESTS = 10

HEADER = """\
# Written by `clearance demo` from the tabular-classifier template
# (`clearance init --template tabular-classifier`), adapted to the demo's model and files.
"""

SYSTEM = f"""\
system:
  id: diabetes-progression
  name: Diabetes progression triage
  owner: {OWNER}
  purpose: Flag patients whose disease is likely to progress faster than the median
    within a year, so the clinic offers an earlier follow-up
"""

CHANGE = """\
  change:                # the ticket in your change management tool
    system: servicenow
    id: CHG0042
    implementation_plan: Deploy models/model.pkl and service/score.py; enable the
      progression-triage flag for one clinic, then all clinics after a day.
    backout_plan: "docs/rollback.md: turn the progression-triage flag off."
    test_plan: Score the reference patients in production and compare with the holdout scores.
"""

SCORING_SERVICE = """\
  - name: scoring-service
    kind: software
    version: "0.4.0"
    artifact: service/score.py   # shipped with the model in this first release
"""

PATIENTS = "Patients with type 2 diabetes"
PATIENTS_ROLE = "patients-representative"
PARTIES = f"""\
interested_parties:
  - name: {PATIENTS}
    impact: A flag brings their follow-up forward; a missed flag leaves it at the usual interval.
    consideration: The accuracy gap between sexes is a blocking criterion; a clinician
      reviews every flag and keeps the final say.
    acknowledged_by: {PATIENTS_ROLE}   # their representative acknowledges this text
  - name: Diabetologists and diabetes nurses
    impact: They review the flags and see more patients earlier; implausible flags cost them time.
    consideration: Clinicians took part in user testing and can override any flag,
      with the reason recorded.
"""


BANDIT_REPORT = "reports/bandit.sarif"
SCAN = f"""\
  - id: code-scan
    kind: findings
    title: No open security finding of medium severity or worse in the scoring service
    evidence: {BANDIT_REPORT}
    tools: [bandit]
    max: {{critical: 0, high: 0, medium: 0}}   # stricter than the template: no medium either
    max_age: 7d
    applies_to: [scoring-service]
    controls: [B.6.2.5-verification-validation, risk-mitigations]
"""


class TemplateChanged(Exception):
    """The template no longer has a block the demo adapts."""


def demo_plan_text(acknowledge: dict[str, str]) -> str:
    """plan.yaml for the demo; `acknowledge` maps each environment difference to its note."""
    text = template_files(TEMPLATE)["plan.yaml"].decode("utf-8")
    text = replace_block(text, "system:", SYSTEM)
    text = replace_block(text, "  change:", CHANGE)
    text = replace_block(text, "  - name: scoring-service", SCORING_SERVICE)
    text = replace_block(text, "interested_parties:", PARTIES)
    text = set_in_criterion(text, "auc", "threshold", _number(AUC_FLOOR))
    text = set_in_criterion(text, "fairness", "threshold", _number(ACCURACY_GAP_CEILING))
    text = set_in_criterion(text, "tests", "min_tests", str(MIN_TESTS))
    lines = "".join(f"      {_key(k)}: {json.dumps(v)}\n" for k, v in acknowledge.items())
    text = replace_block(text, "    acknowledge:", "    acknowledge:\n" + lines)
    text = replace_block(text, "  - id: code-scan", SCAN)
    return HEADER + text


def replace_block(text: str, first_line: str, new_block: str) -> str:
    """Replace the line equal to `first_line`, and the lines indented deeper under it,
    with `new_block`. The line (ignoring a trailing comment) must occur exactly once."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if _code(line) == first_line]
    if len(starts) != 1:
        raise TemplateChanged(
            f"the {TEMPLATE} template has {len(starts)} lines {first_line.strip()!r}, expected 1"
        )
    start = starts[0]
    end = _block_end(lines, start)
    return "".join([*lines[:start], new_block, *lines[end:]])


def set_in_criterion(text: str, criterion_id: str, key: str, value: str) -> str:
    """Set `key: value` in the criterion with id `criterion_id` (the key must be there)."""
    lines = text.splitlines(keepends=True)
    head = f"  - id: {criterion_id}"
    starts = [i for i, line in enumerate(lines) if _code(line) == head]
    if len(starts) != 1:
        raise TemplateChanged(f"the {TEMPLATE} template has no single criterion {criterion_id!r}")
    end = _block_end(lines, starts[0])
    for i in range(starts[0], end):
        if lines[i].startswith(f"    {key}:"):
            lines[i] = f"    {key}: {value}\n"
            return "".join(lines)
    raise TemplateChanged(f"criterion {criterion_id!r} of the {TEMPLATE} template has no {key}")


def _block_end(lines: list[str], start: int) -> int:
    indent = _indent(lines[start])
    if lines[start].lstrip().startswith("- "):
        indent += 1  # the item's own keys sit two columns right of the dash
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    while end - 1 > start and not lines[end - 1].strip():
        end -= 1  # keep the blank lines that separate this block from the next
    return end


def _code(line: str) -> str:
    """The line without its trailing comment and line break."""
    return line.split(" #", 1)[0].rstrip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name) else json.dumps(name)


def _number(value: float) -> str:
    return f"{value:.2f}"
