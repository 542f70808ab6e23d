"""`check --format github` (workflow annotations) and `--format pr` (a pull-request comment):
escaped as GitHub reads them, placed on the plan's lines, under the comment size limit."""

from __future__ import annotations

import pytest

from clearance.core.decision import Evaluation
from clearance.core.diff import Change
from clearance.core.results import NextAction, Result, Status
from clearance.exports.github import escape_data, escape_property, render_github
from clearance.exports.prcomment import Baseline, render_pr_comment

CANDIDATE = "sha256:" + "c" * 64


def _evaluation(*results: Result) -> Evaluation:
    blocking = [r for r in results if not r.advisory and r.status.value not in ("passed", "waived")]
    return Evaluation("NO-GO" if blocking else "GO", CANDIDATE, tuple(results))


SIGNOFF = Result(
    "signoff",
    "approval",
    Status.PENDING,
    "waiting for approvals: model-risk: 0 of 1",
    next=(NextAction("approve", "signoff", role="model-risk"),),
)
AUC = Result("auc", "metric", Status.PASSED, "holdout.auc is 0.87")
DRIFT = Result("drift", "metric", Status.FAILED, "drift is 0.4", advisory=True)
WAIVED = Result("f1", "metric", Status.WAIVED, "waived by rita until 2026-12-14")


@pytest.mark.parametrize(
    ("text", "data", "prop"),
    [
        ("50% done", "50%25 done", "50%25 done"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("key: a, b", "key: a, b", "key%3A a%2C b"),
        ("%0A", "%250A", "%250A"),
    ],
)
def test_escaping_follows_the_actions_toolkit(text: str, data: str, prop: str) -> None:
    """`%` first (so an encoded sequence in the text stays literal), then CR, LF; properties
    also `:` and `,`."""
    assert escape_data(text) == data
    assert escape_property(text) == prop


def test_blocking_is_error_on_its_line_advisory_and_waived_are_warnings() -> None:
    out = render_github(
        _evaluation(AUC, SIGNOFF, DRIFT, WAIVED),
        plan_file="ml/plan.yaml",
        positions={"signoff": (40, 5), "drift": (30, 5), "f1": (20, 5), "auc": (10, 5)},
        titles={"signoff": "Model risk, engineering sign-off"},
        system="credit-scoring",
        version="2.4.0",
    ).splitlines()
    assert out == [
        "::error title=signoff%3A pending — Model risk%2C engineering sign-off,"
        "file=ml/plan.yaml,line=40,col=5::waiting for approvals: model-risk: 0 of 1",
        "::warning title=drift%3A failed (advisory),file=ml/plan.yaml,line=30,col=5::drift is 0.4",
        "::warning title=f1%3A waived,file=ml/plan.yaml,line=20,col=5::"
        "waived by rita until 2026-12-14",
        "::notice title=Release gate%3A NO-GO::credit-scoring 2.4.0: NO-GO — 1 criterion blocks "
        "the release",
    ]


def test_a_reason_cannot_forge_a_second_command() -> None:
    """A newline in a reason (it may quote evidence) stays inside the one annotation."""
    forged = Result("auc", "metric", Status.FAILED, "bad\n::error::forged, not ours")
    out = render_github(
        _evaluation(forged), plan_file="plan.yaml", positions={}, titles={},
        system="s", version="1",
    )  # fmt: skip
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].endswith(
        "bad%0A::error::forged, not ours (required by the policy)"
    )
    assert "line=" not in lines[0]  # a policy criterion has no line in the plan file


def test_pr_comment_shows_changes_blocking_reasons_and_commands() -> None:
    changes = [
        Change("release", "", "changed", "version", "1.0.0", "1.1.0"),
        Change("components", "scorer", "changed", "digest", "111a7a6da0c8", "1005cf591066"),
    ]
    text = render_pr_comment(
        _evaluation(AUC, SIGNOFF),
        system="credit-scoring",
        version="1.1.0",
        target="production",
        revision="sha256:" + "d" * 64,
        baseline=Baseline("1.0.0", "sha256:" + "e" * 64, 3, changes),
    )
    assert text.startswith(
        "## Release gate: credit-scoring 1.1.0 → production: **NO-GO — 1 criterion blocks "
        "the release**"
    )
    assert "since the released revision (1.0.0, release #3" in text
    assert "release: version '1.0.0' -&gt; '1.1.0'" in text
    assert "components scorer: digest '111a7a6da0c8' -&gt; '1005cf591066'" in text
    assert "| signoff | ⏳ pending | waiting for approvals: model-risk: 0 of 1 |" in text
    assert "`clearance approve plan.yaml --role model-risk`" in text
    assert "<details><summary>All criteria (2)</summary>" in text


def test_pr_comment_of_a_first_release_and_of_a_go() -> None:
    text = render_pr_comment(
        _evaluation(AUC), system="s", version="1", target="prod", revision="r", baseline=None
    )
    assert "**GO**" in text and "First release to prod" in text
    assert "Nothing blocks the release." in text


def test_pr_comment_is_cut_to_the_limit_with_a_note() -> None:
    """Thousands of criteria stay under GitHub's limit; the cut is said, and the folded
    section is closed so the page renders."""
    many = [Result(f"c{i:05d}", "metric", Status.FAILED, "x" * 200) for i in range(2000)]
    text = render_pr_comment(
        _evaluation(*many), system="s", version="1", target="prod", revision="r", baseline=None
    )
    assert len(text) <= 65_536
    assert "Cut to fit GitHub's 65,536-character comment limit" in text
    assert "2000 criteria block the release" in text


def test_a_small_limit_still_closes_an_open_details_block() -> None:
    rows = [Result(f"c{i}", "metric", Status.PASSED, "fine") for i in range(200)]
    text = render_pr_comment(
        _evaluation(*rows), system="s", version="1", target="p", revision="r", baseline=None,
        limit=3000,
    )  # fmt: skip
    assert len(text) <= 3000
    assert text.count("<details>") == text.count("</details>") == 1
