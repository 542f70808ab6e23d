"""Next actions as `clearance` commands and as links to the pages that offer them: the command
for each kind, one line that the shell reads back as the same arguments whatever a name
holds, and links that carry the action's details."""

from __future__ import annotations

import os
import shlex
import subprocess
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.core.results import NextAction
from clearance.exports.nextactions import as_command, as_link, shell_word

PLAN = "plan.yaml"
#: text a YAML plan can hold: any character but NUL (argv cannot carry it) and lone surrogates
names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1
)


@pytest.mark.parametrize(
    ("action", "command"),
    [
        pytest.param(
            NextAction("attach", "uat", path="docs/uat.md", role="product-owner"),
            "clearance evidence add docs/uat.md --plan plan.yaml --criterion uat "
            "--role product-owner",
            id="attach-attested",
        ),
        pytest.param(
            NextAction("attach", "auc", path="eval/metrics.json"),
            "clearance evidence add eval/metrics.json --plan plan.yaml --criterion auc",
            id="attach",
        ),
        pytest.param(
            NextAction("attach", "tests"),
            "clearance evidence add FILE --plan plan.yaml --criterion tests",
            id="attach-any-file",
        ),
        pytest.param(
            NextAction("update_evidence", "risks", path="risks.yaml"),
            "clearance evidence add risks.yaml --plan plan.yaml --criterion risks",
            id="update-evidence",
        ),
        pytest.param(
            NextAction("rerun", "tests", path="reports/junit.xml"),
            "clearance evidence add reports/junit.xml --plan plan.yaml --criterion tests",
            id="rerun",
        ),
        pytest.param(
            NextAction("rehearse", "rollback-ready", path="rehearsal.yaml"),
            "clearance evidence add rehearsal.yaml --plan plan.yaml --criterion rollback-ready",
            id="rehearse",
        ),
        pytest.param(
            NextAction("approve", "signoff", role="model-risk"),
            "clearance approve plan.yaml --role model-risk",
            id="approve",
        ),
        pytest.param(
            NextAction("withdraw", "signoff", role="model-risk", person="dana"),
            "clearance withdraw plan.yaml --role model-risk",
            id="withdraw",
        ),
        pytest.param(
            NextAction("waive", "auc"),
            "clearance waive plan.yaml --criterion auc --role ROLE --expires 14d -m WHY",
            id="waive-role-left-to-policy",
        ),
        pytest.param(
            NextAction("waive", "auc", role="risk-officer"),
            "clearance waive plan.yaml --criterion auc --role risk-officer --expires 14d -m WHY",
            id="waive-in-role",
        ),
        pytest.param(
            NextAction("fix_plan", "env", field="criteria[id=env].acknowledge"),
            "clearance plan validate plan.yaml  # after editing criteria[id=env].acknowledge",
            id="fix-plan",
        ),
    ],
)
def test_each_kind_renders_as_its_command(action: NextAction, command: str) -> None:
    assert as_command(action, PLAN) == command


def test_names_are_quoted_for_the_shell() -> None:
    """A plan or file name with spaces or shell syntax stays one argument and runs nothing."""
    action = NextAction("attach", "uat", path="docs/UAT report; rm -rf ~.md")
    command = as_command(action, "my plans/plan $(id).yaml")
    assert shlex.split(command) == [
        "clearance",
        "evidence",
        "add",
        "docs/UAT report; rm -rf ~.md",
        "--plan",
        "my plans/plan $(id).yaml",
        "--criterion",
        "uat",
    ]


def test_a_name_starting_with_a_dash_is_not_taken_for_an_option() -> None:
    action = NextAction("attach", "uat", path="-uat.md")
    assert shlex.split(as_command(action, "-plan.yaml"))[3:6] == [
        "./-uat.md",
        "--plan",
        "./-plan.yaml",
    ]


def bash_words(command: str) -> list[str]:
    """The arguments a real bash passes for `command` (its `clearance` replaced by printf)."""
    assert command.startswith("clearance ")
    script = "printf '%s\\0' " + command.removeprefix("clearance ")
    out = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        check=True,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    ).stdout
    return out.decode("utf-8").split("\0")[:-1]


@pytest.mark.parametrize(
    "path",
    ["a\nb.md", "tab\there", "bell\x07", "nbsp\xa0.md", "line\u2028sep", "it's", "back\\slash"],
)
def test_a_name_with_control_characters_stays_one_line_and_one_argument(path: str) -> None:
    """Newlines and other unprintable characters are escaped, and bash reads them back."""
    command = as_command(NextAction("attach", "uat", path=path), PLAN)
    assert command.isprintable()
    assert bash_words(command)[2] == path


@settings(max_examples=60, deadline=None)
@given(path=names, plan=names)
def test_bash_reads_back_exactly_the_arguments(path: str, plan: str) -> None:
    """For any file and plan name, the rendered command is one printable line that bash
    splits into exactly the intended arguments."""
    command = as_command(NextAction("attach", "uat", path=path, role="product-owner"), plan)
    assert command.isprintable()
    file_arg = "./" + path if path.startswith("-") else path
    plan_arg = "./" + plan if plan.startswith("-") else plan
    assert bash_words(command) == [
        "evidence",
        "add",
        file_arg,
        "--plan",
        plan_arg,
        "--criterion",
        "uat",
        "--role",
        "product-owner",
    ]


def test_shell_word_leaves_plain_words_alone() -> None:
    assert shell_word("docs/uat.md") == "docs/uat.md"
    assert shell_word("a b") == "'a b'"
    assert shell_word("a\nb") == "$'a\\x0ab'"


def test_a_plan_field_with_a_newline_stays_in_the_comment() -> None:
    """The place to edit is shown in a comment; a newline in it cannot start a new command."""
    action = NextAction("fix_plan", "env", field="environments.prod\nrm -rf ~")
    command = as_command(action, PLAN)
    assert "\n" not in command
    assert command.startswith("clearance plan validate plan.yaml  # after editing $'")


@pytest.mark.parametrize(
    ("action", "base", "link"),
    [
        pytest.param(
            NextAction("attach", "uat", path="docs/uat.md", role="product-owner"),
            "/releases/sha256:ab",
            "/releases/sha256:ab/criteria/uat?path=docs%2Fuat.md&role=product-owner#attach",
            id="attach",
        ),
        pytest.param(
            NextAction("approve", "signoff", role="model-risk"),
            "/releases/sha256:ab/",
            "/releases/sha256:ab/criteria/signoff?role=model-risk#approve",
            id="trailing-slash",
        ),
        pytest.param(
            NextAction("waive", "auc"),
            "https://clearance.example.com/releases/sha256:ab",
            "https://clearance.example.com/releases/sha256:ab/criteria/auc#waive",
            id="absolute-base-no-query",
        ),
        pytest.param(
            NextAction("fix_plan", "env", field="criteria[id=env].acknowledge"),
            "/releases/x",
            "/releases/x/criteria/env?field=criteria%5Bid%3Denv%5D.acknowledge#fix-plan",
            id="fix-plan",
        ),
        pytest.param(
            NextAction("withdraw", "signoff", role="model-risk", person="dana"),
            "/releases/x",
            "/releases/x/criteria/signoff?role=model-risk&person=dana#withdraw",
            id="withdraw",
        ),
    ],
)
def test_links_point_at_the_criterion_with_the_action_as_fragment(
    action: NextAction, base: str, link: str
) -> None:
    assert as_link(action, base) == link


@given(
    criterion=names,
    path=names,
    kind=st.sampled_from(["attach", "update_evidence", "rerun", "rehearse"]),
)
def test_a_link_carries_the_action_whatever_its_names_hold(
    criterion: str, path: str, kind: str
) -> None:
    """The criterion stays one path segment and the file one query value, read back intact."""
    action = NextAction(kind, criterion, path=path)  # type: ignore[arg-type]
    parts = urlsplit(as_link(action, "/releases/sha256:ab"))
    prefix, _, segment = parts.path.rpartition("/")
    assert prefix == "/releases/sha256:ab/criteria"
    assert unquote(segment) == criterion
    assert parse_qs(parts.query) == {"path": [path]}
    assert parts.fragment == kind.replace("_", "-")
