"""The gate's renderers for CI: JUnit XML that parses and counts, markdown that cannot carry
HTML or break its table, whatever the plan and its evidence say."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import click.testing
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

from clearance.core.decision import Evaluation
from clearance.core.results import NextAction, Result, Status
from clearance.exports.junit import render_junit
from clearance.exports.markdown import cell, code, render_markdown
from clearance.exports.values import brief, scalar
from tests.schemas import junit_schema

CANDIDATE = "sha256:" + "ab" * 32
AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def result(id: str, status: Status, reason: str = "because", **kwargs: object) -> Result:
    return Result(id=id, kind="metric", status=status, reason=reason, **kwargs)  # type: ignore[arg-type]


def evaluation(*results: Result) -> Evaluation:
    decision = "GO" if all(r.status in (Status.PASSED, Status.WAIVED) for r in results) else "NO-GO"
    return Evaluation(decision=decision, candidate=CANDIDATE, results=results)  # type: ignore[arg-type]


MIXED = evaluation(
    result("auc", Status.PASSED),
    result("tests", Status.FAILED, "3 failures"),
    result("uat", Status.PENDING, "not attached yet"),
    result("env", Status.ERROR, "env/staging.json is not JSON"),
    result("drift", Status.FAILED, "drift 0.4", advisory=True),
    result("bias", Status.WAIVED, "waived by dana"),
)


def test_junit_parses_and_counts_failures_and_errors_and_marks_waived_and_advisory() -> None:
    """failed and pending are failures, error is an error; a failing advisory and a waived
    criterion are not failures, and their class names and the suite's output say which (Ant's
    JUnit schema has no `skipped`)."""
    root = ET.fromstring(render_junit(MIXED, "credit-scoring", timestamp=AT))
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "clearance.credit-scoring"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "2", "1")
    assert suite.get("skipped") is None
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert list(cases) == ["auc", "tests", "uat", "env", "drift", "bias"]
    assert len(cases["auc"]) == 0 and len(cases["bias"]) == 0 and len(cases["drift"]) == 0
    assert cases["bias"].get("classname") == "clearance.waived.metric"
    assert cases["drift"].get("classname") == "clearance.advisory.metric"
    failure = cases["tests"].find("failure")
    assert failure is not None and failure.get("message") == "failed: 3 failures"
    assert cases["env"].find("error") is not None
    out = suite.findtext("system-out") or ""
    assert "waived: bias waived — waived by dana" in out
    assert "advisory, not blocking: drift failed — drift 0.4" in out


@pytest.mark.parametrize("xsd", ["jenkins-junit.xsd", "ant-junit.xsd"])
@given(
    ids=st.lists(st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True), min_size=1, max_size=6),
    reason=st.text(),
    statuses=st.lists(st.sampled_from(list(Status)), min_size=6, max_size=6),
    advisory=st.booleans(),
)
def test_junit_is_valid_for_the_jenkins_and_ant_schemas(
    xsd: str, ids: list[str], reason: str, statuses: list[Status], advisory: bool
) -> None:
    """Whatever the results, the report validates against both XSDs CI tools read."""
    results = [
        result(i, s, reason, advisory=advisory and n % 2 == 0)
        for n, (i, s) in enumerate(zip(ids, statuses, strict=False))
    ]
    report = render_junit(evaluation(*results), "credit-scoring", timestamp=AT, seconds=1.5)
    schema = junit_schema(xsd)
    assert schema.validate(etree.fromstring(report.encode("utf-8"))), str(schema.error_log)


@given(st.text())
def test_junit_parses_whatever_the_reason_and_ids_hold(text: str) -> None:
    """Characters XML cannot carry (controls, lone surrogates) never make the report unparsable."""
    report = render_junit(evaluation(result(text or "x", Status.FAILED, text)), text, timestamp=AT)
    suite = ET.fromstring(report.encode("utf-8")).find("testsuite")
    assert suite is not None and suite.get("failures") == "1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("a & b", "a &amp; b"),
        ("&lt;", "&amp;lt;"),
        ("a | b", "a \\| b"),
        ("a \\| b", "a \\\\\\| b"),
        ("one\ntwo\r\nthree", "one two three"),
        ('say "hi"', 'say "hi"'),
    ],
)
def test_cell_escapes_html_pipes_and_newlines(text: str, expected: str) -> None:
    assert cell(text) == expected


@given(st.text())
def test_cell_never_lets_a_tag_a_pipe_or_a_line_through(text: str) -> None:
    """No `<` at all, and every pipe is preceded by an odd number of backslashes."""
    out = cell(text)
    assert "<" not in out and ">" not in out and "\n" not in out and "\r" not in out
    for i, char in enumerate(out):
        if char == "|":
            run = len(out[:i]) - len(out[:i].rstrip("\\"))
            assert run % 2 == 1


def test_markdown_escapes_the_heading_and_every_cell() -> None:
    """A hostile version, criterion id, reason and observed value appear only escaped."""
    hostile = evaluation(
        result(
            "x<b>|",
            Status.PENDING,
            "eval/<script>x|y</script>.json is not attached yet",
            observed={"file": "<svg onload=alert(1)>"},
            expected="a & b",
        )
    )
    text = render_markdown(hostile, "credit<i>", "<img src=x onerror=alert(1)>")
    heading, *_, row = text.splitlines()
    assert heading == ("## credit&lt;i&gt; &lt;img src=x onerror=alert(1)&gt;: **NO-GO**")
    assert "<" not in text and ">" not in text.replace("&gt;", "")
    assert "| x&lt;b&gt;\\| | metric |" in row
    assert "file: &lt;svg onload=alert(1)&gt;" in row
    assert "a &amp; b" in row
    assert "eval/&lt;script&gt;x\\|y&lt;/script&gt;.json" in row
    assert row.count(" | ") == 5  # six cells, no more


def test_markdown_has_one_row_per_criterion_with_status_and_advisory() -> None:
    lines = render_markdown(MIXED, "credit-scoring", "2.4.0").splitlines()
    assert lines[0] == "## credit-scoring 2.4.0: **NO-GO**"
    assert f"Candidate `{CANDIDATE}`" in lines
    rows = lines[6:]
    assert len(rows) == 6
    assert rows[0].startswith("| auc | metric | ✅ passed |")
    assert rows[4].startswith("| drift (advisory) | metric | ❌ failed |")


def commonmark(text: str) -> str:
    return MarkdownIt("commonmark").render(text)


WITH_NEXT = evaluation(
    result("auc", Status.PASSED),
    result(
        "tests",
        Status.FAILED,
        "3 failures",
        next=(
            NextAction("rerun", "tests", path="reports/junit.xml"),
            NextAction("waive", "tests"),
        ),
    ),
    result(
        "uat",
        Status.PENDING,
        "not attested",
        advisory=True,
        next=(NextAction("attach", "uat", path="docs/uat.md", role="product-owner"),),
    ),
)


def test_markdown_lists_the_next_commands_of_each_criterion_after_the_table() -> None:
    """Criteria with next actions get their commands, for the plan file given, in plan order."""
    text = render_markdown(WITH_NEXT, "credit-scoring", "2.4.0", plan_file="ml/plan.yaml")
    steps = text.split("\n### Next steps\n\n", 1)[1].splitlines()
    assert steps == [
        "- **tests** (failed)",
        "  - `clearance evidence add reports/junit.xml --plan ml/plan.yaml --criterion tests`",
        "  - `clearance waive ml/plan.yaml --criterion tests --role ROLE --expires 14d -m WHY`",
        "- **uat (advisory)** (pending)",
        "  - `clearance evidence add docs/uat.md --plan ml/plan.yaml --criterion uat "
        "--role product-owner`",
    ]
    html = commonmark(text)
    assert "<li><strong>tests</strong> (failed)" in html
    assert "<code>clearance approve" not in html and html.count("<code>clearance ") == 3


def test_markdown_without_next_actions_has_no_next_steps() -> None:
    assert "Next steps" not in render_markdown(MIXED, "credit-scoring", "2.4.0")


def test_a_hostile_file_name_in_a_command_renders_only_as_code() -> None:
    """A file name with tags and backticks stays inside its code span: no element opens."""
    path = "eval/<script>alert(1)</script>`x``|<img src=x onerror=alert(1)>.json"
    hostile = evaluation(
        result("auc", Status.PENDING, "x", next=(NextAction("attach", "auc", path=path),))
    )
    html = commonmark(render_markdown(hostile, "s", "1"))
    assert "<script" not in html and "<img" not in html
    assert escapeHtml(path) in html


@given(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1)
)
def test_code_renders_exactly_its_text_whatever_it_holds(text: str) -> None:
    """In a CommonMark list item, a code span shows the text verbatim (lines joined by
    spaces): no backtick run closes it early and no space is stripped."""
    expected = escapeHtml(" ".join(text.splitlines()) or " ")
    assert commonmark(f"- {code(text)}") == f"<ul>\n<li><code>{expected}</code></li>\n</ul>\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "—"),
        ("text", "text"),
        (True, "true"),
        (0.5, "0.5"),
        (3, "3"),
        ({"a": 1, "b": [1, 2]}, "a: 1\nb: [1,2]"),
        (["x", None], "x, null"),
        ("y" * 100, "y" * 79 + "…"),
    ],
)
def test_brief_gives_short_human_forms(value: object, expected: str) -> None:
    assert brief(value) == expected


def test_scalar_writes_nested_values_as_compact_json() -> None:
    assert scalar({"k": [1, "v"]}) == '{"k":[1,"v"]}'


def test_check_format_markdown_escapes_the_plan_and_file_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`clearance check --format markdown` with a hostile version and evidence file name
    prints them escaped and still exits 1 (NO-GO)."""
    from clearance.cli.main import main
    from clearance.cli.output import console
    from tests.builders import plan_document, write_plan_folder

    document = plan_document()
    document["release"]["version"] = "<img src=x onerror=alert(1)>"
    document["criteria"][0]["evidence"] = "eval/<script>x|y</script>.json"
    for name in list(os.environ):
        if name.startswith("CLEARANCE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    write_plan_folder(tmp_path, document=document)

    def run(*args: str) -> tuple[int, str]:
        console.cache_clear()
        with click.testing.CliRunner().isolation() as (out, _err, _):
            with pytest.raises(SystemExit) as exit_:
                main(list(args))
            return int(exit_.value.code or 0), out.getvalue().decode()

    assert run("init")[0] == 0
    assert run("env", "declare", "production")[0] == 0
    status, text = run("check", "plan.yaml", "--format", "markdown")
    assert status == 1
    assert "## credit-scoring &lt;img src=x onerror=alert(1)&gt;: **NO-GO**" in text
    assert "eval/&lt;script&gt;x\\|y&lt;/script&gt;.json is not attached yet" in text
    table, steps = text.split("### Next steps", 1)
    assert "<script>" not in table and "<img" not in table
    assert (
        "- `clearance evidence add 'eval/<script>x|y</script>.json' --plan plan.yaml "
        "--criterion auc`"
    ) in steps
    html = commonmark(text)
    assert "<script" not in html and "<img" not in html


def table_text(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    from clearance.cli.gate import show_table
    from clearance.cli.output import console

    monkeypatch.setenv("COLUMNS", "300")
    console.cache_clear()
    try:
        show_table(WITH_NEXT, "credit-scoring", "2.4.0")
    finally:
        console.cache_clear()
    return capsys.readouterr().out


def test_table_shows_the_next_commands_under_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under each reason, one `next:` line per action, for the plan the command was given."""
    from clearance.cli.gate import check

    with click.Context(check) as ctx:
        ctx.params["plan"] = "ml/plan.yaml"
        text = table_text(monkeypatch, capsys)
    lines = [line.strip(" │┃|") for line in text.splitlines()]
    found = [line.split("next: ", 1)[1].rstrip(" │") for line in lines if "next: " in line]
    assert found == [
        "clearance evidence add reports/junit.xml --plan ml/plan.yaml --criterion tests",
        "clearance waive ml/plan.yaml --criterion tests --role ROLE --expires 14d -m WHY",
        "clearance evidence add docs/uat.md --plan ml/plan.yaml --criterion uat --role "
        "product-owner",
    ]


def test_table_outside_a_command_names_the_plan_as_a_placeholder(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = table_text(monkeypatch, capsys)
    assert "next: clearance approve" not in text
    assert "next: clearance evidence add reports/junit.xml --plan PLAN --criterion tests" in text
